# tests/mailtext.mk - build fragment (see Makefile.am): the tests and fuzz
# target of message to text (src/core/mailtext.c and the
# files it uses: MAILTEXT_SOURCES in src/core/core.mk).

# mailtext_dump FILE: the text the model reads, for people and for
# test_mailtext.sh (exact outputs in tests/data/mailtext/*.txt; charset
# detection per script from tests/data/mailtext/detect/*.utf8).
check_PROGRAMS += tests/mailtext_dump tests/test_mailtext_corpus \
	tests/test_mailtext_charsets
tests_mailtext_dump_SOURCES = tests/mailtext_dump.c
tests_mailtext_dump_LDADD = $(CORE_LIBS)
tests_test_mailtext_corpus_SOURCES = tests/test_mailtext_corpus.c
tests_test_mailtext_corpus_LDADD = $(CORE_LIBS)
# test_mailtext_charsets: sender-chosen charset names cost no memory
tests_test_mailtext_charsets_SOURCES = tests/test_mailtext_charsets.c
tests_test_mailtext_charsets_LDADD = $(CORE_LIBS)
TESTS += tests/test_mailtext.sh tests/test_mailtext_corpus \
	tests/test_mailtext_charsets
dist_check_SCRIPTS += tests/test_mailtext.sh
EXTRA_DIST += tests/data/mailtext tests/fuzz/mailtext tests/fuzz/mailtext.dict


# libFuzzer target: CC=clang ../configure --enable-fuzzers, then
# make tests/fuzz_mailtext && tests/fuzz_mailtext -timeout=10 \
#	-rss_limit_mb=2048 -max_len=8192 \
#	-dict=$(top_srcdir)/tests/fuzz/mailtext.dict WORK_DIR tests/fuzz/mailtext
# The mailtext sources are compiled into it so that their coverage is
# instrumented.
if FUZZERS
EXTRA_PROGRAMS += tests/fuzz_mailtext
tests_fuzz_mailtext_SOURCES = tests/fuzz_mailtext.c $(MAILTEXT_SOURCES)
tests_fuzz_mailtext_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_mailtext_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_mailtext_LDADD = $(GMIME_LIBS) $(LIBXML_LIBS) $(UCHARDET_LIBS) \
	$(GLIB_LIBS)
endif
# replay_mailtext: the fuzz target's entry point on every seed of
# tests/fuzz/mailtext, built with the normal compiler.
check_PROGRAMS += tests/replay_mailtext
TESTS += tests/replay_mailtext
tests_replay_mailtext_SOURCES = tests/fuzz_mailtext.c tests/fuzz_replay.c
tests_replay_mailtext_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_SEEDS=\"$(abs_top_srcdir)/tests/fuzz/mailtext\"
tests_replay_mailtext_LDADD = $(CORE_LIBS)
