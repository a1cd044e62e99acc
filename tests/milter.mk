# tests/milter.mk - build fragment (see Makefile.am)
