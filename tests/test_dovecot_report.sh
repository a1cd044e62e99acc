#!/bin/sh
# test_dovecot_report.sh - the feedback intake end to end: a private Dovecot
# (Debian's dovecot-imapd + dovecot-sieve) on the loopback, configured with
# contrib/dovecot/90-gptmilter.conf and its two IMAPSieve scripts, and an
# IMAP client (Python's imaplib) that moves messages:
#   INBOX -> Junk        a spam report in SPOOL/spam/new, the same message
#   Junk -> INBOX        a ham report in SPOOL/ham/new
#   COPY INBOX -> Junk   a second spam report
#   Junk -> Trash        no ham report (deleting spam says nothing of ham)
# and nothing is left in the spool's tmp/.
#
# The instance lives in a temp dir (own base_dir, state_dir, log, port on
# 127.0.0.1, passwd-file users, maildirs). Dovecot's master must start as
# root (CI runs the tests as root); the mail processes, and so the sieve
# pipe to gptmilter-report, run as nobody:nogroup, which owns only the
# temp dir's mail and spool. When Dovecot cannot start or the report is
# missing the test fails and prints Dovecot's log; it never skips.
set -u
: "${top_srcdir:?}" "${PYTHON3:?}"
B=${top_builddir:-.}
. "$top_srcdir/tests/lib.sh"

. "$top_srcdir/tests/dovecot-lib.sh"
dovecot_need test_dovecot_report.sh
dovecot_start

$PYTHON3 - "$port" > "$T/imap.log" 2>&1 <<'PY' || fail "IMAP client failed: $(cat "$T/imap.log")"
import imaplib, sys, time
def msg(n, subject, body):
    return ("From: sender%d@example.com\r\nTo: alice@example.org\r\n"
            "Subject: %s\r\nMessage-ID: <m%d@example.com>\r\n\r\n%s\r\n"
            % (n, subject, n, body)).encode()
im = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
im.login("alice", "wonderland")
for n, s, b in ((1, "claim your prize now", "You won the lottery."),
                (2, "cheap pills", "Best prices online.")):
    typ, _ = im.append("INBOX", None, None, msg(n, s, b))
    assert typ == "OK", typ
def uid_of(box, subject):
    im.select(box)
    typ, data = im.uid("SEARCH", None, "HEADER", "Subject", '"%s"' % subject)
    assert typ == "OK" and data[0].split(), (box, subject, data)
    return data[0].split()[0].decode()
def move(src, subject, dst):
    typ, data = im.uid("MOVE", uid_of(src, subject), dst)
    assert typ == "OK", (src, dst, typ, data)
    print("moved %r %s -> %s" % (subject, src, dst))
move("INBOX", "claim your prize now", "Junk")   # spam report 1
move("Junk", "claim your prize now", "INBOX")   # ham report 1
typ, data = im.uid("COPY", uid_of("INBOX", "cheap pills"), "Junk")  # spam report 2
assert typ == "OK", (typ, data)
print("copied 'cheap pills' INBOX -> Junk")
move("Junk", "cheap pills", "Trash")            # no report
im.logout()
PY
cat "$T/imap.log"

count() { find "$T/spool/$1/new" -type f 2> /dev/null | wc -l; }
ns=$(count spam)
nh=$(count ham)
echo "spool: $ns spam reports, $nh ham reports"
[ "$ns" = 2 ] || fail "want 2 spam reports, got $ns"
[ "$nh" = 1 ] || fail "want 1 ham report, got $nh"
grep -lq 'Subject: claim your prize now' "$T"/spool/spam/new/* ||
	fail "the moved message is not among the spam reports"
grep -lq 'Subject: cheap pills' "$T"/spool/spam/new/* ||
	fail "the copied message is not among the spam reports"
grep -q 'Subject: claim your prize now' "$T"/spool/ham/new/* ||
	fail "the message moved out of Junk is not the ham report"
grep -q 'You won the lottery' "$T"/spool/ham/new/* || fail "the ham report lacks the body"
left=$(find "$T/spool/spam/tmp" "$T/spool/ham/tmp" -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left in the spool's tmp/"
# the reports were written by the mail user, readable by its group
owner=$(stat -c %U "$(find "$T/spool/spam/new" -type f | head -n 1)")
[ "$owner" = nobody ] || fail "report owned by $owner, not the mail user"

if [ $fails != 0 ]; then
	echo "--- dovecot log:"
	cat "$T/dovecot.log"
fi
finish test_dovecot_report
