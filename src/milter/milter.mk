# src/milter/milter.mk - gptmilter(8), the milter daemon (owner: milter)
#
# Links the core library plus libmilter, libconfig and libmicrohttpd, which
# only the daemon uses (the core stays free of them).
sbin_PROGRAMS += src/milter/gptmilter
src_milter_gptmilter_SOURCES = src/milter/main.c \
	src/milter/conf.c src/milter/conf.h \
	src/milter/milter.c src/milter/milter.h \
	src/milter/pool.c src/milter/pool.h \
	src/milter/intake.c src/milter/intake.h \
	src/milter/policy.c src/milter/policy.h \
	src/milter/stats.c src/milter/stats.h \
	src/milter/setup.c src/milter/setup.h \
	src/milter/sigpark.c
src_milter_gptmilter_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(MHD_CFLAGS)
src_milter_gptmilter_LDADD = $(CORE_LIBS) $(LIBCONFIG_LIBS) $(MHD_LIBS) \
	$(MILTER_LIBS)
