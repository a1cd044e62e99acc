# shellcheck shell=sh
# spamprobe.sh - Debian's spamprobe as the benches run it; sourced by
# bench/bench_accuracy.sh and bench/bench_kfold.sh. LIST files hold one
# message path per line; -M: one message per file (some files open with an
# mbox From_ line).
#   spamprobe_train DB SPAM-LIST HAM-LIST
#   spamprobe_score DB LIST OUT   OUT: "SPAM|GOOD SCORE DIGEST", one line
#                                 per line of LIST, in order; fails unless
#                                 every message got its line

spamprobe_train() {
	xargs -d '\n' spamprobe -M -d "$1" spam < "$2" &&
		xargs -d '\n' spamprobe -M -d "$1" good < "$3"
}

spamprobe_score() {
	# xargs exits 1..123 when some spamprobe did: the count tells
	xargs -d '\n' spamprobe -M -d "$1" score < "$2" > "$3" ||
		[ $? -le 123 ] || return 1
	[ "$(wc -l < "$3")" -eq "$(wc -l < "$2")" ]
}
