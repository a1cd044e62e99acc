#!/bin/sh
# test_pool.sh - make two tiny models, run tests/milter/test_pool on them
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
. "$top_srcdir/tests/lib.sh"
workdir pool
for s in 31 32; do
	"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$tmp/m$s" \
		--layers 2 --heads 2 --embd 32 --ctx 64 --labels ham,spam \
		--seed $s >/dev/null || die "gen_tiny_model.py"
done
"$top_builddir/tests/milter/test_pool" "$tmp/m31" "$tmp/m32"
