#!/bin/sh
# test_mailtext.sh - mailtext_extract() against hand-checked expectations:
# every tests/data/mailtext/NAME.eml must give exactly NAME.txt (the current
# MAILTEXT_VERSION) and, where there is one, NAME.vN.txt with -v N for N =
# 1, 2, 3, 4 (the layouts older models were trained on); then the
# generated cases that are too big to commit: 1,000-level multipart and
# message/rfc822 nesting, 100,000 parts, a 50 MB plain body and a 50 MB base64 body (output
# must fill the cap and stop), and small caps that must never cut a UTF-8
# character (mailtext_dump itself fails on invalid UTF-8); then charset
# detection per script (section 8).
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
DUMP="$top_builddir/tests/mailtext_dump"
DATA="$top_srcdir/tests/data/mailtext"
. "$top_srcdir/tests/lib.sh"
workdir mailtext

# 1. Exact outputs.
# exact WHAT WANT EML [DUMP OPTIONS]: one case; counts passes in $n
exact() {
	what=$1 want=$2 eml=$3
	shift 3
	if ! "$DUMP" "$@" "$eml" > "$tmp/out.txt"; then
		fail "$what: mailtext_dump exit status"
	elif ! cmp -s "$tmp/out.txt" "$want"; then
		fail "$what: output differs"
		diff -u "$want" "$tmp/out.txt" | head -40
	else
		n=$((n + 1))
	fi
}
n=0
for eml in "$DATA"/*.eml; do
	name=$(basename "$eml" .eml)
	[ -f "$DATA/$name.txt" ] || { fail "$name: no $name.txt"; continue; }
	exact "$name" "$DATA/$name.txt" "$eml"
done
[ "$n" -ge 25 ] && ok "$n exact outputs" || fail "only $n exact outputs passed"
# older layouts: NAME.vN.txt with -v N
for v in 1 2 3 4; do
	n=0
	for want in "$DATA"/*.v$v.txt; do
		[ -f "$want" ] || continue
		name=$(basename "$want" .v$v.txt)
		exact "$name -v $v" "$want" "$DATA/$name.eml" -v $v
	done
	min=$([ $v = 1 ] && echo 4 || echo 1)
	[ "$n" -ge "$min" ] && ok "$n exact version-$v outputs" ||
		fail "only $n exact version-$v outputs passed"
done

# 2. 1,000 levels of multipart nesting: cut, fast, headers intact.
awk 'BEGIN {
	printf "From: deep@example.com\nSubject: Deep\nMIME-Version: 1.0\n";
	for (i = 0; i < 1000; i++)
		printf "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i;
	printf "Content-Type: text/plain\n\nBottom.\n";
	for (i = 999; i >= 0; i--) printf "--b%d--\n", i;
}' > "$tmp/deep-mp.eml"
printf 'Subject: Deep\nFrom: deep@example.com\nTo:\nContent-Type: multipart/mixed\n' \
	> "$tmp/want"
"$DUMP" "$tmp/deep-mp.eml" > "$tmp/out.txt" || fail "deep multipart: exit status"
cmp -s "$tmp/out.txt" "$tmp/want" && ok "1000-level multipart" ||
	fail "1000-level multipart: $(head -c 200 "$tmp/out.txt")"

# 3. 1,000 levels of message/rfc822: at most 32 levels shown.
awk 'BEGIN {
	printf "From: deep@example.com\nSubject: Deep\n";
	for (i = 0; i < 1000; i++)
		printf "Content-Type: message/rfc822\n\nSubject: level %d\n", i;
	printf "\nBottom.\n";
}' > "$tmp/deep-msg.eml"
"$DUMP" "$tmp/deep-msg.eml" > "$tmp/out.txt" || fail "deep message: exit status"
levels=$(grep -c '^Subject: level' "$tmp/out.txt")
if head -n 1 "$tmp/out.txt" | grep -qx 'Subject: Deep' &&
   [ "$levels" -ge 1 ] && [ "$levels" -le 33 ]; then
	ok "1000-level message/rfc822 ($levels levels shown)"
else
	fail "1000-level message/rfc822: $levels levels shown"
fi

# 3b. 100,000 empty parts: GMime is given the first 1,000 only.
awk 'BEGIN {
	printf "From: many@example.com\nSubject: Many\nMIME-Version: 1.0\n";
	printf "Content-Type: multipart/mixed; boundary=b\n\n";
	for (i = 0; i < 100000; i++) printf "--b\nContent-Type: text/html\n\n<p>\n";
	printf "--b--\n";
}' > "$tmp/many.eml"
printf 'Subject: Many\nFrom: many@example.com\nTo:\nContent-Type: multipart/mixed\n' \
	> "$tmp/want"
"$DUMP" "$tmp/many.eml" > "$tmp/out.txt" || fail "many parts: exit status"
cmp -s "$tmp/out.txt" "$tmp/want" && ok "100000 parts" ||
	fail "100000 parts: $(head -c 200 "$tmp/out.txt")"

# 4. A 50 MB body: the output fills the 16384-byte cap and no more.
{
	printf 'From: big@example.com\nSubject: Big\n\n'
	yes 'The quick brown fox jumps over the lazy dog, 0123456789.' |
		head -c 52428800
} > "$tmp/big.eml"
"$DUMP" "$tmp/big.eml" > "$tmp/out.txt" || fail "50 MB: exit status"
len=$(wc -c < "$tmp/out.txt")
[ "$len" -gt 16300 ] && [ "$len" -le 16384 ] && ok "50 MB plain body: $len bytes" ||
	fail "50 MB plain body: $len bytes"
"$DUMP" -n 1000 "$tmp/big.eml" > "$tmp/out.txt" || fail "50 MB -n 1000: exit"
len=$(wc -c < "$tmp/out.txt")
[ "$len" -gt 940 ] && [ "$len" -le 1000 ] && ok "50 MB, cap 1000: $len bytes" ||
	fail "50 MB, cap 1000: $len bytes"

# 5. The same 50 MB as one base64 part in a multipart.
{
	printf 'From: big@example.com\nSubject: Big\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary=zz\n\n--zz\n'
	printf 'Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n'
	tail -n +4 "$tmp/big.eml" | base64
	printf -- '--zz--\n'
} > "$tmp/big64.eml"
rm -f "$tmp/big.eml"
"$DUMP" "$tmp/big64.eml" > "$tmp/out.txt" || fail "50 MB base64: exit status"
len=$(wc -c < "$tmp/out.txt")
if [ "$len" -gt 16300 ] && [ "$len" -le 16384 ] &&
   sed -n 7p "$tmp/out.txt" | grep -q '^The quick brown fox jumps over the lazy dog, 0123456789\.$'; then
	ok "50 MB base64 body: $len bytes"
else
	fail "50 MB base64 body: $len bytes"
fi
rm -f "$tmp/big64.eml"

# 6. Small caps never cut a character and are never exceeded.
bad=0
for cap in 1 2 3 5 8 13 21 22 23 24 25 26 27 28 29 30 34 40 41 42 43 44 45 55 89; do
	for name in rfc2047-utf8-b rfc2047-shiftjis rfc2047-koi8r utf8-undeclared html-rich; do
		"$DUMP" -n "$cap" "$DATA/$name.eml" > "$tmp/out.txt" || bad=$((bad + 1))
		len=$(wc -c < "$tmp/out.txt")
		[ "$len" -le "$cap" ] || bad=$((bad + 1))
	done
done
[ "$bad" -eq 0 ] && ok "small caps" || fail "small caps: $bad bad outputs"

# 7. Bytes from standard input, and an empty message.
"$DUMP" - < "$DATA/plain.eml" > "$tmp/out.txt" &&
	cmp -s "$tmp/out.txt" "$DATA/plain.txt" && ok "stdin" || fail "stdin"
printf 'Subject:\nFrom:\nTo:\nContent-Type: text/plain\n' > "$tmp/want"
: | "$DUMP" - > "$tmp/out.txt" && cmp -s "$tmp/out.txt" "$tmp/want" &&
	ok "empty input" || fail "empty input: $(cat "$tmp/out.txt")"

# 8. Text in any charset: where a part declares no charset, a meaningless
# one (us-ascii on 8-bit text), an unknown one, or one its bytes fail, the
# charset is detected (libuchardet). Each fixture is made here with iconv
# from the UTF-8 text in detect/, and the body mailtext_dump prints must
# equal that text exactly, without U+FFFD: Chinese GB2312 and Big5,
# Japanese Shift_JIS and ISO-2022-JP, Cyrillic KOI8-R and cp1251, Latin-1.
# Then what detection must not do: a declared charset that converts
# cleanly stays the authority, and short Latin text (where uchardet
# guesses ISO-8859-4 or IBM852) keeps the windows-1252 reading, while
# short Cyrillic is still detected. Raw 8-bit headers follow the body.
n=0
# message CONTENT-TYPE-LINE BODY-FILE > eml: a message with that body (an
# empty CONTENT-TYPE-LINE leaves the header out)
message() {
	printf 'From: sender@example.org\nSubject: detect\nMIME-Version: 1.0\n'
	[ -n "$1" ] && printf '%s\n' "$1"
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	cat "$2"
}

# detected WHAT WANT-FILE EML: the body of EML's text (after the first blank
# line) must be WANT-FILE's bytes, with no U+FFFD
detected() {
	if ! "$DUMP" "$3" > "$tmp/out.txt"; then
		fail "$1: mailtext_dump exit status"
		return
	fi
	sed '1,/^$/d' "$tmp/out.txt" > "$tmp/body.txt"
	if grep -q "$(printf '\357\277\275')" "$tmp/body.txt"; then
		fail "$1: U+FFFD in the text"
	elif ! cmp -s "$tmp/body.txt" "$2"; then
		fail "$1: text differs"
		diff "$2" "$tmp/body.txt" | head -6
	else
		n=$((n + 1))
	fi
}

# 8a. Each script, encoded with iconv, under every label that says nothing.
for case in GB2312:zh-hans BIG5:zh-hant SHIFT_JIS:ja ISO-2022-JP:ja \
	    KOI8-R:ru CP1251:ru ISO-8859-1:fr; do
	cs=${case%%:*} text="$DATA/detect/${case#*:}.utf8"
	if ! iconv -f UTF-8 -t "$cs" "$text" > "$tmp/body.bin"; then
		fail "$cs: iconv cannot make the fixture"
		continue
	fi
	message 'Content-Type: text/plain' "$tmp/body.bin" > "$tmp/m.eml"
	detected "$cs, no charset" "$text" "$tmp/m.eml"
	message '' "$tmp/body.bin" > "$tmp/m.eml"
	detected "$cs, no Content-Type" "$text" "$tmp/m.eml"
	message 'Content-Type: text/plain; charset=x-no-such-charset' \
		"$tmp/body.bin" > "$tmp/m.eml"
	detected "$cs, unknown charset" "$text" "$tmp/m.eml"
	if [ "$cs" != ISO-2022-JP ]; then	# 7-bit: us-ascii is true
		message 'Content-Type: text/plain; charset=us-ascii' \
			"$tmp/body.bin" > "$tmp/m.eml"
		detected "$cs, labelled us-ascii" "$text" "$tmp/m.eml"
	fi
	# HTML without a <meta> charset: detected the same way
	{ printf '<html><body>'; cat "$tmp/body.bin"; printf '</body></html>\n'; } \
		> "$tmp/html.bin"
	message 'Content-Type: text/html' "$tmp/html.bin" > "$tmp/m.eml"
	tr '\n' ' ' < "$text" | sed 's/ $//' > "$tmp/want.txt"
	echo >> "$tmp/want.txt"
	detected "$cs, HTML, no charset" "$tmp/want.txt" "$tmp/m.eml"
done

# 8b. A label its bytes fail: Shift_JIS sent as ISO-2022-JP (a common
# mislabel), GB2312 sent as UTF-8, KOI8-R sent as EUC-JP.
for case in SHIFT_JIS:ja:iso-2022-jp GB2312:zh-hans:utf-8 \
	    KOI8-R:ru:euc-jp; do
	cs=${case%%:*} rest=${case#*:}
	text="$DATA/detect/${rest%%:*}.utf8" label=${rest#*:}
	iconv -f UTF-8 -t "$cs" "$text" > "$tmp/body.bin" || fail "$cs: iconv"
	message "Content-Type: text/plain; charset=$label" "$tmp/body.bin" \
		> "$tmp/m.eml"
	detected "$cs labelled $label" "$text" "$tmp/m.eml"
done

# 8c. A label that converts cleanly is the authority: KOI8-R bytes labelled
# windows-1251 give the windows-1251 reading, not the detected Russian.
iconv -f UTF-8 -t KOI8-R "$DATA/detect/ru.utf8" > "$tmp/body.bin"
iconv -f CP1251 -t UTF-8 "$tmp/body.bin" > "$tmp/want.txt"
message 'Content-Type: text/plain; charset=windows-1251' "$tmp/body.bin" \
	> "$tmp/m.eml"
detected "KOI8-R labelled windows-1251 stays windows-1251" "$tmp/want.txt" \
	"$tmp/m.eml"

# 8d. Short Latin text: too few 8-bit bytes for uchardet to be right
# (uchardet says ISO-8859-4 for "El niño comió", IBM852 for "naïve",
# ISO-8859-10 for "Señor"), so windows-1252 as before.
for words in 'El niño comió' 'naïve' 'Señor Muñoz' 'Año nuevo' \
	     '“Smart quotes” – and dashes…'; do
	printf '%s\n' "$words" > "$tmp/want.txt"
	iconv -f UTF-8 -t CP1252 "$tmp/want.txt" > "$tmp/body.bin"
	message 'Content-Type: text/plain' "$tmp/body.bin" > "$tmp/m.eml"
	detected "short Latin: $words" "$tmp/want.txt" "$tmp/m.eml"
done

# 8e. Short Cyrillic: whole words of 8-bit bytes are no Latin text, so
# uchardet's answer is taken however short. (It is not always right there:
# "Счёт на оплату" comes back ISO-8859-7 in KOI8-R, MAC-CYRILLIC in cp1251.)
for words in 'Привет' 'Добрый день' 'Ваш заказ' 'Отчет за месяц'; do
	for cs in KOI8-R CP1251; do
		printf '%s\n' "$words" > "$tmp/want.txt"
		iconv -f UTF-8 -t "$cs" "$tmp/want.txt" > "$tmp/body.bin"
		message 'Content-Type: text/plain' "$tmp/body.bin" > "$tmp/m.eml"
		detected "short $cs: $words" "$tmp/want.txt" "$tmp/m.eml"
	done
done

# 8f. Raw 8-bit headers name no charset and are too short to detect: they
# are read in the charset the body was read in (labelled or detected).
for case in 'GB2312:zh-hans::会议通知：下周二' \
	    'KOI8-R:ru:koi8-r:Совещание во вторник' \
	    'SHIFT_JIS:ja::会議のお知らせ'; do
	cs=${case%%:*} rest=${case#*:}
	text="$DATA/detect/${rest%%:*}.utf8" rest=${rest#*:}
	label=${rest%%:*} subject=${rest#*:}
	{
		printf 'From: sender@example.org\nSubject: '
		printf '%s' "$subject" | iconv -f UTF-8 -t "$cs"
		printf '\nContent-Type: text/plain%s\n\n' \
			"${label:+; charset=$label}"
		iconv -f UTF-8 -t "$cs" "$text"
	} > "$tmp/m.eml"
	"$DUMP" "$tmp/m.eml" | head -n 1 > "$tmp/out.txt"
	if [ "$(cat "$tmp/out.txt")" = "Subject: $subject" ]; then
		n=$((n + 1))
	else
		fail "raw $cs subject: $(cat "$tmp/out.txt")"
	fi
done

[ "$n" -eq 54 ] && ok "$n charset detection cases" ||
	fail "only $n of 54 charset detection cases passed"

finish test_mailtext
