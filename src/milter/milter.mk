# src/milter/milter.mk - build fragment (see Makefile.am)
