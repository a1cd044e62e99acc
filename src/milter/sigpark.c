/*
 * sigpark.c - libmilter's signal thread never takes a signal
 *
 * Owns: this program's definition of sigwait(3). libmilter starts a thread
 * in smfi_main() that waits with sigwait() for SIGHUP, SIGTERM and SIGINT
 * and stops the milter on any of them. gptmilter handles those signals
 * itself (main.c: the main thread takes them and reloads or drains), but a
 * process-directed signal goes to whichever thread can take it, and a
 * thread waiting in sigwait() can while the main thread cannot (it has a
 * signal pending, for one): under a storm of SIGHUPs libmilter took one
 * and the daemon stopped (seen in CI, after 87 of 300 rounds of
 * test_miltertest.sh's signal storm). The executable's sigwait() comes
 * first in symbol lookup, for libmilter.so as for libmilter.a, so
 * libmilter's thread calls this one, which parks the thread for good
 * without taking any signal; every signal then reaches the main thread's
 * handler or gptmilter's own sigwaitinfo() thread. Stopping the milter
 * does not need that thread: smfi_stop() ends the loop without it.
 * Nothing else in this program calls sigwait(): its own waits use
 * sigwaitinfo(), which this does not replace.
 * Checked by: tests/milter/test_miltertest.sh ("signal storm").
 */
#include "config.h"

#include <signal.h>
#include <unistd.h>

int sigwait(const sigset_t *set, int *sig);

/* sigwait - park the calling thread (libmilter's signal thread) for good */
int
sigwait(const sigset_t *set, int *sig)
{
	(void) set;
	(void) sig;
	for (;;)
		pause();	/* its signals are blocked: it sleeps on */
}
