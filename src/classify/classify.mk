# src/classify/classify.mk - gptmilter-classify, the command-line classifier
bin_PROGRAMS += src/classify/gptmilter-classify
src_classify_gptmilter_classify_SOURCES = src/classify/main.c
src_classify_gptmilter_classify_LDADD = $(CORE_LIBS)
TESTS += tests/test_classify.sh
dist_check_SCRIPTS += tests/test_classify.sh
EXTRA_DIST += tests/data/classify

# the default model's figures, re-measured with gptmilter-classify
TESTS += tests/test_default_model.sh
dist_check_SCRIPTS += tests/test_default_model.sh

