#!/bin/sh
# test_bpe_parity.sh - src/core/bpe.c gives, id for id, the ids of the
# reference GPT-2 encoder (npm gpt-3-encoder, run by tests/bpe_ref.js) on
# every message of the standard corpus ($CORPUS_DIR, the whole .eml file as
# one UTF-8 text) and on the hard strings of tests/data/bpe/hard.jsonl (one
# JSON string per line: emoji, CJK, marks, RTL, odd whitespace,
# contractions, digits, "<|endoftext|>", ...).
# C side: tests/bpe_dump; both write one line of ids per text, compared
# with cmp.  Exits 77 (SKIP, said on stderr) only without node or the npm
# package; any difference is a failure naming the text and the first id.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${CORPUS_DIR:?}" "${TESTDATA:?}"
: "${NODE_MODULES:?}"
. "$top_srcdir/tests/lib.sh"
enc="$NODE_MODULES/gpt-3-encoder"
if [ -z "${NODE:-}" ] || [ ! -f "$enc/Encoder.js" ]; then
	echo "test_bpe_parity: SKIP: needs node (NODE='${NODE:-}') and" \
		"$enc (see contrib/install-deps.sh)" >&2
	exit 77
fi
dump="$top_builddir/tests/bpe_dump"
[ -x "$dump" ] || die "no $dump"
[ -f "$CORPUS_DIR/index.tsv" ] || die "no corpus: $CORPUS_DIR/index.tsv"

work=$(mktemp -d "$top_builddir/tests/bpe-parity.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# compare NAME C_OUT JS_OUT LIST: report the texts whose ids differ
compare() {
	name=$1; c=$2; js=$3; list=$4
	nc=$(wc -l <"$c"); njs=$(wc -l <"$js"); nlist=$(wc -l <"$list")
	ids=$(wc -w <"$c")
	if cmp -s "$c" "$js" && [ "$nc" -eq "$nlist" ]; then
		echo "bpe parity: $name: $nc texts, $ids ids, 0 mismatches"
		return 0
	fi
	echo "bpe parity: $name: C $nc lines, node $njs lines," \
		"$nlist texts" >&2
	awk 'NR == FNR { js[FNR] = $0; next }
	     {
		if (js[FNR] == $0) next
		bad++
		if (bad > 5) next
		n = split($0, a, " "); m = split(js[FNR], b, " ")
		for (i = 1; i <= n || i <= m; i++) if (a[i] != b[i]) break
		printf "  text %d: first difference at id %d: C %s node %s\n",
			FNR, i, a[i], b[i]
	     }
	     END { printf "  %d mismatches\n", bad }' "$js" "$c" >&2
	return 1
}

rc=0

# Hard strings.
hard="$TESTDATA/bpe/hard.jsonl"
"$dump" "$enc/encoder.json" "$enc/vocab.bpe" --jsonl "$hard" \
	>"$work/hard.c" || die "bpe_dump on $hard"
"$NODE" "$top_srcdir/tests/bpe_ref.js" --jsonl "$hard" >"$work/hard.js" ||
	die "node on $hard"
compare hard.jsonl "$work/hard.c" "$work/hard.js" "$hard" || rc=1

# The corpus: the "path" column of index.tsv, relative to CORPUS_DIR.
awk -F '\t' -v dir="$CORPUS_DIR" '
	NR == 1 { for (i = 1; i <= NF; i++) if ($i == "path") col = i; next }
	col { print dir "/" $col }' "$CORPUS_DIR/index.tsv" >"$work/list"
n=$(wc -l <"$work/list")
[ "$n" -gt 1000 ] || die "only $n messages in $CORPUS_DIR/index.tsv"
start=$(date +%s)
"$dump" "$enc/encoder.json" "$enc/vocab.bpe" --files "$work/list" \
	>"$work/corpus.c" 2>"$work/corpus.err" || die "bpe_dump on the corpus"
echo "bpe parity: C encoded the corpus in $(($(date +%s) - start)) s"
if [ -s "$work/corpus.err" ]; then
	# node would read U+FFFD where C keeps the bytes: not comparable
	cat "$work/corpus.err" >&2
	die "corpus files that are not UTF-8"
fi
"$NODE" "$top_srcdir/tests/bpe_ref.js" --files "$work/list" \
	>"$work/corpus.js" || die "node on the corpus"
compare corpus "$work/corpus.c" "$work/corpus.js" "$work/list" || rc=1

exit $rc
