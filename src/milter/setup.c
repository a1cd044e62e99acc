/*
 * setup.c - what gptmilter(8) sets up at start and takes down at exit
 *
 * Owns: see setup.h. Two rules shape it. First, `gptmilter -n` (systemd's
 * ExecStartPre) must refuse whatever start-up would refuse, so both call
 * setup_check() before anything is changed. Second, the daemon starts as
 * root and the socket's directory may be writable by someone else (the
 * daemon's own user, after -u): nothing done there as root may follow a
 * link. So a unix socket gets its mode from the umask in force when
 * libmilter binds it (no chmod by name), and its owner through a
 * descriptor opened with O_PATH | O_NOFOLLOW on the socket itself, after
 * checking that this is a socket: a link or a hard-linked file swapped in
 * between bind and chown is refused, never changed.
 * Not here: the order of start-up, signals (main.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "milter.h"
#include "setup.h"

/* setup_close_inherited_fds - whatever the parent left open (a log, a
 * socket) would stay open for the daemon's life, in every child too */
void
setup_close_inherited_fds(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);	/* kernels before 5.9 */
	for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
		close((int) fd);
}

static gboolean
is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* is_dir - does DIR exist as a directory; *E the errno if not */
static gboolean
is_dir(const char *dir, int *e)
{
	struct stat st;
	*e = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	return *e == 0;
}

/* inet_spec - "port@host" of an inet or inet6 spec, as libmilter reads it
 * (host optional: every interface); *WILDCARD says it listens on all */
static gboolean
inet_spec(const char *spec, const char *rest, int family,
	  gboolean *wildcard, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(rest, "@", 2);
	const char *port = parts[0], *host = parts[1];
	guint64 n;

	if (is_number(port) ?
	    !g_ascii_string_to_unsigned(port, 10, 1, 65535, &n, NULL) :
	    getservbyname(port, "tcp") == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "socket \"%s\": port \"%s\" is not 1 .. 65535 or "
			    "a known service", spec, port);
		return FALSE;
	}
	*wildcard = host == NULL || *host == '\0';
	if (*wildcard)
		return TRUE;
	struct addrinfo hints = { 0 }, *ai = NULL;
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0 || ai == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "socket \"%s\": host \"%s\": %s", spec, host,
			    gai_strerror(r));
		return FALSE;
	}
	if (family == AF_INET) {
		const struct sockaddr_in *a = (void *) ai->ai_addr;
		*wildcard = a->sin_addr.s_addr == htonl(INADDR_ANY);
	} else {
		const struct sockaddr_in6 *a = (void *) ai->ai_addr;
		*wildcard = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
	}
	freeaddrinfo(ai);
	return TRUE;
}

/* socket_spec - check SPEC; *PATH (owned) is the file of a unix socket */
static gboolean
socket_spec(const char *spec, char **path, gboolean *wildcard,
	    GError **error)
{
	const char *file = NULL;
	int e;

	*path = NULL;
	*wildcard = FALSE;
	if (g_str_has_prefix(spec, "inet:"))
		return inet_spec(spec, spec + 5, AF_INET, wildcard, error);
	if (g_str_has_prefix(spec, "inet6:"))
		return inet_spec(spec, spec + 6, AF_INET6, wildcard, error);
	if (g_str_has_prefix(spec, "unix:"))
		file = spec + 5;
	else if (g_str_has_prefix(spec, "local:"))
		file = spec + 6;
	else if (is_number(spec)) {
		/* libmilter takes it for a file name in the current
		 * directory: refuse rather than guess which was meant */
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "socket \"%s\": a bare port is not a socket (it "
			    "would be a unix socket file named %s in the "
			    "current directory); for TCP write "
			    "inet:%s@127.0.0.1", spec, spec, spec);
		return FALSE;
	} else if (spec[0] == '/')
		file = spec;
	else {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "socket \"%s\": expected unix:/path, "
			    "inet:port@host or inet6:port@host", spec);
		return FALSE;
	}
	if (file[0] != '/' ||
	    strlen(file) >= sizeof(((struct sockaddr_un *) 0)->sun_path)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "socket \"%s\": a unix socket needs an absolute "
			    "path of at most %zu bytes", spec,
			    sizeof(((struct sockaddr_un *) 0)->sun_path) - 1);
		return FALSE;
	}
	g_autofree char *dir = g_path_get_dirname(file);
	if (!is_dir(dir, &e)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
			    "socket \"%s\": directory %s: %s", spec, dir,
			    g_strerror(e));
		return FALSE;
	}
	*path = g_strdup(file);
	return TRUE;
}

