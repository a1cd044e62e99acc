# shellcheck shell=sh
# classify.sh - gptmilter-classify over a list of messages, as the benches
# run it; sourced by bench_cross_corpus.sh, bench_header_drop.sh and
# bench_loco.sh (spamprobe.sh is its twin for spamprobe). CLASSIFY names
# the program.
#   classify_list LIST OUT OPTION...   OUT: "FILE<TAB>VERDICT<TAB>SCORE", one
#                                      line per line of LIST, in order;
#                                      fails unless every message got its line

classify_list() {
	_list=$1 _out=$2
	shift 2
	# xargs says 123 when some run said 1 (all ham) or 3 (an error):
	# the count of lines tells
	xargs -d '\n' "$CLASSIFY" "$@" < "$_list" > "$_out" ||
		[ $? -le 123 ] || return 1
	[ "$(wc -l < "$_out")" -eq "$(wc -l < "$_list")" ]
}
