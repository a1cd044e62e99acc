/*
 * mapfile.h - checked read-only mmap of a file; atomic whole-file writes
 *
 * Owns: mapping files read-only (weights are shared between threads this
 * way) and writing files so that a reader never sees a half-written one
 * (write to PATH.tmp.XXXXXX in the same directory, fsync, rename).
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
} MapFile;

/* mapfile_open - map PATH read-only; an empty file maps to data=NULL,size=0 */
MapFile *mapfile_open(const char *path, GError **error);
/* mapfile_free - unmap; NULL is a no-op */
void mapfile_free(MapFile *mf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MapFile, mapfile_free)

/* mapfile_write_atomic - write LEN bytes as PATH via temp file + rename */
gboolean mapfile_write_atomic(const char *path, const void *data, gsize len,
			      GError **error);

#endif
