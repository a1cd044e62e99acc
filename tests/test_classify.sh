#!/bin/sh
# test_classify.sh - gptmilter-classify end to end on tiny generated models:
# probabilities against the independent forward pass (tests/gpt_ref.py)
# for the ids the program reads, batched == one at a time, the output
# formats, bogofilter-style exit statuses, and clear errors on bad bundles.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
CLASSIFY="$top_builddir/src/classify/gptmilter-classify"
DATA="$top_srcdir/tests/data/classify"
. "$top_srcdir/tests/lib.sh"
workdir classify

gen() { "$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --layers 2 --heads 2 \
	--embd 32 --ctx 64 --labels ham,spam --seed 7 "$@" >/dev/null || exit 1; }
gen --out "$tmp/m"
msgs="$DATA/ham1.eml $DATA/spam1.eml $DATA/empty.eml $DATA/garbage.eml"

# 1. The probabilities are those of the reference forward pass on the ids
#    the program says it reads.
"$CLASSIFY" -m "$tmp/m" --dump-tokens $msgs > "$tmp/ids.tsv" || fail "dump-tokens exit $?"
"$CLASSIFY" -m "$tmp/m" --json $msgs > "$tmp/out.json"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 1 ] || fail "classify exit $rc"
"$PYTHON3" - "$tmp/m" "$tmp/ids.tsv" "$tmp/out.json" "$top_srcdir/tests" <<'PY' || fail "probabilities differ from the reference"
import json, sys
sys.path.insert(0, sys.argv[4])
import numpy as np
import gpt_ref
model, ids_path, out_path = sys.argv[1:4]
ref = gpt_ref.load(model)
rows = [l.rstrip("\n").split("\t") for l in open(ids_path)]
outs = [json.loads(l) for l in open(out_path)]
assert len(rows) == len(outs) == 4, (len(rows), len(outs))
for (name, ids), o in zip(rows, outs):
    ids = [int(x) for x in ids.split()]
    assert 1 <= len(ids) <= 64 and o["tokens"] == len(ids), (name, len(ids))
    logits = gpt_ref.classify(ref, ids)
    p = np.exp(logits - logits.max()); p /= p.sum()
    got = np.array([o["probabilities"]["ham"], o["probabilities"]["spam"]])
    err = np.abs(p - got).max()
    print(name, "ref", p, "got", got, "err", err)
    assert err < 1e-4, name
    assert o["file"] == name and abs(o["spam_probability"] - got[1]) < 1e-12
PY
[ $fails -eq 0 ] && ok "probabilities match the reference"

# 2. Batched and one at a time agree (plain output, 4 decimals).
"$CLASSIFY" -m "$tmp/m" -b 1 $msgs > "$tmp/b1.txt"
"$CLASSIFY" -m "$tmp/m" -b 8 $msgs > "$tmp/b8.txt"
cmp -s "$tmp/b1.txt" "$tmp/b8.txt" && [ "$(wc -l < "$tmp/b8.txt")" -eq 4 ] &&
	ok "batch 1 == batch 8" || fail "batch 1 and batch 8 differ"

# 2b. Threads score batches side by side (rounds of several batches each):
#     the lines come out in the order named and with the same scores as one
#     thread's, over more batches than a round holds.
many=
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do many="$many $msgs"; done
"$CLASSIFY" -m "$tmp/m" -T 1 -b 2 $many > "$tmp/t1.txt"
"$CLASSIFY" -m "$tmp/m" -T 3 -b 2 $many > "$tmp/t3.txt"
cmp -s "$tmp/t1.txt" "$tmp/t3.txt" && [ "$(wc -l < "$tmp/t3.txt")" -eq 52 ] &&
	[ "$(head -4 "$tmp/t3.txt")" = "$(cat "$tmp/b8.txt")" ] &&
	ok "3 threads == 1 thread, in order" || fail "3 threads and 1 thread differ"

