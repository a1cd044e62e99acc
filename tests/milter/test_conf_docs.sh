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
[ -x "$GPTMILTER" ] || { echo "FAIL: $GPTMILTER not built"; exit 1; }

tmp="$top_builddir/tests/tmp/conf_docs.$$"
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

"$GPTMILTER" --dump-keys > "$tmp/keys" || { echo "FAIL: --dump-keys"; exit 1; }
n=$(wc -l < "$tmp/keys")
[ "$n" -ge 20 ] || { echo "FAIL: only $n keys"; exit 1; }

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
		{ echo "FAIL: $name = $def is not in conf/gptmilter.conf"; fail=1; }
	}
	grep -qE "^\.BR? $name( |\$)" "$man5" ||
		{ echo "FAIL: $name is not documented in man/gptmilter.conf.5.in"; fail=1; }
done < "$tmp/keys"

# no stale key in the sample
cut -d' ' -f1 "$tmp/sample" | while read -r name; do
	cut -f1 "$tmp/keys" | grep -qxF "$name" ||
		{ echo "FAIL: conf/gptmilter.conf has unknown key $name"; exit 1; }
done || fail=1

# uncommented, the sample parses and equals the defaults (model aside:
# its default depends on --datadir)
sed 's/^\([ \t]*\)#\([a-z_]* = \)/\1\2/' "$sample" > "$tmp/all.conf"
: > "$tmp/empty.conf"
"$GPTMILTER" -c "$tmp/all.conf" --dump-config > "$tmp/all.out" 2>&1 ||
	{ echo "FAIL: the uncommented sample does not load:"; cat "$tmp/all.out"; fail=1; }
"$GPTMILTER" -c "$tmp/empty.conf" --dump-config > "$tmp/empty.out" 2>&1 ||
	{ echo "FAIL: an empty file does not load"; fail=1; }
if ! diff "$tmp/empty.out" "$tmp/all.out" | grep '^[<>]' | grep -v '^[<>] model = '; then
	:
else
	echo "FAIL: the sample's values differ from the built-in defaults"
	fail=1
fi

[ $fail -eq 0 ] && echo "PASS: $n configuration keys documented"
exit $fail
