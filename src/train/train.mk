# src/train/train.mk - build fragment (see Makefile.am)
#
# The trainer's core modules (tokens: the shared text -> ids truncation,
# optim: AdamW + schedules + clipping, corpus: mail sources, labels, dedup,
# split, metrics: classifier evaluation, scripts: the Unicode scripts of
# the text, recorded by the trainer and asked about by the milter and
# gptmilter-classify), and gptmilter-train itself.
src_core_libgptmilter_a_SOURCES += \
	src/core/tokens.h src/core/tokens.c \
	src/core/optim.h src/core/optim.c \
	src/core/metrics.h src/core/metrics.c \
	src/core/corpus.h src/core/corpus.c \
	src/core/scripts.h src/core/scripts.c

# gptmilter-train
bin_PROGRAMS += src/train/gptmilter-train
src_train_gptmilter_train_SOURCES = src/train/main.c src/train/data.c \
	src/train/loop.c \
	src/train/report.c src/train/soup.c src/train/train.h
src_train_gptmilter_train_LDADD = $(CORE_LIBS)
# (its man page, man/gptmilter-train.1.in, is written with the paths:
# Makefile.am)

# Training throughput vs PyTorch: make bench/bench_train, then
# sh $(top_srcdir)/bench/bench_train.sh from the build directory.
EXTRA_PROGRAMS += bench/bench_train
bench_bench_train_SOURCES = bench/bench_train.c
bench_bench_train_LDADD = $(CORE_LIBS)
EXTRA_DIST += bench/bench_train.sh bench/bench_train_torch.py \
	bench/kfold_robinson.py bench/spamprobe.sh \
	bench/bench_kfold.sh bench/bench_oppoint.sh
