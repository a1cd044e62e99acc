/*
 * swap_preload.c - an LD_PRELOAD shim that plays the adversary of
 * gptmilter's socket set-up: right after bind() creates a unix socket
 * whose path is $SWAP_SOCKET, it moves the socket aside and puts a
 * symbolic link to $SWAP_TARGET in its place, the race a user who can
 * write the socket's directory would try to win. A daemon that then sets
 * the mode or owner by name (chmod, chown) changes $SWAP_TARGET instead.
 * Used by tests/milter/test_miltertest.sh; the race is made certain
 * rather than left to timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
		(int (*)(int, const struct sockaddr *, socklen_t))
		dlsym(RTLD_NEXT, "bind");
	int r = real(fd, sa, len);
	const char *want = getenv("SWAP_SOCKET");
	const char *target = getenv("SWAP_TARGET");

	if (r == 0 && want && target && sa->sa_family == AF_UNIX &&
	    strcmp(((const struct sockaddr_un *) sa)->sun_path, want) == 0) {
		char moved[sizeof(((struct sockaddr_un *) 0)->sun_path) + 8];
		snprintf(moved, sizeof(moved), "%s.moved", want);
		if (rename(want, moved) != 0 || symlink(target, want) != 0)
			perror("swap_preload");
	}
	return r;
}
