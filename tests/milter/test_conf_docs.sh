#!/bin/sh
# test_conf_docs.sh - the key table in src/milter/conf.c (printed by
# `gptmilter --dump-keys`) against its documentation: every key must appear
# in conf/gptmilter.conf (in its group, with its default) and in
# man/gptmilter.conf.5.in; the sample file, uncommented, must parse and give
# exactly the built-in defaults.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
GPTMILTER="${GPTMILTER:-$top_builddir/src/milter/gptmilter}"
sample="$top_srcdir/conf/gptmilter.conf"
man5="$top_srcdir/man/gptmilter.conf.5.in"
[ -x "$GPTMILTER" ] || die "$GPTMILTER not built"

. "$top_srcdir/tests/lib.sh"
workdir conf_docs

"$GPTMILTER" --dump-keys > "$tmp/keys" || die "--dump-keys"
n=$(wc -l < "$tmp/keys")
[ "$n" -ge 20 ] || die "only $n keys"
# the sample as make install writes it: @LOCALSTATEDIR@ is the configured
# one, which the built-in memory.spool names (as feedback.mk's spool)
lsd=$(sed -n 's|^memory\.spool	[a-z]*	"\(.*\)/lib/gptmilter/feedback"	.*|\1|p' "$tmp/keys")
[ -n "$lsd" ] || die "memory.spool's default is not LOCALSTATEDIR/lib/gptmilter/feedback"
sed "s|@LOCALSTATEDIR@|$lsd|g" "$top_srcdir/conf/gptmilter.conf" > "$tmp/sample.conf"
sample="$tmp/sample.conf"

# the sample's (commented) settings as "group.key = value" lines
awk '
	/^[ \t]*[a-z_]+:[ \t]*\{/ { sub(/^[ \t]*/, ""); sub(/:.*/, ""); group = $0 "."; next }
	/^[ \t]*\};/ { group = ""; next }
	/^[ \t]*#[a-z_]+ = / {
		line = $0; sub(/^[ \t]*#/, "", line); sub(/;[ \t]*$/, "", line)
		print group line
	}
' "$sample" > "$tmp/sample"

while IFS="$(printf '\t')" read -r name type def doc; do
	grep -qxF "$name = $def" "$tmp/sample" || {
		[ "$name" = model ] && grep -q '^model = "' "$tmp/sample" ||
		fail "$name = $def is not in conf/gptmilter.conf"
	}
	grep -qE "^\.BR? $name( |\$)" "$man5" ||
		fail "$name is not documented in man/gptmilter.conf.5.in"
done < "$tmp/keys"

# the keys a reload keeps (marked "(restart)" in the table) are the ones
# the man page lists as taking effect only at the next start
sed -n '/^On SIGHUP/,/take effect only at the next start/p' "$man5" |
	sed -n 's/^\.BR\? \([a-z_.]*\).*/\1/p' | sort > "$tmp/man_restart"
grep '(restart)$' "$tmp/keys" | cut -f1 | sort > "$tmp/restart"
[ -s "$tmp/restart" ] && cmp -s "$tmp/restart" "$tmp/man_restart" || {
	echo "FAIL: restart-only keys differ from gptmilter.conf(5):"
	diff "$tmp/restart" "$tmp/man_restart"; fail=1; }

# no stale key in the sample
cut -d' ' -f1 "$tmp/sample" | while read -r name; do
	cut -f1 "$tmp/keys" | grep -qxF "$name" ||
		die "conf/gptmilter.conf has unknown key $name"
done || fail "stale keys in conf/gptmilter.conf"

# uncommented, the sample parses and equals the defaults (model aside:
# its default depends on --datadir)
sed 's/^\([ \t]*\)#\([a-z_]* = \)/\1\2/' "$sample" > "$tmp/all.conf"
: > "$tmp/empty.conf"
"$GPTMILTER" -c "$tmp/all.conf" --dump-config > "$tmp/all.out" 2>&1 ||
	{ fail "the uncommented sample does not load:"; cat "$tmp/all.out"; }
"$GPTMILTER" -c "$tmp/empty.conf" --dump-config > "$tmp/empty.out" 2>&1 ||
	fail "an empty file does not load"
if ! diff "$tmp/empty.out" "$tmp/all.out" | grep '^[<>]' | grep -v '^[<>] model = '; then
	:
else
	fail "the sample's values differ from the built-in defaults"
fi

[ $fails -eq 0 ] && echo "PASS: $n configuration keys documented"
finish test_conf_docs