# 3. Standard input is one message, named "-".
"$CLASSIFY" -m "$tmp/m" < "$DATA/ham1.eml" > "$tmp/stdin.txt"
grep -q "^-	" "$tmp/stdin.txt" && [ "$(cut -f3 "$tmp/stdin.txt")" = "$(sed -n 1p "$tmp/b8.txt" | cut -f3)" ] &&
	ok "stdin" || fail "stdin result differs: $(cat "$tmp/stdin.txt")"

# 4. Exit statuses as bogofilter's: threshold 0 makes all spam (0),
#    above 1 all ham (1), an unreadable file makes 3 but the rest are scored.
"$CLASSIFY" -m "$tmp/m" -t 0 $msgs >/dev/null; rc=$?
[ $rc -eq 0 ] && ok "exit 0 for spam" || fail "threshold 0: exit $rc, want 0"
"$CLASSIFY" -m "$tmp/m" -t 1.01 $msgs > "$tmp/ham.txt"; rc=$?
[ $rc -eq 1 ] && [ "$(cut -f2 "$tmp/ham.txt" | sort -u)" = "ham" ] &&
	ok "exit 1 for ham" || fail "threshold 1.01: exit $rc, want 1"
"$CLASSIFY" -m "$tmp/m" "$DATA/ham1.eml" "$tmp/no-such.eml" > "$tmp/err.txt" 2> "$tmp/err.log"; rc=$?
[ $rc -eq 3 ] && grep -q "no-such.eml" "$tmp/err.log" && [ "$(wc -l < "$tmp/err.txt")" -eq 1 ] &&
	ok "exit 3 on an unreadable file, others scored" || fail "unreadable file: exit $rc"

# 5. A threshold recorded in the model is the default.
gen --out "$tmp/m0" --threshold 0.0
"$CLASSIFY" -m "$tmp/m0" "$DATA/ham1.eml" >/dev/null; rc=$?
[ $rc -eq 0 ] && ok "model threshold used" || fail "model threshold 0 ignored: exit $rc"

# 6. --dump-text shows the extracted text, not the raw message.
"$CLASSIFY" -m "$tmp/m" --dump-text "$DATA/spam1.eml" > "$tmp/text.txt"; rc=$?
[ $rc -eq 0 ] && grep -q "^Subject: You WON \$1,000,000!!!" "$tmp/text.txt" &&
	! grep -q "<html>" "$tmp/text.txt" && ok "dump-text" ||
	fail "dump-text (exit $rc): $(head -3 "$tmp/text.txt")"

# 7. Bad bundles: a clear message naming the problem, exit 3, no crash.
bad() { # NAME MODEL_DIR EXPECTED_SUBSTRING
	"$CLASSIFY" -m "$2" "$DATA/ham1.eml" > /dev/null 2> "$tmp/bad.log"; rc=$?
	if [ $rc -eq 3 ] && grep -q -- "$3" "$tmp/bad.log"; then
		ok "bad bundle: $1"
	else
		fail "bad bundle $1: exit $rc, stderr: $(cat "$tmp/bad.log")"
	fi
}
bad "missing directory" "$tmp/nothing" "nothing"
gen --out "$tmp/notok" --no-tokenizer
bad "missing tokenizer" "$tmp/notok" "tokenizer"
gen --out "$tmp/lm" --lm
bad "no classifier head" "$tmp/lm" "classifier"
gen --out "$tmp/trunc"
head -c 2000 "$tmp/m/model.safetensors" > "$tmp/trunc/model.safetensors"
bad "truncated safetensors" "$tmp/trunc" "model.safetensors"
gen --out "$tmp/json"
echo '{"n_layer": 2,' > "$tmp/json/config.json"
bad "invalid config.json" "$tmp/json" "config.json"

# 8. --json stays valid JSON whatever the file name and the error: a
#    quote, a control character and a byte that is not UTF-8 (g_strescape,
#    used before, wrote \001 and \377, which JSON does not have).
odd="$tmp/$(printf 'odd"\001\377name').eml"
"$CLASSIFY" -m "$tmp/m" --json "$DATA/ham1.eml" "$odd" > "$tmp/odd.json" 2>/dev/null; rc=$?
if [ $rc -eq 3 ] && "$PYTHON3" - "$tmp/odd.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(rows) == 2, rows
scored = [r for r in rows if "label" in r]
errors = [r for r in rows if "error" in r]
assert len(scored) == 1 and scored[0]["file"].endswith("ham1.eml"), rows
e = errors[0]
assert e["file"].endswith("name.eml") and "odd\"\x01" in e["file"], e
assert "No such file" in e["error"], e
PY
then ok "--json is valid JSON for odd names and errors"
else fail "--json with an odd unreadable name (exit $rc): $(cat "$tmp/odd.json")"; fi

