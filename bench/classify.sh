# shellcheck shell=sh
# classify.sh - gptmilter-classify over a list of messages, as the benches
# run it; sourced by bench_cross_corpus.sh, bench_header_drop.sh and
# bench_loco.sh (spamprobe.sh is its twin for spamprobe). CLASSIFY names
# the program.
#   classify_list LIST OUT OPTION...   OUT: "FILE<TAB>VERDICT<TAB>SCORE", one
#                                      line per line of LIST, in order;
#                                      fails unless every message got its line
#   full_length_list CORPUS MODEL N OUT  OUT: up to N messages of CORPUS
#                                      whose text fills MODEL's max_tokens
#                                      (bench_model_speed.sh, bench_int8.sh)

classify_list() {
	_list=$1 _out=$2
	shift 2
	# xargs says 123 when some run said 1 (all ham) or 3 (an error):
	# the count of lines tells
	xargs -d '\n' "$CLASSIFY" "$@" < "$_list" > "$_out" ||
		[ $? -le 123 ] || return 1
	[ "$(wc -l < "$_out")" -eq "$(wc -l < "$_list")" ]
}

full_length_list() {
	_max=$(sed -n 's/.*"max_tokens" *: *\([0-9]*\).*/\1/p' "$2/config.json" |
		head -1)
	[ -n "$_max" ] || { echo "no max_tokens in $2/config.json" >&2; return 1; }
	# --dump-tokens: "FILE<TAB>id id ...": keep the files that fill it
	awk -F'\t' -v d="$1" 'NR > 1 { print d "/" $5 }' "$1/index.tsv" |
		xargs -d '\n' "$CLASSIFY" -m "$2" --dump-tokens |
		awk -F'\t' -v max="$_max" -v n="$3" '
			split($2, a, " ") == max && c < n { print $1; c++ }' > "$4"
	[ -s "$4" ] || { echo "no message fills $_max tokens" >&2; return 1; }
}
