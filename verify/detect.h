/* verify/detect.h — heuristic PHI detectors over one UTF-8 text value: person names (with
 * evidence: census name lists, titles, initials, PN shape), dates, times, phone numbers,
 * e-mail addresses, SSNs, street addresses, URLs, long digit runs and ages over 89.
 * Pure C, no allocation: the caller passes the hit array. */
#ifndef DEIDTK_DETECT_H
#define DEIDTK_DETECT_H

#include <stddef.h>
#include "verify/finding.h"

typedef enum {
    VERIFY_HIT_NAME = 0,
    VERIFY_HIT_DATE,
    VERIFY_HIT_TIME,
    VERIFY_HIT_PHONE,
    VERIFY_HIT_EMAIL,
    VERIFY_HIT_SSN,
    VERIFY_HIT_ADDRESS,
    VERIFY_HIT_ID,        /* long digit run: MRN, accession or chart number */
    VERIFY_HIT_AGE,       /* an age over 89 */
    VERIFY_HIT_URL
} verify_hit_kind;

typedef struct verify_hit {
    verify_hit_kind kind;
    size_t off, len;           /* byte span in the text */
    verify_severity severity;  /* SEV_PHI when the evidence is strong, else SEV_SUSPECT */
} verify_hit;

/* Runs every detector over text. Writes at most max hits, sorted by offset and never
 * overlapping, and returns how many it wrote. When there are more than max, the
 * strongest kinds are kept. */
size_t verify_detect(const char *text, verify_hit *hits, size_t max);

/* Entry point for one DICOM value. vr is the two-letter VR ("LO", "PN"...); keyword may be
 * NULL. UI and numeric VRs and coded-concept keywords (CodeValue...) give no hits; DA, DT
 * and TM give none either (dates by definition: the structural rules decide about them); a
 * non-empty PN value is one name hit (SEV_PHI when a component is in the census lists);
 * text VRs run verify_detect. */
size_t verify_detect_value(const char *vr, const char *keyword, const char *text,
                           verify_hit *hits, size_t max);

/* "name", "date", "time", "phone", "email", "ssn", "address", "id", "age", "url". */
const char *verify_hit_kind_name(verify_hit_kind kind);

/* Whether word (any case, ASCII letters) is a census first or last name that is not on the
 * clinical allowlist. Exposed for the pixel-text checks and tests. */
int verify_is_person_name_word(const char *word, size_t len);

enum { VERIFY_NAME_FIRST = 1, VERIFY_NAME_LAST = 2, VERIFY_NAME_CLINICAL = 4 };

/* What the census lists and the clinical allowlist say of one upper-case word: VERIFY_NAME_*
 * bits; *last_rank (may be NULL) gets its census rank as a last name, 0 when it is not one.
 * Thread-safe; the first call builds the lookup table. */
unsigned verify_name_lookup(const char *upper, unsigned *last_rank);

#endif
