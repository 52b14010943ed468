/* verify/finding.h — what the verifier reports: one finding per (file, place, detector).
 * Shared by verify/, audit/ and reports/. */
#ifndef DEIDTK_FINDING_H
#define DEIDTK_FINDING_H

#include <stddef.h>

/* Ordered: a gate "fails on S" blocks on every severity >= S. */
typedef enum {
    SEV_INFO = 0,
    SEV_POLICY,
    SEV_SUSPECT,
    SEV_PHI,
    SEV_LEAK
} verify_severity;

typedef struct verify_finding {
    char id[17];          /* stable: first 16 hex of SHA-256(file \0 where \0 detector) */
    char *file;           /* output file path as given to the verifier */
    char *where;          /* tag path, "pixels:frame N x,y,w,h", or "path" for the file name */
    char *detector;       /* e.g. "paired-leak", "name", "date", "ocr-text", "structure" */
    verify_severity severity;
    char *value;          /* the offending value, unmasked: mask before showing */
    char *message;        /* short human text, never holding the value itself */
    char *thumbnail;      /* PNG of the frame with its boxes, relative to the report's
                             folder; NULL for tag findings */
} verify_finding;

typedef struct verify_findings {
    verify_finding *v;
    size_t n, cap;
} verify_findings;

/* The stable id: first 16 hex of SHA-256(file \0 where \0 detector), into id. */
void verify_finding_id(const char *file, const char *where, const char *detector, char id[17]);

/* Adds a finding (copies every string; computes the stable id). Returns 0, or -1 when out
 * of memory. */
int verify_findings_add(verify_findings *fs, const char *file, const char *where,
                        const char *detector, verify_severity sev, const char *value,
                        const char *message);
/* Sets the last finding's thumbnail (copied). Returns 0, or -1 when out of memory. */
int verify_findings_set_thumbnail(verify_findings *fs, const char *png);

/* Frees every finding's strings and the array; leaves fs empty and reusable. */
void verify_findings_clear(verify_findings *fs);

const char *verify_severity_name(verify_severity s);
/* Parses "leak", "phi", "suspect", "policy", "info"; returns -1 when unknown. */
int verify_severity_parse(const char *name);

/* Masks a value for display: every letter or digit but the first of each word becomes '*'
 * ("John Smith" -> "J*** S****"). Returns a malloc'd string the caller frees. */
char *verify_mask(const char *value);

#endif
