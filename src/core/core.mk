# src/core/core.mk - every source of the core library, libgptmilter.a, in
# the three parts of the data flow (ARCHITECTURE.md), the classifier on top.
# The other fragments list tests and programs only; bench/bench.mk the
# benchmarks.

# mail -> text -> ids
src_core_libgptmilter_a_SOURCES += \
	$(MAILTEXT_SOURCES) \
	src/core/bpe.c src/core/bpe.h \
	src/core/tokens.c src/core/tokens.h \
	src/core/scripts.c src/core/scripts.h

# files -> weights -> forward
src_core_libgptmilter_a_SOURCES += \
	src/core/mapfile.c src/core/mapfile.h \
	src/core/safetensors.c src/core/safetensors.h \
	src/core/bundle.c src/core/bundle.h \
	src/core/gpt.c src/core/gpt.h \
	src/core/layers.c src/core/layers.h \
	src/core/qmatmul.c src/core/qmatmul.h

# learning
src_core_libgptmilter_a_SOURCES += \
	src/core/gpt_train.c src/core/gpt_train.h \
	src/core/layers_backward.c src/core/layers_backward.h \
	src/core/optim.c src/core/optim.h \
	src/core/corpus.c src/core/corpus.h \
	src/core/metrics.c src/core/metrics.h

# on top: the decision and its second opinion (token statistics); shared by all: the errors every part reports in,
# the random stream every seeded draw starts from
src_core_libgptmilter_a_SOURCES += \
	src/core/classifier.c src/core/classifier.h \
	src/core/memory.c src/core/memory.h \
	src/core/tokenstats.c src/core/tokenstats.h \
	src/core/gptm_error.c src/core/gptm_error.h \
	src/core/splitmix.h

# mail -> text: the public API is mailtext.h; the fuzz target compiles
# these same files (tests/mailtext.mk) so that their coverage is seen.
MAILTEXT_SOURCES = \
	src/core/mailtext.c src/core/mailtext.h \
	src/core/mailinput.c src/core/mailinput.h \
	src/core/charset.c src/core/charset.h \
	src/core/html2text.c src/core/html2text.h \
	src/core/textbuf.c src/core/textbuf.h
