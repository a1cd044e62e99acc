# src/train/train.mk - build fragment (see Makefile.am)
