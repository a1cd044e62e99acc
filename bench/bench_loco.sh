#!/bin/sh
# bench/bench_loco.sh - leave one corpus out: a fine-tuning recipe judged on
# whole sources of mail it never saw (issue 18).
#
# Owns: the folds and the table. Labelled sources: the standard corpus
# ("spamassassin", ham and spam), Ling-Spam (ham and spam) and the ham of
# four lists (r-help, r-devel, r-help-es, 20news), all exported by
# contrib/corpus-export.py and contrib/corpora-export.py. For each source S
# the recipe is fine-tuned on the train splits of every other source
# (validated on their val splits) and scores the val and test splits of S;
# one more run, "all", trains on every source and scores the phishing set
# (phishing_pot, CC BY-NC: evaluation only, never trained on). Per left-out
# source: the share of ham at or above the model's threshold and the
# reject threshold (false positives), the share of spam caught, with 95%
# Wilson intervals; `spamprobe` runs the same folds with Debian's spamprobe
# (its own verdict, and score >= REJECT) for the filter to beat.
#
# Usage (from a build directory):
#   sh ../bench/bench_loco.sh NAME CORPORA_DIR FINETUNE-OPTION...
#   sh ../bench/bench_loco.sh spamprobe CORPORA_DIR
#   sh ../bench/bench_loco.sh --report NAME...
# e.g. the default recipe's member from its base (model-work/base):
#   sh ../bench/bench_loco.sh member /tmp/corpora --base model-work/base \
#	--max-tokens 256 --trainable-blocks all --pooling mean --lr 3e-4 \
#	--schedule cosine --warmup 50 --epochs 3 --batch 8 --seed 1
# Environment: PER_SOURCE (at most this many training messages of each
#   ham-only list, default 1500, a deterministic sample; validation takes
#   a tenth as many), SA_MAX (the same for each class of the standard
#   corpus, default 0: all), JOBS (fine-tunes at a time, 1 BLAS thread
#   each, default 2), CORPUS_DIR (./corpus), WORK (./loco-work; a finished
#   fold is not run again), TRAIN, CLASSIFY, REJECT (0.995), PYTHON3.
set -eu
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
srcdir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=contrib/jobs.sh
. "$srcdir/contrib/jobs.sh"
# shellcheck source=bench/spamprobe.sh
. "$srcdir/bench/spamprobe.sh"
# shellcheck source=bench/classify.sh
. "$srcdir/bench/classify.sh"
usage() { sed -n '/^# Usage/,/PYTHON3\.$/p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
PER_SOURCE=${PER_SOURCE:-1500}
SA_MAX=${SA_MAX:-0}
JOBS=${JOBS:-2}
CORPUS_DIR=${CORPUS_DIR:-./corpus}
WORK=${WORK:-./loco-work}
TRAIN=${TRAIN:-./src/train/gptmilter-train}
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
REJECT=${REJECT:-0.995}
PYTHON3=${PYTHON3:-/usr/bin/python3}
SOURCES="spamassassin lingspam r-help r-devel r-help-es 20news"

report() {	# NAME...
	"$PYTHON3" - "$WORK" "$REJECT" "$srcdir/bench" "$@" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[3])
from bench_accuracy import wilson
work, reject, names = sys.argv[1], float(sys.argv[2]), sys.argv[4:]
print(f"left out: share at or above the threshold / the reject threshold {reject:g} (95% CI)")
print(f"{'source':13} {'label':5} {'filter':10} {'n':>5}  {'>= threshold':>26}  {'>= reject':>26}")
rows = {}
for name in names:
    for line in open(os.path.join(work, name + ".scores")):
        src, label, verdict, score = line.rstrip("\n").split("\t")
        rows.setdefault((src, label), {}).setdefault(name, []).append(
            (verdict == "spam", float(score) >= reject))
for (src, label) in sorted(rows):
    for name in names:
        v = rows[(src, label)].get(name)
        if not v:
            continue
        n = len(v)
        cells = []
        for i in (0, 1):
            k = sum(x[i] for x in v)
            lo, hi = wilson(k, n)
            cells.append(f"{k:5d} {100*k/n:6.2f}% ({100*lo:5.2f}-{100*hi:6.2f}%)")
        print(f"{src:13} {label:5} {name:10} {n:5d}  {cells[0]:>26}  {cells[1]:>26}")
print("(ham: false positives; spam: caught)")
PY
}
if [ "$1" = --report ]; then
	shift
	report "$@"
	exit
