#!/bin/sh
# bench_month.sh - a simulated month of user feedback (issue 20): every
# "day" users report a batch of mail, every "night" gptmilter-retrain(8)
# retrains on the reports and a base corpus and promotes the candidate
# only if it is not worse; after each night the running model is scored
# on the test split, which gives the error curve of the running model.
#
#	sh bench/bench_month.sh BUILDDIR [NIGHTS]
#
# Data (../shared/CORPUS.md, `make corpus/index.tsv` in BUILDDIR):
#   start     models/default, installed with gptmilter-retrain install;
#   reports   the validation split, ham and spam each in checksum order,
#             PER_NIGHT_HAM and PER_NIGHT_SPAM a night, filed with
#             gptmilter-report (the path Dovecot's sieve scripts take);
#   base      the train split (gptmilter-retrain's --base-ham/spam): the
#             first BASE_MAX of each class by content hash (after the
#             held-out base set) are trained on every night;
#   held-out base set (GUARD_FROM)
#             test: every other message of the test split in checksum
#             order, put in MODELS/guard before the first night (named by
#             SHA-256, as gptmilter-retrain names its own). The default:
#             models/default was trained on all of the train split, so
#             the set gptmilter-retrain would choose from it (base: the
#             first GUARD_HAM ham and GUARD_SPAM spam of the train split)
#             is mail the origin has learnt, right for every candidate,
#             and blind to what the loop changes;
#   measure   the rest of the test split (all of it with GUARD_FROM=base),
#             never reported nor trained on nor guarded with: the running
#             model's false positives (ham at or above its threshold) and
#             false negatives, with 95% Wilson intervals.
# Environment: NIGHTS (or the 2nd argument, default 30), GUARD_FROM
# (test), PER_NIGHT_HAM (12), PER_NIGHT_SPAM (6), BASE_MAX (200), GUARD_HAM
# (1000) and GUARD_SPAM (500; GUARD_FROM=base only), MARGIN_FPR (1.0),
# MARGIN_FNR (2.5), HOLDOUT (20 %), MIN_HOLDOUT (5 of each class: the first
# nights have too few and are skipped, as gptmilter-retrain says),
# TRAIN_OPTS ("--trainable-blocks all --lr 1e-4 --epochs 1":
# gptmilter-retrain's default with one epoch, to halve the month), THREADS
# (2), WORK (BUILDDIR/bench-month). A
# night costs one fine-tune of the origin on BASE_MAX x 2 + the reports,
# evaluations of both models on the held-out reports and of the candidate
# on the held-out base set, and of a promoted model on the measured half:
# 1 to 3 minutes on 2 shared cores with the defaults.
# Output: one line per night and WORK/curve.tsv; gptmilter-retrain's own
# history is WORK/models/history.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILDDIR [NIGHTS]" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
S=$(cd "$(dirname "$0")/.." && pwd)
NIGHTS=${2:-${NIGHTS:-30}}
PER_NIGHT_HAM=${PER_NIGHT_HAM:-12}
PER_NIGHT_SPAM=${PER_NIGHT_SPAM:-6}
BASE_MAX=${BASE_MAX:-200}
GUARD_HAM=${GUARD_HAM:-1000}
GUARD_SPAM=${GUARD_SPAM:-500}
GUARD_FROM=${GUARD_FROM:-test}
# (half the test split is 395 ham and 181 spam: an unchanged candidate's
# interval reaches 0.49 and 1.07 points, so the command's default margins,
# 0.5 and 1.0, would refuse nearly everything)
MARGIN_FPR=${MARGIN_FPR:-1.0}
MARGIN_FNR=${MARGIN_FNR:-2.5}
HOLDOUT=${HOLDOUT:-20}
MIN_HOLDOUT=${MIN_HOLDOUT:-5}
TRAIN_OPTS=${TRAIN_OPTS:---trainable-blocks all --lr 1e-4 --epochs 1}
THREADS=${THREADS:-2}
W=${WORK:-$B/bench-month}
TRAINER=$B/src/train/gptmilter-train
REPORT=$B/src/feedback/gptmilter-report
RETRAIN=$B/src/feedback/gptmilter-retrain
C=$B/corpus
die() { echo "bench_month: $*" >&2; exit 1; }

[ -f "$C/index.tsv" ] || die "no $C/index.tsv: run make corpus/index.tsv in $B"
for p in "$TRAINER" "$REPORT" "$RETRAIN"; do
	[ -x "$p" ] || die "$p not built"
done
rm -rf "$W"
mkdir -p "$W/spool" "$W/models" "$W/base/ham" "$W/base/spam" "$W/measure/ham" \
	"$W/measure/spam" || die "cannot make $W"
case $GUARD_FROM in test | base) ;; *) die "GUARD_FROM is test or base, not $GUARD_FROM" ;; esac
[ "$GUARD_FROM" = base ] || mkdir -p "$W/guard/ham" "$W/guard/spam" ||
	die "cannot make $W"

