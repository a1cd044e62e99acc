/*
 * splitmix.h - splitmix64, the one seed-to-stream mixer of the project
 *
 * Owns: the step every seeded random draw starts from (Steele, Lea and
 * Flood's SplitMix64): gpt.c seeds xoshiro256** with it, gpt_train.c draws
 * the sampled softmax's tokens, src/train/loop.c orders the data and draws
 * --header-dropout. The same stream on every platform for a seed, which
 * is what makes runs repeatable and resumable.
 */
#ifndef GPTM_SPLITMIX_H
#define GPTM_SPLITMIX_H

#include <glib.h>

/* splitmix64 - advance *STATE and return its next 64 random bits */
static inline guint64
splitmix64(guint64 *state)
{
	guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
