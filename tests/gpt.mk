# tests/gpt.mk - build fragment (see Makefile.am)
