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

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: test_dovecot_report.sh must run as root (Dovecot's master needs it)"
	exit 1
fi
for p in dovecot sievec; do
	command -v $p > /dev/null 2>&1 || PATH=$PATH:/usr/sbin:/usr/bin
	command -v $p > /dev/null 2>&1 ||
		die "no $p: run contrib/install-deps.sh (dovecot-imapd, dovecot-sieve)"
done
[ -x "$B/src/feedback/gptmilter-report" ] || die "$B/src/feedback/gptmilter-report not built"

# nobody must be able to reach everything below the temp dir
T=$(mktemp -d "${TMPDIR:-/tmp}/gptm-dovecot.XXXXXX") || exit 1
chmod 755 "$T"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2> /dev/null
		i=0
		while kill -0 "$pid" 2> /dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	[ $fails = 0 ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

port=$($PYTHON3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/run" "$T/state" "$T/mail" "$T/spool" "$T/sieve/bin"
chown nobody:nogroup "$T/mail" "$T/spool"

# The contrib files as an administrator installs them, with the paths of
# /etc/dovecot/sieve/gptmilter moved into the temp dir.
sed "s|/etc/dovecot/sieve/gptmilter|$T/sieve|g" \
	"$top_srcdir/contrib/dovecot/90-gptmilter.conf" > "$T/90-gptmilter.conf"
cp "$top_srcdir/contrib/dovecot/report-spam.sieve" \
	"$top_srcdir/contrib/dovecot/report-ham.sieve" "$T/sieve/"
# The program the scripts pipe to: the built gptmilter-report, told where
# the test's spool is.
cp "$B/src/feedback/gptmilter-report" "$T/report"
printf '#!/bin/sh\nGPTMILTER_SPOOL=%s/spool exec /bin/sh %s/report "$@"\n' "$T" "$T" \
	> "$T/sieve/bin/gptmilter-report"
chmod 755 "$T/report" "$T/sieve/bin/gptmilter-report"

printf 'alice:{PLAIN}wonderland::::::\n' > "$T/passwd"
cat > "$T/dovecot.conf" <<EOF
instance_name = gptm-test-$$
base_dir = $T/run
state_dir = $T/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = $T/dovecot.log
mail_debug = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN $T/passwd
}
userdb {
  driver = passwd-file
  args = $T/passwd
  default_fields = uid=nobody gid=nogroup home=$T/mail/%u
}
mail_location = maildir:$T/mail/%u/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Junk {
    auto = create
    special_use = \\Junk
  }
  mailbox Trash {
    auto = create
    special_use = \\Trash
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
!include $T/90-gptmilter.conf
EOF

# The scripts compile (as the administrator's install step does).
for s in report-spam report-ham; do
	sievec -c "$T/dovecot.conf" "$T/sieve/$s.sieve" > "$T/sievec.log" 2>&1 ||
		{ cat "$T/sievec.log"; fail "sievec $s.sieve failed"; exit 1; }
done

dovecot -F -c "$T/dovecot.conf" > "$T/master.out" 2>&1 &
pid=$!
up=0
i=0
while [ $i -lt 100 ]; do
	if ! kill -0 "$pid" 2> /dev/null; then
		break
	fi
	if $PYTHON3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		"$port" 2> /dev/null; then
		up=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ $up = 0 ]; then
	echo "--- dovecot output:"
	cat "$T/master.out" "$T/dovecot.log" 2> /dev/null
	fail "dovecot did not start on 127.0.0.1:$port"
	exit 1
fi

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