/* lookup_user - "user[:group]" to ids; FALSE with a message naming KEY */
static gboolean
lookup_user(const char *key, const char *spec, uid_t *uid, gid_t *gid,
	    char **name, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(spec, ":", 2);
	struct passwd *pw = getpwnam(parts[0]);
	if (pw == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s = \"%s\": no such user \"%s\"", key, spec,
			    parts[0]);
		return FALSE;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	*name = g_strdup(pw->pw_name);
	if (parts[1] && *parts[1]) {
		struct group *gr = getgrnam(parts[1]);
		if (gr == NULL) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s = \"%s\": no such group \"%s\"", key,
				    spec, parts[1]);
			return FALSE;
		}
		*gid = gr->gr_gid;
	}
	return TRUE;
}

gboolean
setup_check(const MilterConf *c, GError **error)
{
	g_autofree char *path = NULL, *name = NULL;
	gboolean wildcard;
	uid_t uid;
	gid_t gid;

	if (!socket_spec(c->socket, &path, &wildcard, error))
		return FALSE;
	if (*c->socket_owner) {
		if (!lookup_user("socket_owner", c->socket_owner, &uid, &gid,
				 &name, error))
			return FALSE;
		g_clear_pointer(&name, g_free);
	}
	if (*c->user && !lookup_user("user", c->user, &uid, &gid, &name,
				     error))
		return FALSE;
	if (*c->pidfile) {
		g_autofree char *dir = g_path_get_dirname(c->pidfile);
		int e;
		if (!is_dir(dir, &e)) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
				    "pidfile = \"%s\": directory %s: %s",
				    c->pidfile, dir, g_strerror(e));
			return FALSE;
		}
	}
	if (*c->metrics_listen) {
		struct addrinfo *ai = NULL;
		if (!stats_listen_parse(c->metrics_listen, &ai, error))
			return FALSE;
		freeaddrinfo(ai);
	}
	return TRUE;
}

/* loopback - is the metrics address only reachable from this host */
static gboolean
loopback(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *a = (void *) ai->ai_addr;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *a = (void *) ai->ai_addr;
	return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
}

GPtrArray *
setup_risks(const MilterConf *c)
{
	GPtrArray *w = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *path = NULL;
	gboolean wildcard = FALSE;
	struct stat st;

	if (c->path && stat(c->path, &st) == 0 && (st.st_mode & S_IWOTH))
		g_ptr_array_add(w, g_strdup_printf("configuration file %s is "
			"writable by every user (chmod o-w)", c->path));
	if (socket_spec(c->socket, &path, &wildcard, NULL) && path) {
		long mode = strtol(c->socket_mode, NULL, 8);
		if (mode & S_IWOTH)
			g_ptr_array_add(w, g_strdup_printf("socket_mode = "
				"\"%s\": every local user can connect to the "
				"milter socket", c->socket_mode));
		g_autofree char *dir = g_path_get_dirname(path);
		if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) &&
		    !(st.st_mode & S_ISVTX))
			g_ptr_array_add(w, g_strdup_printf("the socket's "
				"directory %s is writable by every user (keep "
				"it owned by root or the daemon's user and "
				"writable by no one else)", dir));
	} else if (wildcard) {
		g_ptr_array_add(w, g_strdup_printf("socket \"%s\" listens on "
			"every interface: other hosts can connect to the "
			"milter (name a host, e.g. inet:8893@127.0.0.1)",
			c->socket));
	}
	struct addrinfo *ai = NULL;
	if (*c->metrics_listen &&
	    stats_listen_parse(c->metrics_listen, &ai, NULL)) {
		if (!loopback(ai))
			g_ptr_array_add(w, g_strdup_printf("metrics.listen = "
				"\"%s\": /metrics is served without "
				"authentication beyond the loopback",
				c->metrics_listen));
		freeaddrinfo(ai);
	}
	for (int i = 0; i < c->n_nets; i++)
		if (c->nets[i].bits == 0)
			g_ptr_array_add(w, g_strdup_printf("skip.trusted_"
				"networks: \"%s\" trusts every %s client: "
				"their mail is never scanned",
				c->trusted_networks[i],
				c->nets[i].family == AF_INET ? "IPv4" :
				"IPv6"));
	return w;
}

