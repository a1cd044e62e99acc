/*
 * mapfile.c - a file's bytes, privately in memory; atomic whole-file writes
 *
 * Owns: mapfile_open() (open, fstat, refuse non-regular files, read the
 * whole file into anonymous memory, made read-only once read) and
 * mapfile_write_atomic() (PATH.tmp.XXXXXX in the same directory, write,
 * fsync, rename, fsync of the directory), so a reader sees either the old
 * file or the new one, never a half-written one.
 * Why a copy and not a mapping of the file: a mapping shows every later
 * change of the file, and a file cut short (cp or install over it, which
 * truncate first) makes each access past its new end a SIGBUS. A running
 * daemon must survive any change to its model on disk and take the new
 * one only when told to reload. The copy is checked against the file
 * after reading (size, modification and change times): a file written to
 * while being read is refused, not half taken.
 * Sharing: a file opened again while an earlier copy is alive and the file
 * is unchanged since (same device, inode, size, modification and change
 * times) shares that copy: the model bundle and the model open the same
 * weights, and a reload of an unchanged model costs no memory. Copies of 2
 * MiB and more ask for transparent huge pages (fewer TLB misses in the
 * matrix products that read them).
 * Not here: what the bytes mean (safetensors.c, bundle.c).
 *	g_autoptr(MapFile) mf = mapfile_open(path, &error);
 * Threads: a MapFile is read-only once open; mapfile_open() and
 * mapfile_free() may run in any threads at once. Errors: GError naming
 * the path: G_FILE_ERROR with the system error's code, or GPTM_ERROR_INPUT
 * for a file that is not regular, too large or changed while read.
 * Checked by: tests/test_model.c, tests/milter/test_miltertest.sh (a model
 * overwritten in place under a running daemon).
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
#include "gptm_error.h"

/* A copy of one file's bytes, shared by the MapFiles opened on it. */
typedef struct {
	gint refs;		/* under copies_lock */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	guint8 *mem;		/* anonymous, read-only; NULL if empty */
} FileCopy;

static GMutex copies_lock;
static GSList *copies;		/* FileCopy *, alive */

/* Huge pages are 2 MiB on x86-64 and arm64 (4 KiB base pages). */
#define HUGE_PAGE_BYTES ((gsize) 2 << 20)

/* set_errno_error - GError for a failed system call on PATH */
static void
set_errno_error(GError **error, int err, const char *path, const char *what)
{
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
		    "%s: %s: %s", path, what, g_strerror(err));
}

/* same_file - whether SB describes the file copied into C, unchanged */
static gboolean
same_file(const FileCopy *c, const struct stat *sb)
{
	return c->dev == sb->st_dev && c->ino == sb->st_ino &&
	       c->size == sb->st_size &&
	       c->mtime.tv_sec == sb->st_mtim.tv_sec &&
	       c->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	       c->ctime.tv_sec == sb->st_ctim.tv_sec &&
	       c->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* copy_find - a live copy of the file SB describes, with a reference */
static FileCopy *
copy_find(const struct stat *sb)
{
	FileCopy *found = NULL;

	g_mutex_lock(&copies_lock);
	for (GSList *l = copies; l != NULL && found == NULL; l = l->next)
		if (same_file(l->data, sb)) {
			found = l->data;
			found->refs++;
		}
	g_mutex_unlock(&copies_lock);
	return found;
}

/* copy_unref - drop a reference; the last one frees the memory */
static void
copy_unref(FileCopy *c)
{
	g_mutex_lock(&copies_lock);
	gboolean last = --c->refs == 0;
	if (last)
		copies = g_slist_remove(copies, c);
	g_mutex_unlock(&copies_lock);
	if (!last)
		return;
	if (c->mem != NULL)
		munmap(c->mem, (gsize) c->size);
	g_free(c);
}

/* read_copy - the SB->st_size bytes of FD (PATH) into new private memory;
 * NULL with an error when the file cannot be read whole or changes while
 * being read */
static FileCopy *
read_copy(int fd, const char *path, const struct stat *sb, GError **error)
{
	gsize len = (gsize) sb->st_size;
	FileCopy *c = g_new0(FileCopy, 1);

	c->refs = 1;
	c->dev = sb->st_dev;
	c->ino = sb->st_ino;
	c->size = sb->st_size;
	c->mtime = sb->st_mtim;
	c->ctime = sb->st_ctim;
	if (len == 0)
		return c;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		set_errno_error(error, errno, path, "cannot allocate memory "
				"for a copy");
		g_free(c);
		return NULL;
	}
	c->mem = p;
#ifdef MADV_HUGEPAGE
	if (len >= HUGE_PAGE_BYTES)
		(void) madvise(p, len, MADV_HUGEPAGE);	/* a hint: may fail */
#endif
	gsize done = 0;
	while (done < len) {
		gsize want = MIN(len - done, (gsize) 1 << 30);
		ssize_t n = pread(fd, c->mem + done, want, (off_t) done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				set_errno_error(error, errno, path,
						"cannot read");
			else
				g_set_error(error, GPTM_ERROR,
					    GPTM_ERROR_INPUT, "%s: cut short "
					    "while being read (being "
					    "replaced?)", path);
			copy_unref(c);
			return NULL;
		}
		done += (gsize) n;
	}
	struct stat after;
	if (fstat(fd, &after) < 0 || !same_file(c, &after)) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
			    "%s: changed while being read (being replaced?)",
			    path);
		copy_unref(c);
		return NULL;
	}
	/* read-only from now on, as a read-only mapping of the file was */
	(void) mprotect(p, len, PROT_READ);
	return c;
}

/* mapfile_open - PATH's bytes in private read-only memory (shared with a
 * live copy of the same unchanged file); an empty file gives data=NULL,
 * size=0 */
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
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
			    "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	/* off_t may be wider than gsize on 32-bit hosts: refuse what cannot
	 * be held rather than truncate the length. */
	if (sb.st_size < 0 || (guint64) sb.st_size > (guint64) G_MAXSIZE) {
		g_set_error(error, GPTM_ERROR, GPTM_ERROR_INPUT,
			    "%s: file too large to map", path);
		close(fd);
		return NULL;
	}
	FileCopy *c = copy_find(&sb);
	if (c == NULL) {
		c = read_copy(fd, path, &sb, error);
		if (c == NULL) {
			close(fd);
			return NULL;
		}
		g_mutex_lock(&copies_lock);
		copies = g_slist_prepend(copies, c);
		g_mutex_unlock(&copies_lock);
	}
	close(fd);

	MapFile *mf = g_new0(MapFile, 1);
	mf->path = g_strdup(path);
	mf->size = (gsize) sb.st_size;
	mf->data = c->mem;
	mf->copy = c;
	return mf;
}

/* mapfile_free - drop the copy; NULL is a no-op */
void
mapfile_free(MapFile *mf)
{
	if (mf == NULL)
		return;
	copy_unref(mf->copy);
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
