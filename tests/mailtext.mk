# tests/mailtext.mk - build fragment (see Makefile.am)
