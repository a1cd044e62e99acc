# tests/model.mk - model I/O (owner: model-io): mmap'd files, safetensors,
# the Hugging Face bundle directory; their tests and the safetensors fuzzer.

# test_model.sh writes tiny bundles with gen_tiny_model.py (numpy only; the
# forward tests use the same generator) and runs test_bundle on them, and
# test_safetensors (its own data).
check_PROGRAMS += tests/test_safetensors tests/test_bundle
tests_test_safetensors_SOURCES = tests/test_safetensors.c tests/st_util.h
tests_test_safetensors_LDADD = $(CORE_LIBS)
tests_test_bundle_SOURCES = tests/test_bundle.c tests/st_util.h
tests_test_bundle_LDADD = $(CORE_LIBS)
TESTS += tests/test_model.sh
dist_check_SCRIPTS += tests/test_model.sh tests/gen_tiny_model.py

# contrib/fetch-gpt2.sh (real GPT-2 weights from Hugging Face) against a
# file:// mirror of a tiny model (contrib/ is in EXTRA_DIST whole).
TESTS += tests/test_fetch_gpt2.sh
dist_check_SCRIPTS += tests/test_fetch_gpt2.sh

# libFuzzer target: CC=clang ../configure --enable-fuzzers, then
# make tests/fuzz_safetensors && tests/fuzz_safetensors tests/fuzz/safetensors
EXTRA_DIST += tests/fuzz/safetensors tests/fuzz/safetensors.dict
if FUZZERS
EXTRA_PROGRAMS += tests/fuzz_safetensors
# The parser is compiled into the target itself, so that it carries the
# fuzzer's coverage instrumentation (the core library does not).
tests_fuzz_safetensors_SOURCES = tests/fuzz_safetensors.c \
	src/core/safetensors.c src/core/mapfile.c
tests_fuzz_safetensors_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_safetensors_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_safetensors_LDADD = $(JSONGLIB_LIBS) $(GLIB_LIBS)
endif
# replay_safetensors: the fuzz target's entry point on every seed of
# tests/fuzz/safetensors, built with the normal compiler.
check_PROGRAMS += tests/replay_safetensors
TESTS += tests/replay_safetensors
tests_replay_safetensors_SOURCES = tests/fuzz_safetensors.c tests/fuzz_replay.c
tests_replay_safetensors_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_SEEDS=\"$(abs_top_srcdir)/tests/fuzz/safetensors\"
tests_replay_safetensors_LDADD = $(CORE_LIBS)
