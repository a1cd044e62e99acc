# tests/bpe.mk - build fragment (see Makefile.am)
