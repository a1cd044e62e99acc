# src/feedback/feedback.mk - build fragment (see Makefile.am) (owner: feedback)
#
# Learning from users: gptmilter-report files what users move into or out
# of Junk in the feedback spool (contrib/dovecot/ has the IMAPSieve side);
# gptmilter-retrain retrains on it, promotes a better model and rolls back.
# Both are shell scripts with the install paths substituted at build time.

spooldir = $(localstatedir)/lib/gptmilter/feedback
bin_SCRIPTS = src/feedback/gptmilter-report
dist_man_MANS += man/gptmilter-report.1
CLEANFILES += $(bin_SCRIPTS)
EXTRA_DIST += src/feedback/gptmilter-report.in

feedback_edit = sed -e 's|@spooldir@|$(spooldir)|g'

src/feedback/gptmilter-report: $(srcdir)/src/feedback/gptmilter-report.in Makefile
	$(MKDIR_P) src/feedback
	rm -f $@ $@.tmp
	$(feedback_edit) $(srcdir)/src/feedback/gptmilter-report.in > $@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

# test_report.sh: gptmilter-report alone; refusals leave nothing behind.
# test_dovecot_report.sh: a private Dovecot on the loopback, an IMAP client
#   moves mail into and out of Junk, the reports land in the spool (root).
TESTS += tests/test_report.sh tests/test_dovecot_report.sh
dist_check_SCRIPTS += tests/test_report.sh tests/test_dovecot_report.sh
