# tests/train.mk - build fragment (see Makefile.am)
