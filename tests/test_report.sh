#!/bin/sh
# test_report.sh - gptmilter-report on its own: a report lands in new/ of
# its class's Maildir byte for byte, names are unique and start with the
# time; an empty message, one without a header or one over the size limit
# is refused with a reason and leaves nothing behind; bad usage is status 2.
set -u
: "${top_srcdir:?}"
B=${top_builddir:-.}
R="$B/src/feedback/gptmilter-report"
T="$B/tests/report.tmp"
rm -rf "$T"
mkdir -p "$T"
. "$top_srcdir/tests/lib.sh"

printf 'From: a@example.com\nSubject: win a prize\n\nclaim now\n' > "$T/m1"
printf 'Subject: minutes\n\nnotes of the meeting\n' > "$T/m2"
before=$(date +%s)
sh "$R" --spam -d "$T/spool" < "$T/m1" || fail "spam report failed"
GPTMILTER_SPOOL="$T/spool" sh "$R" --ham < "$T/m2" || fail "ham report (GPTMILTER_SPOOL) failed"
sh "$R" --spam --spool="$T/spool" < "$T/m1" || fail "second spam report failed"
for d in spam ham; do
	for s in tmp new cur; do
		[ -d "$T/spool/$d/$s" ] || fail "no $d/$s"
	done
done
n=$(ls "$T/spool/spam/new" | wc -l)
[ "$n" = 2 ] || fail "want 2 distinct spam reports, got $n"
for f in "$T"/spool/spam/new/*; do
	cmp -s "$f" "$T/m1" || fail "$f differs from the message"
	t=${f##*/}
	t=${t%%.*}
	[ "$t" -ge "$before" ] 2> /dev/null || fail "name $f does not start with the time"
done
cmp -s "$T"/spool/ham/new/* "$T/m2" || fail "ham report differs"

refused() {	# reason, input file, args...
	want=$1 in=$2
	shift 2
	if sh "$R" "$@" < "$in" > "$T/err" 2>&1; then
		fail "accepted: $want"
	elif ! grep -q "$want" "$T/err"; then
		fail "message for [$want]: $(cat "$T/err")"
	fi
}
: > "$T/empty"
refused "empty message" "$T/empty" --ham -d "$T/spool"
printf '\001\002 binary\n' > "$T/bin"
refused "not a mail message" "$T/bin" --spam -d "$T/spool"
GPTMILTER_REPORT_MAX_SIZE=10 refused "larger than 10 bytes" "$T/m1" --spam -d "$T/spool"
refused "usage" "$T/m1" -d "$T/spool"
sh "$R" --bogus < "$T/m1" > /dev/null 2>&1
[ $? = 2 ] || fail "bad usage is not status 2"
left=$(find "$T/spool/spam/tmp" "$T/spool/ham/tmp" -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left in tmp/"
[ "$(ls "$T/spool/spam/new" | wc -l)" = 2 ] || fail "a refused report reached spam/new"
[ "$(ls "$T/spool/ham/new" | wc -l)" = 1 ] || fail "a refused report reached ham/new"

[ $fails = 0 ] && rm -rf "$T"
finish test_report
