#!/bin/sh
# bench/bench_accuracy.sh - gptmilter against the classic filters, one table.
#
# Owns: the side-by-side accuracy benchmark of /work/shared/CORPUS.md.  On the
# standard split it trains bogofilter and spamprobe on the train split (fresh
# databases in a temporary directory), scores the test split with them, with
# SpamAssassin's shipped rules (local tests only, no Bayes, no network), and
# with gptmilter-classify and a model, then prints one table through
# bench/bench_accuracy.py: accuracy, spam precision/recall, FPR, FNR, ROC AUC,
# hard-ham FPR and messages/s (scoring only, wall clock), then the 95%
# Wilson intervals of the false-positive, false-negative and hard-ham rates.
#
# Usage: bench/bench_accuracy.sh [CORPUS_DIR]
#   CORPUS_DIR  exported corpus (DIR/<split>/<label>/<group>/<md5>.eml plus
#               DIR/index.tsv); default $CORPUS_DIR, else /tmp/corpus, else
#               exported into the temporary directory with
#               contrib/corpus-export.py.
# Environment:
#   CLASSIFY    gptmilter-classify binary (default: ./src/classify/
#               gptmilter-classify under the current directory, i.e. run it
#               from a build directory)
#   MODEL       model directory (default: <srcdir>/models/default)
#   FILTERS     subset to run, default "bogofilter spamprobe spamassassin
#               gptmilter"
#   SA_JOBS     SpamAssassin worker processes (default 2)
#   PYTHON3     default /usr/bin/python3
#
# Thresholds: bogofilter's own cutoffs (Debian's /etc/bogofilter.cf; "unsure"
# counts as ham), spamprobe's own, SpamAssassin required_score 5.0, gptmilter
# the threshold shipped in the model's config.json.  The SpamAssassin workers
# load the rules once through the Perl API (Mail::SpamAssassin) instead of
# one `spamassassin -L -t` per message, which costs ~1 s of rule compilation
# each; the verdict and score are the same.

set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/spamprobe.sh
. "$srcdir/bench/spamprobe.sh"
PYTHON3=${PYTHON3:-/usr/bin/python3}
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
MODEL=${MODEL:-$srcdir/models/default}
FILTERS=${FILTERS:-"bogofilter spamprobe spamassassin gptmilter"}
SA_JOBS=${SA_JOBS:-2}

# Timings: unpinned OpenBLAS, as every bench in bench/ does.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-accuracy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

corpus=${1:-${CORPUS_DIR:-}}
if [ -z "$corpus" ] && [ -f /tmp/corpus/index.tsv ]; then
	corpus=/tmp/corpus
fi
if [ -z "$corpus" ]; then
	corpus=$tmp/corpus
	"$PYTHON3" "$srcdir/contrib/corpus-export.py" "$corpus" >&2
fi
[ -f "$corpus/index.tsv" ] || { echo "$0: no $corpus/index.tsv" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
has() { case " $FILTERS " in *" $1 "*) return 0;; esac; return 1; }

# File lists: absolute paths, one per line (names are <md5>.eml: no blanks).
awk -F'\t' -v d="$corpus" 'NR > 1 && $4 == "train" && $3 == "spam" {
	print d "/" $5 }' "$corpus/index.tsv" > "$tmp/train-spam"
awk -F'\t' -v d="$corpus" 'NR > 1 && $4 == "train" && $3 == "ham" {
	print d "/" $5 }' "$corpus/index.tsv" > "$tmp/train-ham"
awk -F'\t' -v d="$corpus" 'NR > 1 && $4 == "test" {
	print d "/" $5 }' "$corpus/index.tsv" > "$tmp/test"
echo "corpus $corpus: train $(wc -l < "$tmp/train-spam") spam +" \
	"$(wc -l < "$tmp/train-ham") ham, test $(wc -l < "$tmp/test")" >&2
echo "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; $(nproc) CPUs" >&2

specs=""

# --- bogofilter ------------------------------------------------------------
if has bogofilter; then
	mkdir "$tmp/bogo"
	t0=$(now)
	xargs bogofilter -d "$tmp/bogo" -s -B < "$tmp/train-spam"
	xargs bogofilter -d "$tmp/bogo" -n -B < "$tmp/train-ham"
	t1=$(now)
	# -T: "FILE S|H|U SPAMICITY" per message.
	xargs bogofilter -d "$tmp/bogo" -T -B < "$tmp/test" > "$tmp/bogo.out" ||
		[ $? -le 123 ] # xargs: 1..123 = some bogofilter exited non-zero
	t2=$(now)
	awk '{ v = $2 == "S" ? "spam" : ($2 == "U" ? "unsure" : "ham");
		printf "%s\t%s\t%s\n", $1, v, $3 }' "$tmp/bogo.out" > "$tmp/bogo.tsv"
	echo "bogofilter $(bogofilter -V 2>&1 | head -1 | awk '{print $NF}'):" \
		"train $(elapsed "$t0" "$t1") s, score $(elapsed "$t1" "$t2") s" >&2
	specs="$specs bogofilter:$tmp/bogo.tsv:$(elapsed "$t1" "$t2")"
