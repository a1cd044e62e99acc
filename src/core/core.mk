# src/core/core.mk - the core library: sources owned by the lead; other
# areas add theirs with += in their own fragment (tests/*.mk).
src_core_libgptmilter_a_SOURCES += \
	src/core/classifier.c src/core/classifier.h \
	src/core/gptm_error.c src/core/gptm_error.h \
	src/core/gpt.h src/core/gpt_train.h src/core/bundle.h \
	src/core/safetensors.h src/core/mapfile.h src/core/bpe.h \
	src/core/mailtext.h \
	$(MAILTEXT_SOURCES)

# mail -> text: the public API is mailtext.h; the fuzz target compiles
# these same files (tests/mailtext.mk) so that their coverage is seen.
MAILTEXT_SOURCES = \
	src/core/mailtext.c src/core/mailinput.c src/core/mailinput.h \
	src/core/charset.c src/core/charset.h \
	src/core/html2text.c src/core/html2text.h \
	src/core/textbuf.c src/core/textbuf.h
