/* reports/report-int.h — the report's in-memory layout and helpers shared by report.c (JSON,
 * gate, merge) and html.c. Not part of the public API. */
#ifndef DEIDTK_REPORT_INT_H
#define DEIDTK_REPORT_INT_H

#include <stddef.h>
#include "reports/report.h"

typedef struct {
    char *key, *value;
} rep_meta;

/* What the dataset-wide rules know of a run's output, as keyed tokens (see
 * report_set_file_facts); NULL members are unknown. */
typedef struct {
    char *patient, *study, *sop, *original, *offset;
} rep_facts;

typedef struct {
    char *path, *input, *status, *error;
    int frames;
    rep_facts *facts;  /* NULL: none recorded */
    char *sha256;      /* of the output as verified (run with a trail), or NULL */
} rep_file;

typedef struct {
    char id[17];
    char *file, *where, *detector, *value, *message;
    verify_severity severity;
    char *waived_by, *waive_reason;
} rep_finding;

typedef struct {
    char *ref, *png;
} rep_thumb;

struct report {
    char *command, *tool_version;
    verify_severity fail_on;
    /* Values and inputs in memory are real (added by the caller, or loaded from a report
     * that showed them); 0 when everything came from masked reports. */
    int unmasked;
    char *source;             /* the file it was loaded from, for merge bookkeeping */
    rep_meta *meta;
    size_t nmeta, capmeta;
    rep_file *files;
    size_t nfiles, capfiles;
    rep_finding *findings;
    size_t nfindings, capfindings;
    rep_thumb *thumbs;
    size_t nthumbs, capthumbs;
    char **merged;
    size_t nmerged, capmerged;
};

/* How a string is written: a malloc'd copy, masked unless show, with invalid UTF-8 replaced
 * by U+FFFD (masking can split a multi-byte character). NULL stays NULL; NULL also when out
 * of memory (*oom set). */
char *rep_display(const char *s, int mask, int *oom);
/* What must be masked inside a file's path and error text besides the values themselves:
 * its input path and the input's base name (read errors name the input, and input names
 * often hold PHI), and the values of its "path" findings (a file name that holds PHI). */
typedef struct {
    const char *path, *needle;   /* borrowed from the report */
    int errors_only;             /* an input's base name: masked in error texts only */
} rep_scrub_item;

typedef struct {
    rep_scrub_item *v;
    size_t n;
} rep_scrub;

int rep_scrub_init(const report *r, rep_scrub *s);
void rep_scrub_free(rep_scrub *s);
/* text (the path itself, or its error when is_error) as written for the file `path`: every
 * needle of that path masked (unless show), then made valid UTF-8. Malloc'd; NULL for NULL
 * text or out of memory (*oom set). */
char *rep_scrubbed(const rep_scrub *s, const char *path, const char *text, int is_error,
                   int show, int *oom);

/* One human sentence per reason the gate blocks; *n gets the count. Caller frees each
 * string and the array. Returns -1 when out of memory. */
int rep_gate_reasons(const report *r, char ***out, size_t *n);
void rep_free_strings(char **v, size_t n);

/* Writes buf to path atomically: temporary file beside it, fsync, rename. mode 0600 when
 * private (unmasked values), else 0666 less the umask. */
int rep_write_atomic(const char *path, const char *buf, size_t len, int private_file,
                     char *err, size_t errlen);

/* The thumbnail for a finding id or a file path, or NULL. */
const char *rep_thumb_for(const report *r, const char *ref);

#endif
