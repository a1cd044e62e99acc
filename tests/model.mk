# tests/model.mk - build fragment (see Makefile.am)
