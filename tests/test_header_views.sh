#!/bin/sh
# test_header_views.sh - the bare-header view the trainer's --header-dropout
# reads (mailtext_dump -b, MailtextOptions.bare_headers) is the text of the
# same message with its From, To, Cc, X-Mailer, User-Agent and text/plain
# Content-Type lines removed, as bench/header_views.py writes it and
# bench_header_drop.sh scores it (in layout 5: an empty From and To, the
# same media type): checked on every 7-bit single-part
# text/plain message among 400 of the standard corpus's training split
# (where removing Content-Type cannot change how the body decodes), and on
# all 400 with everything but the header block compared.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}" "${CORPUS_DIR:?}"
DUMP="$top_builddir/tests/mailtext_dump"
T="$top_builddir/tests/header-views.tmp"
rm -rf "$T"
mkdir -p "$T/bare"
. "$top_srcdir/tests/lib.sh"

awk -F'\t' -v d="$CORPUS_DIR" 'NR > 1 && $4 == "train" { print d "/" $5 }' \
	"$CORPUS_DIR/index.tsv" | awk 'NR % 10 == 0' | head -n 400 > "$T/list"
[ "$(wc -l < "$T/list")" -eq 400 ] || die "corpus too small"
xargs "$PYTHON3" "$top_srcdir/bench/header_views.py" "$T/bare" < "$T/list" ||
	die "header_views.py"

compared=0; same=0
while read -r f; do
	b="$T/bare/$(basename "$f")"
	"$DUMP" -b "$f" > "$T/view" || fail "mailtext_dump -b $f"
	"$DUMP" "$b" > "$T/stripped" || fail "mailtext_dump $b"
	# the bare view never shows an address or a version-2 line, and
	# its media type is the full text's (what the body is read as)
	if sed '/^$/q' "$T/view" | grep -Eq '^(From: .|To: .|Cc:|X-Mailer:|User-Agent:)'; then
		fail "$f: header lines in the bare view"
	fi
	"$DUMP" "$f" | sed '/^$/q' | grep '^Content-Type:' > "$T/type.full"
	sed '/^$/q' "$T/view" | grep '^Content-Type:' > "$T/type.bare"
	cmp -s "$T/type.full" "$T/type.bare" && [ -s "$T/type.bare" ] ||
		fail "$f: the bare view's media type differs"
	# 7-bit, text/plain (or none), not multipart: compare the whole text
	head=$(sed '/^\r\{0,1\}$/q' "$f")
	if LC_ALL=C grep -q "$(printf '[\200-\377]')" "$f" ||
	   printf '%s\n' "$head" | grep -Eiq '^content-type:[[:space:]]*(multipart|text/html|message)'; then
		continue
	fi
	compared=$((compared + 1))
	if cmp -s "$T/view" "$T/stripped"; then
		same=$((same + 1))
	else
		fail "$f: the bare view differs from the text without the lines"
		diff "$T/view" "$T/stripped" | head -5
	fi
done < "$T/list"
echo "bare view = text of the stripped message: $same of $compared compared (of 400)"
[ "$compared" -ge 100 ] || fail "only $compared messages compared"
[ "$fails" -eq 0 ] && rm -rf "$T"
finish test_header_views
