# tests/train.mk - build fragment (see Makefile.am)
#
# Trainer tests: optim, metrics and corpus units; gptmilter-train end to end.

check_PROGRAMS += tests/test_optim tests/test_metrics tests/test_scripts
TESTS += tests/test_optim tests/test_metrics tests/test_scripts
tests_test_scripts_SOURCES = tests/test_scripts.c
tests_test_scripts_LDADD = $(CORE_LIBS)
tests_test_optim_SOURCES = tests/test_optim.c
tests_test_optim_LDADD = $(CORE_LIBS)
tests_test_metrics_SOURCES = tests/test_metrics.c
tests_test_metrics_LDADD = $(CORE_LIBS)
EXTRA_DIST += tests/data/train tests/train_lib.sh

# corpus readers on tests/data/train (needs NODE_MODULES for the tokenizer);
# test_train.sh: gptmilter-train end to end on a tiny model (about 30 s);
# test_header_views.sh: the bare-header view of --header-dropout
check_PROGRAMS += tests/test_corpus
TESTS += tests/test_corpus tests/test_train.sh tests/test_header_views.sh
tests_test_corpus_SOURCES = tests/test_corpus.c
tests_test_corpus_LDADD = $(CORE_LIBS)
dist_check_SCRIPTS += tests/test_train.sh tests/test_header_views.sh

# test_train_oppoint.sh: the operating point a small retrain records keeps
# the base's; an unmeasurable --target-fpr is raised (about 15 s)
TESTS += tests/test_train_oppoint.sh
dist_check_SCRIPTS += tests/test_train_oppoint.sh

# test_tokens.sh: gptmilter-train tokens into a tiny bundle, the mix as
# gptmilter-classify and eval score it, bad token model files refused
# (about 10 s); test_tokenstats: the token model's unit tests, its file's
# strict parser
TESTS += tests/test_tokens.sh tests/test_tokenstats
dist_check_SCRIPTS += tests/test_tokens.sh
check_PROGRAMS += tests/test_tokenstats
tests_test_tokenstats_SOURCES = tests/test_tokenstats.c
tests_test_tokenstats_LDADD = $(CORE_LIBS)

# libFuzzer target of the token model's file parser: CC=clang ../configure
# --enable-fuzzers, then make tests/fuzz_tokenstats &&
# tests/fuzz_tokenstats WORK_DIR tests/fuzz/tokenstats; replay_tokenstats
# runs its entry point on the seeds in make check (and check-asan).
EXTRA_DIST += tests/fuzz/tokenstats
if FUZZERS
EXTRA_PROGRAMS += tests/fuzz_tokenstats
# the parser compiled into the target, for the fuzzer's coverage; the rest
# from the core library
tests_fuzz_tokenstats_SOURCES = tests/fuzz_tokenstats.c src/core/tokenstats.c
tests_fuzz_tokenstats_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_tokenstats_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_tokenstats_LDADD = $(CORE_LIBS)
endif
check_PROGRAMS += tests/replay_tokenstats
TESTS += tests/replay_tokenstats
tests_replay_tokenstats_SOURCES = tests/fuzz_tokenstats.c tests/fuzz_replay.c
tests_replay_tokenstats_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_SEEDS=\"$(abs_top_srcdir)/tests/fuzz/tokenstats\"
tests_replay_tokenstats_LDADD = $(CORE_LIBS)

# backward (owner: backward): the training passes in the core library, a
# finite-difference gradient check, and one full step against PyTorch
# (train_step_dump writes the C side, test_train_torch.py recomputes it).
check_PROGRAMS += tests/test_train_grad tests/train_step_dump
TESTS += tests/test_train_grad tests/test_train_torch.py
tests_test_train_grad_SOURCES = tests/test_train_grad.c
tests_test_train_grad_LDADD = $(CORE_LIBS)
tests_train_step_dump_SOURCES = tests/train_step_dump.c
tests_train_step_dump_LDADD = $(CORE_LIBS)
dist_check_SCRIPTS += tests/test_train_torch.py
# end backward
