# src/classify/classify.mk - gptmilter-classify, the command-line classifier
bin_PROGRAMS += src/classify/gptmilter-classify
src_classify_gptmilter_classify_SOURCES = src/classify/main.c
src_classify_gptmilter_classify_LDADD = $(CORE_LIBS)
dist_man_MANS += man/gptmilter-classify.1
TESTS += tests/test_classify.sh
dist_check_SCRIPTS += tests/test_classify.sh
EXTRA_DIST += tests/data/classify
