/*
 * gptm_error.c - the GPTM_ERROR domain's quark (see gptm_error.h)
 */
#include "gptm_error.h"

G_DEFINE_QUARK(gptm-error-quark, gptm_error)
