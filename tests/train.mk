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
