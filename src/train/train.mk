# src/train/train.mk - build fragment (see Makefile.am)
#
# The trainer's core modules (tokens: the shared text -> ids truncation,
# optim: AdamW + schedules + clipping, corpus: mail sources, labels, dedup,
# split, metrics: classifier evaluation, scripts: the Unicode scripts of
# the text, recorded by the trainer and asked about by the milter and
# gptmilter-classify), and gptmilter-train itself.

# gptmilter-train
bin_PROGRAMS += src/train/gptmilter-train
src_train_gptmilter_train_SOURCES = src/train/main.c src/train/data.c \
	src/train/loop.c \
	src/train/report.c src/train/soup.c src/train/tokens.c \
	src/train/train.h
src_train_gptmilter_train_LDADD = $(CORE_LIBS)
# (its man page, man/gptmilter-train.1.in, is written with the paths:
# Makefile.am)

