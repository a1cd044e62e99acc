# shellcheck shell=sh
# tests/dovecot-lib.sh - a private Dovecot for the feedback tests, sourced
# by test_dovecot_report.sh and test_memory_milter.sh after tests/lib.sh:
#	dovecot_start	makes $T (a temp dir nobody can reach), starts
#			Debian's Dovecot in it on 127.0.0.1:$port with
#			contrib/dovecot/90-gptmilter.conf and its two
#			IMAPSieve scripts piping to the built
#			gptmilter-report, which files into $T/spool; user
#			alice, password wonderland; dies with Dovecot's log
#			when it does not come up
#	dovecot_stop	stops it (the EXIT trap calls it)
# Needs root (Dovecot's master), $B (the build tree) and $PYTHON3. The
# mail processes, and so the sieve pipe, run as nobody:nogroup, which owns
# only the temp dir's mail and spool.

dovecot_need() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "FAIL: $1 must run as root (Dovecot's master needs it)"
		exit 1
	fi
	for p in dovecot sievec; do
		command -v $p > /dev/null 2>&1 || PATH=$PATH:/usr/sbin:/usr/bin
		command -v $p > /dev/null 2>&1 ||
			die "no $p: run contrib/install-deps.sh (dovecot-imapd, dovecot-sieve)"
	done
	[ -x "$B/src/feedback/gptmilter-report" ] || die "$B/src/feedback/gptmilter-report not built"
}

dovecot_stop() {
	if [ -n "${pid:-}" ]; then
		kill "$pid" 2> /dev/null
		i=0
		while kill -0 "$pid" 2> /dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		pid=
	fi
}

dovecot_start() {
	# nobody must be able to reach everything below the temp dir
	T=$(mktemp -d "${TMPDIR:-/tmp}/gptm-dovecot.XXXXXX") || exit 1
	chmod 755 "$T"
	pid=
	trap 'dovecot_stop; [ $fails = 0 ] && rm -rf "$T"; dovecot_cleanup_more' EXIT
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
	cat > "$T/dovecot.conf" <<-EOF
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
}

# dovecot_cleanup_more - a test's own cleanup, run on exit after Dovecot's
# (redefine it after sourcing)
dovecot_cleanup_more() { :; }
