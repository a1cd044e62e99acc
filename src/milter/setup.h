/*
 * setup.h - what gptmilter(8) sets up at start and takes down at exit
 *
 * Owns: the milter socket (reading its spec as libmilter will; creating a
 * unix socket with its mode and owner without following links), the pid
 * file, the change of user, inherited descriptors, removing the socket
 * and the pid file at exit; and the checks that `gptmilter -n` shares with
 * start-up (setup_check), plus the warnings about risky settings.
 *	if (!setup_check(conf, &error)) ...        // -n and start alike
 *	g_autoptr(GPtrArray) w = setup_risks(conf);
 *	setup_open_socket(conf, &sock, &error);    // as root
 * Not here: the order of start-up, signals (main.c).
 * Errors: FALSE with a GError that names the setting, its value and,
 * for a system call, strerror.
 * Checked by: tests/milter/test_miltertest.sh (-n refusals and warnings,
 * the symlink swap, descriptors, clean-up after -u).
 */
#ifndef GPTM_MILTER_SETUP_H
#define GPTM_MILTER_SETUP_H

#include <glib.h>
#include <sys/types.h>

#include "conf.h"

/* The unix socket created at start (path NULL for inet), to be removed at
 * exit only if it is still the same file. */
typedef struct {
	char *path;
	dev_t dev;
	ino_t ino;
} SetupSocket;

/* setup_close_inherited_fds - close every descriptor above 2 */
void setup_close_inherited_fds(void);
/* setup_check - everything start-up checks before it changes anything:
 * the socket spec (refusing what libmilter would misread: a bare port, a
 * relative path, an unknown scheme or host) and a unix socket's
 * directory, socket_owner, user, pidfile's directory, metrics.listen */
gboolean setup_check(const MilterConf *c, GError **error);
/* setup_risks - one warning per risky setting (strings), maybe none */
GPtrArray *setup_risks(const MilterConf *c);
/* setup_open_socket - listen on c->socket (mode and owner set without
 * following links); SOCK records a unix socket for setup_cleanup */
gboolean setup_open_socket(const MilterConf *c, SetupSocket *sock,
			   GError **error);
/* setup_drop_privileges - become c->user (root only; the same is fine) */
gboolean setup_drop_privileges(const MilterConf *c, GError **error);
gboolean setup_write_pidfile(const char *path, GError **error);
/* setup_cleanup - remove the pid file and SOCK's socket at exit; what
 * cannot be removed (after -u, in a directory the user cannot write) is
 * logged with the reason */
void setup_cleanup(SetupSocket *sock, const char *pidfile);

#endif
