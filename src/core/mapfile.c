/*
 * mapfile.c - checked read-only mmap of a file; atomic whole-file writes
 *
 * Owns: mapfile_open() (open, fstat, refuse non-regular files, mmap
 * PROT_READ/MAP_PRIVATE so that several threads and processes share the
 * pages of a weight file) and mapfile_write_atomic() (PATH.tmp.XXXXXX in the
 * same directory, write, fsync, rename, fsync of the directory), so a reader
 * sees either the old file or the new one, never a half-written one.
 * Not here: what the bytes mean (safetensors.c, bundle.c).
 *	g_autoptr(MapFile) mf = mapfile_open(path, &error);
 * Threads: a MapFile is read-only once open. Errors: GError in the
 * G_FILE_ERROR domain, naming the path and the system error.
 * Checked by: tests/test_model.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mapfile.h"

/* set_errno_error - GError for a failed system call on PATH */
static void
set_errno_error(GError **error, int err, const char *path, const char *what)
{
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
		    "%s: %s: %s", path, what, g_strerror(err));
}

/* mapfile_open - map PATH read-only; an empty file maps to data=NULL,size=0 */
MapFile *
mapfile_open(const char *path, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_errno_error(error, errno, path, "cannot open");
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		set_errno_error(error, errno, path, "cannot stat");
		close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	/* off_t may be wider than gsize on 32-bit hosts: refuse what cannot
	 * be mapped rather than truncate the length. */
	if (sb.st_size < 0 || (guint64) sb.st_size > (guint64) G_MAXSIZE) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
			    "%s: file too large to map", path);
		close(fd);
		return NULL;
	}

	MapFile *mf = g_new0(MapFile, 1);
	mf->path = g_strdup(path);
	mf->size = (gsize) sb.st_size;
	if (mf->size > 0) {
		void *p = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			set_errno_error(error, errno, path, "cannot mmap");
			close(fd);
			g_free(mf->path);
			g_free(mf);
			return NULL;
		}
		mf->data = p;
	}
	/* The mapping keeps the file referenced; the descriptor is not needed. */
	close(fd);
	return mf;
}

/* mapfile_free - unmap; NULL is a no-op */
void
mapfile_free(MapFile *mf)
{
	if (mf == NULL)
		return;
	if (mf->data != NULL)
		munmap((void *) mf->data, mf->size);
	g_free(mf->path);
	g_free(mf);
}

/* write_all - write LEN bytes to FD, retrying short writes and EINTR */
static gboolean
write_all(int fd, const guint8 *p, gsize len, int *err)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			return FALSE;
		}
		p += n;
		len -= (gsize) n;
	}
	return TRUE;
}

/* mapfile_write_atomic - write LEN bytes as PATH via temp file + rename */
gboolean
mapfile_write_atomic(const char *path, const void *data, gsize len,
		     GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	/* Same directory as PATH, so rename() cannot cross file systems. */
	g_autofree char *tmp = g_strdup_printf("%s.tmp.XXXXXX", path);
	int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_errno_error(error, errno, path, "cannot create temporary file");
		return FALSE;
	}
	int err = 0;
	const char *what = NULL;
	if (!write_all(fd, data, len, &err))
		what = "cannot write";
	else if (fsync(fd) < 0)
		err = errno, what = "cannot fsync";
	if (close(fd) < 0 && what == NULL)
		err = errno, what = "cannot close";
	if (what == NULL && rename(tmp, path) < 0)
		err = errno, what = "cannot rename temporary file";
	if (what != NULL) {
		g_unlink(tmp);
		set_errno_error(error, err, path, what);
		return FALSE;
	}

	/* Make the rename itself durable; failure here is not worth an error
	 * (the data are written), so it is best effort. */
	g_autofree char *dir = g_path_get_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void) fsync(dfd);
		close(dfd);
	}
	return TRUE;
}
