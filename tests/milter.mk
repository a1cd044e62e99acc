# tests/milter.mk - tests of gptmilter(8) (owner: milter)
#
# test_policy: policy_decide() and the configuration loader, in C.
# test_conf_docs.sh: every key of the table in conf.c is in
#   conf/gptmilter.conf and man/gptmilter.conf.5.in, with its default.
# test_miltertest.sh: the milter protocol with miltertest(8), one Lua
#   script per case (tests/milter/t-*.lua + t-*.conf, OpenDKIM style).
# test_postfix.sh: a private Postfix instance on the loopback, smtp-sink
#   behind it, swaks in front (needs root for Postfix's master).
check_PROGRAMS += tests/milter/test_policy
tests_milter_test_policy_SOURCES = tests/milter/test_policy.c \
	src/milter/conf.c src/milter/policy.c src/core/gptm_error.c
tests_milter_test_policy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/milter
tests_milter_test_policy_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONGLIB_CFLAGS)
tests_milter_test_policy_LDADD = $(LIBCONFIG_LIBS) $(GLIB_LIBS)
# test_pool.sh: the worker pool (batching, timeout, full queue, model
#   swap) on two tiny random models.
check_PROGRAMS += tests/milter/test_pool
tests_milter_test_pool_SOURCES = tests/milter/test_pool.c \
	src/milter/pool.c src/milter/pool.h
tests_milter_test_pool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/milter
tests_milter_test_pool_LDADD = $(CORE_LIBS)
TESTS += tests/milter/test_pool.sh
dist_check_SCRIPTS += tests/milter/test_pool.sh
# swap_preload.so: an LD_PRELOAD shim for test_miltertest.sh that swaps
#   the socket for a symbolic link right after bind() (the chown race);
#   built without the sanitizers, which want to come first when preloaded.
check_PROGRAMS += tests/milter/swap_preload.so
tests_milter_swap_preload_so_SOURCES = tests/milter/swap_preload.c
tests_milter_swap_preload_so_CFLAGS = -fPIC -O2 -Wall -Wextra $(WERROR_CFLAGS)
tests_milter_swap_preload_so_LDFLAGS = -shared
tests_milter_swap_preload_so_LDADD = -ldl
TESTS += tests/milter/test_policy tests/milter/test_conf_docs.sh \
	tests/milter/test_miltertest.sh tests/milter/test_postfix.sh
dist_check_SCRIPTS += tests/milter/test_conf_docs.sh \
	tests/milter/test_miltertest.sh tests/milter/test_postfix.sh
EXTRA_DIST += tests/milter/common.lua tests/milter/q-client.lua \
	tests/milter/q-open.lua tests/milter/conn-hold.py \
	$(MILTERTEST_CASES)
MILTERTEST_CASES = tests/milter/postfix-lib.sh \
	tests/milter/t-8bit.lua tests/milter/t-auth.conf tests/milter/t-auth.lua \
	tests/milter/t-badmodel.conf tests/milter/t-badmodel.lua \
	tests/milter/t-empty.lua tests/milter/t-forged.conf \
	tests/milter/t-forged.lua tests/milter/t-ham.conf tests/milter/t-ham.lua \
	tests/milter/t-large.conf tests/milter/t-large.lua \
	tests/milter/t-multiclass.conf tests/milter/t-multiclass.lua \
	tests/milter/t-padded.conf tests/milter/t-padded.lua \
	tests/milter/t-nomodel.conf tests/milter/t-nomodel.lua \
	tests/milter/t-quarantine.conf tests/milter/t-quarantine.lua \
	tests/milter/t-reject.conf tests/milter/t-reject.lua \
	tests/milter/t-modelthr.conf tests/milter/t-modelthr.lua \
	tests/milter/t-thrnum.conf tests/milter/t-thrnum.lua \
	tests/milter/t-thrreload.lua \
	tests/milter/t-reload.lua tests/milter/t-script.conf \
	tests/milter/t-script.lua tests/milter/t-spam.conf \
	tests/milter/t-spam.lua tests/milter/t-timeout.conf \
	tests/milter/t-timeout.lua tests/milter/t-trusted.conf \
	tests/milter/t-trusted.lua

# test_score_agree.sh: a three-label model scored by gptmilter,
#   gptmilter-classify and gptmilter-train eval gives one spam score and
#   verdict; eval reads an empty text with the ids the serving path reads
#   (classifier_text_score) when the tokenizer lacks <|endoftext|>.
check_PROGRAMS += tests/classifier_text_score
tests_classifier_text_score_SOURCES = tests/classifier_text_score.c
tests_classifier_text_score_LDADD = $(CORE_LIBS)
TESTS += tests/test_score_agree.sh
dist_check_SCRIPTS += tests/test_score_agree.sh
EXTRA_DIST += tests/milter/agree.lua

