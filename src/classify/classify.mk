# src/classify/classify.mk - build fragment (see Makefile.am)