# 9. Directories as gptmilter-train reads them: a Maildir (cur/ and new/,
#    not tmp/) and a tree holding an mbox of two messages; every message
#    is scored as its own file is, duplicates included; a file the reader
#    skips is named and makes the exit status 3.
mkdir -p "$tmp/md/cur" "$tmp/md/new" "$tmp/md/tmp" "$tmp/tree/sub"
cp "$DATA/ham1.eml" "$tmp/md/cur/1.host:2,S"
cp "$DATA/spam1.eml" "$tmp/md/new/2.host"
cp "$DATA/spam1.eml" "$tmp/md/tmp/3.host"
{ echo "From a@example.org Mon Jan  1 00:00:00 2024"; cat "$DATA/ham1.eml"; echo
  echo "From b@example.org Mon Jan  1 00:00:00 2024"; cat "$DATA/spam1.eml"; } > "$tmp/tree/sub/box"
cp "$DATA/ham1.eml" "$tmp/tree/copy.eml"
"$CLASSIFY" -m "$tmp/m" "$tmp/md" "$tmp/tree" > "$tmp/dirs.txt" 2> "$tmp/dirs.log"; rc=$?
p_ham=$(sed -n 1p "$tmp/b8.txt" | cut -f3); p_spam=$(sed -n 2p "$tmp/b8.txt" | cut -f3)
want="$tmp/md/cur/1.host:2,S	$p_ham
$tmp/md/new/2.host	$p_spam
$tmp/tree/copy.eml	$p_ham
$tmp/tree/sub/box:1	$p_ham
$tmp/tree/sub/box:2	$p_spam"
got=$(cut -f1,3 "$tmp/dirs.txt")
[ "$got" = "$want" ] && [ $rc -eq 0 ] || [ $rc -eq 1 ] && [ "$got" = "$want" ] &&
	ok "a Maildir and a tree with an mbox" ||
	fail "directories (exit $rc): $(cat "$tmp/dirs.txt" "$tmp/dirs.log")"
printf 'not mail\n' > "$tmp/tree/junk"
"$CLASSIFY" -m "$tmp/m" "$tmp/tree" > "$tmp/dirs2.txt" 2> "$tmp/dirs2.log"; rc=$?
[ $rc -eq 3 ] && grep -q "$tmp/tree/junk: not a mail message" "$tmp/dirs2.log" &&
	[ "$(wc -l < "$tmp/dirs2.txt")" -eq 3 ] && ok "a skipped file in a directory is named, exit 3" ||
	fail "skipped file (exit $rc): $(cat "$tmp/dirs2.log")"

# 10. Empty input (a 0-byte file, empty standard input) is refused with a
#     message, not scored.
: > "$tmp/empty0.eml"
"$CLASSIFY" -m "$tmp/m" "$tmp/empty0.eml" > "$tmp/e.txt" 2> "$tmp/e.log"; rc=$?
[ $rc -eq 3 ] && [ ! -s "$tmp/e.txt" ] && grep -q "empty0.eml: empty input" "$tmp/e.log" &&
	ok "an empty file is refused" || fail "empty file (exit $rc): $(cat "$tmp/e.txt" "$tmp/e.log")"
"$CLASSIFY" -m "$tmp/m" < /dev/null > "$tmp/e.txt" 2> "$tmp/e.log"; rc=$?
[ $rc -eq 3 ] && [ ! -s "$tmp/e.txt" ] && grep -q "standard input: empty input" "$tmp/e.log" &&
	ok "empty standard input is refused" || fail "empty stdin (exit $rc): $(cat "$tmp/e.txt" "$tmp/e.log")"

finish test_classify