fi

# --- spamprobe -------------------------------------------------------------
if has spamprobe; then
	mkdir "$tmp/sp"
	t0=$(now)
	spamprobe_train "$tmp/sp" "$tmp/train-spam" "$tmp/train-ham"
	t1=$(now)
	spamprobe_score "$tmp/sp" "$tmp/test" "$tmp/sp.out" ||
		{ echo "$0: spamprobe failed or scored a different count" >&2; exit 1; }
	t2=$(now)
	paste "$tmp/test" "$tmp/sp.out" | awk -F'\t' '{
		split($2, f, " "); printf "%s\t%s\t%s\n", $1,
		f[1] == "SPAM" ? "spam" : "ham", f[2] }' > "$tmp/sp.tsv"
	echo "spamprobe: train $(elapsed "$t0" "$t1") s," \
		"score $(elapsed "$t1" "$t2") s" >&2
	specs="$specs spamprobe:$tmp/sp.tsv:$(elapsed "$t1" "$t2")"
fi

# --- SpamAssassin ----------------------------------------------------------
if has spamassassin; then
	mkdir "$tmp/sa"
	cat > "$tmp/sa/check.pl" <<'EOF'
# Score each file named on stdin with the shipped rules: local tests only,
# no Bayes, no auto-learn, state in a scratch dir (never ~/.spamassassin).
use strict;
use warnings;
use Mail::SpamAssassin;
my $state = shift @ARGV;
my $sa = Mail::SpamAssassin->new({
	local_tests_only => 1,
	dont_copy_prefs => 1,
	userprefs_filename => "$state/user_prefs",
	userstate_dir => $state,
	home_dir_for_helpers => $state,
	post_config_text => "use_bayes 0\nbayes_auto_learn 0\n",
});
$sa->compile_now(0);
$| = 1;
while (my $file = <STDIN>) {
	chomp $file;
	open(my $fh, '<', $file) or die "$file: $!";
	my @lines = <$fh>;
	close $fh;
	my $mail = $sa->parse(\@lines);
	my $status = $sa->check($mail);
	printf "%s\t%s\t%.3f\n", $file,
		$status->get_score() >= 5.0 ? "spam" : "ham", $status->get_score();
	$status->finish();
	$mail->finish();
}
EOF
	: > "$tmp/sa/user_prefs"
	split -n "r/$SA_JOBS" "$tmp/test" "$tmp/sa/part."
	t1=$(now)
	pids=""
	for part in "$tmp"/sa/part.*; do
		mkdir "$part.d"
		HOME=$part.d perl "$tmp/sa/check.pl" "$part.d" < "$part" \
			> "$part.tsv" 2> "$part.err" &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid" || { cat "$tmp"/sa/part.*.err >&2; exit 1; }
	done
	t2=$(now)
	cat "$tmp"/sa/part.*.tsv > "$tmp/sa.tsv"
	echo "SpamAssassin $(perl -MMail::SpamAssassin -e \
		'print Mail::SpamAssassin::Version()'), $SA_JOBS workers:" \
		"score $(elapsed "$t1" "$t2") s" >&2
	specs="$specs spamassassin-rules:$tmp/sa.tsv:$(elapsed "$t1" "$t2")"
fi

# --- gptmilter -------------------------------------------------------------
if has gptmilter; then
	[ -x "$CLASSIFY" ] || { echo "$0: no $CLASSIFY (set CLASSIFY)" >&2; exit 1; }
	t1=$(now)
	# Exit status 0/1 = some spam / all ham; 3 = error.
	rc=0
	# shellcheck disable=SC2046 # one argument per line of the list
	"$CLASSIFY" -m "$MODEL" --json $(cat "$tmp/test") > "$tmp/gpt.out" ||
		rc=$?
	t2=$(now)
	[ "$rc" -le 1 ] || { echo "$0: $CLASSIFY failed ($rc)" >&2; exit 1; }
	"$PYTHON3" -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    print("%s\t%s\t%r" % (o["file"], o["label"], o["spam_probability"]))
' < "$tmp/gpt.out" > "$tmp/gpt.tsv"
	threshold=$("$PYTHON3" -c 'import json,sys; print(json.loads(sys.stdin.readline())["threshold"])' < "$tmp/gpt.out")
	echo "gptmilter ($MODEL, threshold $threshold):" \
		"score $(elapsed "$t1" "$t2") s" >&2
	specs="$specs gptmilter:$tmp/gpt.tsv:$(elapsed "$t1" "$t2")"
fi

# shellcheck disable=SC2086 # specs: blank-separated NAME:FILE:SECONDS
"$PYTHON3" "$srcdir/bench/bench_accuracy.py" "$corpus/index.tsv" $specs
