/*
 * mapfile.h - a file's bytes, privately in memory; atomic whole-file writes
 *
 * Owns: reading files whole into private read-only memory (weights are
 * shared between threads this way, and a file changed or cut short on disk
 * never changes or breaks what was read) and writing files so that a
 * reader never sees a half-written one (write to PATH.tmp.XXXXXX in the
 * same directory, fsync, rename).
 *	g_autoptr(MapFile) mf = mapfile_open(path, &error);
 * Threads: a MapFile is read-only once open. Errors: set error, name the path.
 */
#ifndef GPTM_MAPFILE_H
#define GPTM_MAPFILE_H

#include <glib.h>

typedef struct {
	char *path;
	const guint8 *data;	/* NULL when size == 0 */
	gsize size;
	gpointer copy;		/* private: the shared copy of the bytes */
} MapFile;

/* mapfile_open - PATH's bytes in private read-only memory (shared with a
 * live copy of the same unchanged file); an empty file gives data=NULL,
 * size=0 */
MapFile *mapfile_open(const char *path, GError **error);
/* mapfile_free - drop the copy; NULL is a no-op */
void mapfile_free(MapFile *mf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MapFile, mapfile_free)

/* mapfile_write_atomic - write LEN bytes as PATH via temp file + rename */
gboolean mapfile_write_atomic(const char *path, const void *data, gsize len,
			      GError **error);

#endif
