# tests/lib.sh - sourced by every shell test: the failure counter, the words
# a test reports with, its work directory and its ending.
#	. "$top_srcdir/tests/lib.sh"
#	fail MSG	a failed check: "FAIL: MSG" on stderr, counted; goes on
#	die MSG		a failure the test cannot go past: "FAIL: MSG", exit 1
#	ok MSG		a passed check worth a line: "ok: MSG"
#	workdir NAME	$tmp: a fresh $top_builddir/tests/tmp/NAME.PID, removed
#			on exit unless a check failed or KEEP is set
#	finish NAME	the last line: "NAME: ok" and exit 0, or
#			"NAME: N failure(s)" and exit 1
# shellcheck shell=sh
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

workdir() {
	tmp="$top_builddir/tests/tmp/$1.$$"
	rm -rf "$tmp" && mkdir -p "$tmp" || die "cannot make $tmp"
	trap 'if [ $fails -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi' EXIT
}

finish() {
	if [ $fails -eq 0 ]; then
		echo "$1: ok"
		exit 0
	fi
	echo "$1: $fails failure(s)"
	exit 1
}
