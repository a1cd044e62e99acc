# src/classify/classify.mk - gptmilter-classify, the command-line classifier
bin_PROGRAMS += src/classify/gptmilter-classify
src_classify_gptmilter_classify_SOURCES = src/classify/main.c
src_classify_gptmilter_classify_LDADD = $(CORE_LIBS)
TESTS += tests/test_classify.sh
dist_check_SCRIPTS += tests/test_classify.sh
EXTRA_DIST += tests/data/classify

# The default model, bundled and installed; `make model` rebuilds it from
# scratch (contrib/make-default-model.sh).
defaultmodeldir = $(pkgdatadir)/models/default
dist_defaultmodel_DATA = models/default/config.json \
	models/default/model.safetensors models/default/encoder.json \
	models/default/vocab.bpe
TESTS += tests/test_default_model.sh
dist_check_SCRIPTS += tests/test_default_model.sh
model: src/train/gptmilter-train
	PYTHON3='$(PYTHON3)' $(SHELL) $(top_srcdir)/contrib/make-default-model.sh .
.PHONY: model
EXTRA_DIST += bench/bench_accuracy.sh bench/bench_accuracy.py \
	bench/bench_model_speed.sh
