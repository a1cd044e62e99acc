# tests/gpt.mk - the tests of the GPT-2 forward pass (layers.c, gpt.c)
# against an independent forward (tests/gpt_ref.py on tests/gpt_torch.py).

# test_gpt_forward.py writes tiny bundles with gen_tiny_model.py, runs
# gpt_forward_dump on them and compares with the reference pass of gpt_ref.py.
check_PROGRAMS += tests/gpt_forward_dump
tests_gpt_forward_dump_SOURCES = tests/gpt_forward_dump.c
tests_gpt_forward_dump_LDADD = $(CORE_LIBS)
TESTS += tests/test_gpt_forward.py
dist_check_SCRIPTS += tests/test_gpt_forward.py tests/gpt_ref.py \
	tests/gpt_torch.py


# test_attention: attention_forward and attention_forward_bf16 against a
# float64 reference and each other (src/core/layers.c).
check_PROGRAMS += tests/test_attention
tests_test_attention_SOURCES = tests/test_attention.c tests/check.h
tests_test_attention_LDADD = $(CORE_LIBS)
TESTS += tests/test_attention

# test_qmatmul: the int8 product, every path this CPU has against the
# generic one and the definition (src/core/qmatmul.c).
check_PROGRAMS += tests/test_qmatmul
tests_test_qmatmul_SOURCES = tests/test_qmatmul.c tests/check.h
tests_test_qmatmul_LDADD = $(CORE_LIBS)
TESTS += tests/test_qmatmul

# test_int8.py: int8 bundles (gen_tiny_model.py --dtype int8, gptmilter-train
# quantize) through the int8 forward against gpt_ref.py, and broken ones.
TESTS += tests/test_int8.py
dist_check_SCRIPTS += tests/test_int8.py
