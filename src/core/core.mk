# src/core/core.mk - the core library: sources owned by the lead; other
# areas add theirs with += in their own fragment (tests/*.mk).
src_core_libgptmilter_a_SOURCES += \
	src/core/classifier.c src/core/classifier.h \
	src/core/gpt.h src/core/gpt_train.h src/core/bundle.h \
	src/core/safetensors.h src/core/mapfile.h src/core/bpe.h \
	src/core/mailtext.h
