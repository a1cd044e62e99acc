# tests/gpt.mk - the GPT-2 forward pass (owner: forward): its kernels and
# model code in the core library, the tests against an independent forward
# (tests/gpt_ref.py on tests/gpt_torch.py), and the speed benchmark.
src_core_libgptmilter_a_SOURCES += src/core/layers.c src/core/layers.h
src_core_libgptmilter_a_SOURCES += src/core/gpt.c

# test_gpt_forward.py writes tiny bundles with gen_tiny_model.py, runs
# gpt_forward_dump on them and compares with the reference pass of gpt_ref.py.
check_PROGRAMS += tests/gpt_forward_dump
tests_gpt_forward_dump_SOURCES = tests/gpt_forward_dump.c
tests_gpt_forward_dump_LDADD = $(CORE_LIBS)
TESTS += tests/test_gpt_forward.py
dist_check_SCRIPTS += tests/test_gpt_forward.py tests/gpt_ref.py \
	tests/gpt_torch.py

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
