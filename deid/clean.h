/* deid/clean.h — Clean Descriptors (action C on free text): removes from a description or
 * comment the identifying values of its own dataset and whatever the PHI detectors find
 * (names with evidence, dates, phones, e-mails, SSNs, addresses, long digit runs...), and
 * keeps the clinical words readable:
 *   "CT CHEST W/O CONTRAST for John Smith 03/14/1961" -> "CT CHEST W/O CONTRAST for". */
#ifndef DEIDTK_CLEAN_H
#define DEIDTK_CLEAN_H

#include "verify/pair.h"

/* Cleans in. ids holds the dataset's identifying values (may be NULL: detectors only).
 * Removed spans leave nothing behind; the separators, brackets and spaces they strand are
 * tidied. On success *out is a malloc'd string the caller frees (a copy of in when nothing
 * was removed) and the result is 1 when something was removed, 0 when not. Returns -1 when
 * out of memory, with *out NULL. */
int deid_clean_text(const char *in, const verify_pair_set *ids, char **out);

#endif