fi
name=$1 corpora=$2
shift 2
[ -f "$corpora/index.tsv" ] || { echo "bench_loco: no $corpora/index.tsv (contrib/corpora-export.py)" >&2; exit 1; }
[ -f "$CORPUS_DIR/index.tsv" ] || { echo "bench_loco: no $CORPUS_DIR/index.tsv (contrib/corpus-export.py)" >&2; exit 1; }
mkdir -p "$WORK"

# WORK/folds/S/{train,val}/{ham,spam}/SOURCE/FILE: links; WORK/folds/S/score
# (and WORK/folds/all/score: the phishing set) lists "SOURCE LABEL PATH"
folds=$WORK/folds
params="PER_SOURCE=$PER_SOURCE SA_MAX=$SA_MAX $corpora $CORPUS_DIR"
if [ "$(cat "$folds/.done" 2>/dev/null)" != "$params" ]; then
	rm -rf "$folds"
	for f in $SOURCES all; do
		leave=$f
		[ "$f" = all ] && leave=none
		"$PYTHON3" "$srcdir/contrib/training-mix.py" --per-source "$PER_SOURCE" \
			--sa-max "$SA_MAX" --leave-out "$leave" "$CORPUS_DIR" \
			"$corpora" "$folds/$f"
	done
	echo "$params" > "$folds/.done"
fi

# score_fold S MODEL: WORK/NAME-S.scores, "SOURCE LABEL VERDICT SCORE"
score_fold() {
	cut -f3 "$folds/$1/score" > "$WORK/$name-$1.list"
	classify_list "$WORK/$name-$1.list" "$WORK/$name-$1.out" -m "$2" -T 1 ||
		return 1
	# score: SOURCE LABEL PATH; out: PATH VERDICT SCORE
	paste "$folds/$1/score" "$WORK/$name-$1.out" | awk -F'\t' '{
		printf "%s\t%s\t%s\t%s\n", $1, $2, $5, $6 }' \
		> "$WORK/$name-$1.scores"
}

# spamprobe_fold S: the same fold with spamprobe (verdict SPAM, score)
spamprobe_fold() {
	out=$WORK/$name-$1.sp
	rm -rf "$out"
	mkdir -p "$out/db"
	for label in ham spam; do
		find -L "$folds/$1/train/$label" -type f | sort > "$out/train-$label"
	done
	spamprobe_train "$out/db" "$out/train-spam" "$out/train-ham" 2> "$out.log" || return 1
	cut -f3 "$folds/$1/score" > "$out/list"
	spamprobe_score "$out/db" "$out/list" "$out/score" 2>> "$out.log" || return 1
	paste "$folds/$1/score" "$out/score" | awk -F'\t' '{
		split($4, f, " "); printf "%s\t%s\t%s\t%s\n", $1, $2,
		f[1] == "SPAM" ? "spam" : "ham", f[2] }' > "$WORK/$name-$1.scores"
	rm -rf "$out"
}

# run_fold S OPTION...: fine-tune without S, then score S
run_fold() {
	f=$1
	shift
	out=$WORK/$name-$f
	[ -f "$out.done" ] && return 0
	if [ "$name" = spamprobe ]; then
		spamprobe_fold "$f" || { echo "bench_loco: spamprobe fold $f failed" >&2; return 1; }
	else
		resume=
		[ -d "$out/checkpoint" ] && resume=--resume
		d=$folds/$f
		# shellcheck disable=SC2086
		"$TRAIN" finetune "$@" --threads 1 --ham "$d/train/ham" \
			--spam "$d/train/spam" --ham-val "$d/val/ham" \
			--spam-val "$d/val/spam" --checkpoint-every 200 $resume \
			-o "$out" > "$out.log" 2>&1 || {
			tail -n 20 "$out.log" >&2
			echo "bench_loco: fold $f failed" >&2
			return 1
		}
		score_fold "$f" "$out" || { echo "bench_loco: scoring fold $f failed" >&2; return 1; }
	fi
	touch "$out.done"
	echo "bench_loco: $name: fold $f done"
}

for f in $SOURCES all; do
	job_start run_fold "$f" "$@"
done
job_wait_all
cat "$WORK/$name"-*.scores > "$WORK/$name.scores"
report "$name"