# files SPLIT LABEL: the paths of a split's messages of LABEL, checksum order
files() {
	awk -F '\t' -v s="$1" -v l="$2" 'NR > 1 && $4 == s && $3 == l {
		print $1 "\t" $5 }' "$C/index.tsv" | sort | cut -f2 |
		sed "s|^|$C/|"
}
for l in ham spam; do
	files train $l | while read -r f; do
		ln -s "$f" "$W/base/$l/"
	done
	files val $l > "$W/reports-$l"
	k=0
	files test $l | while read -r f; do
		k=$((k + 1))
		if [ "$GUARD_FROM" = test ] && [ $((k % 2)) = 1 ]; then
			cp "$f" "$W/guard/$l/$(sha256sum < "$f" | cut -c1-64)"
		else
			ln -s "$f" "$W/measure/$l/"
		fi
	done
done
nham=$(wc -l < "$W/reports-ham")
nspam=$(wc -l < "$W/reports-spam")
[ $((NIGHTS * PER_NIGHT_HAM)) -le "$nham" ] &&
	[ $((NIGHTS * PER_NIGHT_SPAM)) -le "$nspam" ] ||
	die "$NIGHTS nights need more reports than the validation split has ($nham ham, $nspam spam)"

retrain() {
	# shellcheck disable=SC2086
	sh "$RETRAIN" "$@" --models "$W/models" --spool "$W/spool" \
		--base-ham "$W/base/ham" --base-spam "$W/base/spam" \
		--trainer "$TRAINER" --threads "$THREADS" --holdout "$HOLDOUT" \
		--min-holdout "$MIN_HOLDOUT" --train-opts "$TRAIN_OPTS" \
		--base-max "$BASE_MAX" --guard-ham "$GUARD_HAM" --guard-spam "$GUARD_SPAM" \
		--margin-fpr "$MARGIN_FPR" --margin-fnr "$MARGIN_FNR" -c /dev/null
}
# measure NIGHT: the running model on the measured part of the test split,
# one line; a model measured the night before is not measured again (the
# same figures)
measure() {
	m=$(readlink "$W/models/current")
	if [ "$m" = "$(cat "$W/measured" 2> /dev/null)" ]; then
		cp "$W/eval-$(($1 - 1)).json" "$W/eval-$1.json" || die "cannot copy eval-$(($1 - 1)).json"
	else
		"$TRAINER" eval -m "$W/models/current" --ham "$W/measure/ham" \
			--spam "$W/measure/spam" --threads "$THREADS" \
			--json "$W/eval-$1.json" -q > "$W/eval-$1.log" 2>&1 ||
			{ cat "$W/eval-$1.log" >&2; die "evaluation after night $1 failed"; }
		echo "$m" > "$W/measured"
	fi
	eval "$(sed -n 's/^  "\(tp\|fp\|tn\|fn\)" : \([0-9]*\),*$/\1=\2/p' "$W/eval-$1.json")"
	awk -v k="$fp" -v n=$((fp + tn)) -v k2="$fn" -v n2=$((tp + fn)) '
	function w(k, n,   z, p, d, c, h, lo, hi) {
		z = 1.959964; p = k / n; d = 1 + z * z / n
		c = (p + z * z / (2 * n)) / d
		h = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
		lo = c - h; hi = c + h; if (lo < 0) lo = 0; if (hi > 1) hi = 1
		return sprintf("%d/%d %.2f%% [%.2f, %.2f]", k, n, 100 * p, 100 * lo, 100 * hi)
	}
	BEGIN { printf "%s\t%s", w(k, n), w(k2, n2) }'
}

retrain install "$S/models/default" > "$W/install.log" 2>&1 ||
	{ cat "$W/install.log" >&2; die "install failed"; }
[ "$GUARD_FROM" = base ] || mv "$W/guard" "$W/models/guard" || die "cannot place the guard"
printf 'night\treports ham\treports spam\tdecision\trunning model\tFPR on test\tFNR on test\tcandidate on the base set (newly wrong-newly right)\n' |
	tee "$W/curve.tsv"
printf '0\t0\t0\tinstalled\t%s\t%s\t-\n' "$(readlink "$W/models/current")" \
	"$(measure 0)" | tee -a "$W/curve.tsv"
n=1
while [ $n -le "$NIGHTS" ]; do
	# the day's reports
	for l in ham spam; do
		eval "k=\$PER_NIGHT_$(echo $l | tr a-z A-Z)"
		sed -n "$(((n - 1) * k + 1)),$((n * k))p" "$W/reports-$l" |
			while read -r f; do
				"$REPORT" --$l -d "$W/spool" < "$f" ||
					die "cannot report $f"
			done
	done
	# the night's retrain
	retrain run > "$W/night-$n.log" 2>&1 ||
		{ tail -n 20 "$W/night-$n.log" >&2; die "night $n: gptmilter-retrain failed"; }
	h=$(tail -n 1 "$W/models/history")
	d=$(echo "$h" | sed 's/.*decision=\([^ ]*\).*/\1/')
	# the candidate's changed verdicts on the held-out base set
	g=$(echo "$h" | sed -n 's/.*,flags=\([^,]*\),.*,misses=\([^,]*\),.*/ham \1 spam \2/p')
	printf '%d\t%d\t%d\t%s\t%s\t%s\t%s\n' "$n" $((n * PER_NIGHT_HAM)) \
		$((n * PER_NIGHT_SPAM)) "$d" "$(readlink "$W/models/current")" \
		"$(measure "$n")" "${g:--}" | tee -a "$W/curve.tsv"
	n=$((n + 1))
done
