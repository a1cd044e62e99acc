# src/feedback/feedback.mk - build fragment (see Makefile.am) (owner: feedback)
#
# Learning from users: gptmilter-report files what users move into or out
# of Junk in the feedback spool (contrib/dovecot/ has the IMAPSieve side);
# gptmilter-retrain retrains on it, promotes a better model and rolls back.
# Both are shell scripts with the install paths substituted at build time.

spooldir = $(localstatedir)/lib/gptmilter/feedback
feedbackmodelsdir = $(localstatedir)/lib/gptmilter/models
bin_SCRIPTS = src/feedback/gptmilter-report
sbin_SCRIPTS = src/feedback/gptmilter-retrain
# (their man pages are written from man/*.in with the paths: Makefile.am)
CLEANFILES += $(bin_SCRIPTS) $(sbin_SCRIPTS)
EXTRA_DIST += src/feedback/gptmilter-report.in src/feedback/gptmilter-retrain.in

feedback_edit = sed -e 's|@gptm_spooldir@|$(spooldir)|g' \
	-e 's|@gptm_modelsdir@|$(feedbackmodelsdir)|g' -e 's|@gptm_bindir@|$(bindir)|g' \
	-e 's|@gptm_sysconfdir@|$(sysconfdir)|g'

# Each script is its .in with the install paths filled in.
src/feedback/gptmilter-report: $(srcdir)/src/feedback/gptmilter-report.in
src/feedback/gptmilter-retrain: $(srcdir)/src/feedback/gptmilter-retrain.in
src/feedback/gptmilter-report src/feedback/gptmilter-retrain: Makefile
	$(MKDIR_P) src/feedback
	rm -f $@ $@.tmp
	$(feedback_edit) $(srcdir)/$@.in > $@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

# test_report.sh: gptmilter-report alone; refusals leave nothing behind.
# test_dovecot_report.sh: a private Dovecot on the loopback, an IMAP client
#   moves mail into and out of Junk, the reports land in the spool (root).
# test_retrain.sh: gptmilter-retrain on tiny models with a real milter:
#   refusal of a mislabelled candidate, promotion, rollback, history;
#   candidates trained from the origin, one worse on the held-out base set
#   refused (about a minute on one thread).
TESTS += tests/test_report.sh tests/test_dovecot_report.sh \
	tests/test_retrain.sh
dist_check_SCRIPTS += tests/test_report.sh tests/test_dovecot_report.sh \
	tests/test_retrain.sh
# tests/dovecot-lib.sh: the private Dovecot of the tests that need one
EXTRA_DIST += tests/dovecot-lib.sh

# Instant memory (src/core/memory.c, src/milter/intake.c):
# test_memory: the store alone (lookup, eviction, replacement, save/load,
#   every refusal of a broken or foreign file).
# test_memory_milter.sh: Dovecot move -> spool -> the milter's memory ->
#   a changed verdict under miltertest, and the milter with a corrupt,
#   foreign or full store (root, as test_dovecot_report.sh).
check_PROGRAMS += tests/test_memory
tests_test_memory_SOURCES = tests/test_memory.c
tests_test_memory_LDADD = $(CORE_LIBS)
TESTS += tests/test_memory
TESTS += tests/test_memory_milter.sh
dist_check_SCRIPTS += tests/test_memory_milter.sh
EXTRA_DIST += tests/milter/memory.lua tests/data/memory