gboolean
setup_open_socket(const MilterConf *c, SetupSocket *sock, GError **error)
{
	g_autofree char *path = NULL;
	gboolean wildcard;

	memset(sock, 0, sizeof(*sock));
	if (!socket_spec(c->socket, &path, &wildcard, error))
		return FALSE;
	if (smfi_setconn((char *) c->socket) != MI_SUCCESS ||
	    smfi_settimeout(c->milter_timeout) != MI_SUCCESS ||
	    smfi_register(milter_desc) != MI_SUCCESS) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "libmilter refused socket \"%s\"", c->socket);
		return FALSE;
	}
	/* the mode comes from the umask at bind: no chmod by name */
	mode_t mode = (mode_t) strtol(c->socket_mode, NULL, 8) & 0777;
	mode_t old = umask(~mode & 0777);
	errno = 0;
	int r = smfi_opensocket(TRUE);
	int e = errno;
	umask(old);
	if (r != MI_SUCCESS) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot listen on %s: %s", c->socket,
			    e ? g_strerror(e) : "libmilter gave no reason");
		return FALSE;
	}
	if (path == NULL)
		return TRUE;

	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "socket %s: %s", path, g_strerror(e));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != mode) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "socket %s: not the socket just created (%s, mode "
			    "%04o): left as it is; is its directory writable "
			    "by another user?", path, S_ISLNK(st.st_mode) ?
			    "a symbolic link" : S_ISSOCK(st.st_mode) ?
			    "a socket" : "not a socket",
			    (unsigned) (st.st_mode & 07777));
		close(fd);
		return FALSE;
	}
	if (*c->socket_owner) {
		uid_t uid;
		gid_t gid;
		g_autofree char *name = NULL;
		if (!lookup_user("socket_owner", c->socket_owner, &uid, &gid,
				 &name, error)) {
			close(fd);
			return FALSE;
		}
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
			e = errno;
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(e),
				    "chown %s: %s", path, g_strerror(e));
			close(fd);
			return FALSE;
		}
	}
	close(fd);
	sock->path = g_steal_pointer(&path);
	sock->dev = st.st_dev;
	sock->ino = st.st_ino;
	return TRUE;
}

gboolean
setup_drop_privileges(const MilterConf *c, GError **error)
{
	uid_t uid;
	gid_t gid;
	g_autofree char *name = NULL;

	if (*c->user == '\0')
		return TRUE;
	if (!lookup_user("user", c->user, &uid, &gid, &name, error))
		return FALSE;
	if (getuid() == uid && geteuid() == uid)
		return TRUE;
	if (geteuid() != 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "user = \"%s\": only root can change user",
			    c->user);
		return FALSE;
	}
	if (setgid(gid) != 0 || initgroups(name, gid) != 0 ||
	    setuid(uid) != 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "cannot become %s: %s", c->user,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* setup_write_pidfile - a new file renamed into place: a link planted at
 * PATH is replaced, not followed */
gboolean
setup_write_pidfile(const char *path, GError **error)
{
	g_autofree char *text = g_strdup_printf("%d\n", (int) getpid());
	return g_file_set_contents(path, text, -1, error);
}

/* left_behind - the warning for a file the daemon could not remove */
static void
left_behind(const char *what, const char *path, int e)
{
	g_warning("%s %s left behind: %s%s", what, path, g_strerror(e),
		  e == EACCES || e == EPERM ? " (its directory is not "
		  "writable by the user the daemon runs as)" : "");
}

void
setup_cleanup(SetupSocket *sock, const char *pidfile)
{
	struct stat st;

	if (sock->path && lstat(sock->path, &st) == 0 &&
	    st.st_dev == sock->dev && st.st_ino == sock->ino &&
	    unlink(sock->path) != 0)
		left_behind("socket (the next start replaces it)", sock->path,
			    errno);
	g_clear_pointer(&sock->path, g_free);
	if (pidfile && *pidfile && unlink(pidfile) != 0 && errno != ENOENT)
		left_behind("pid file", pidfile, errno);
}
