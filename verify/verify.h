/* verify/verify.h — the inspection of one file (every tag, every frame's pixels) and of a
 * whole dataset (cross-file consistency). It never trusts the de-identifier's word: it
 * re-reads the file from disk and looks.
 *
 * Per file: the paired leak check (the input's identifying values and original UIDs,
 * searched in every value of the output, any depth, private blocks, binary values and the
 * file's path), heuristic PHI detectors over every text value, structural rules of a
 * de-identified file, and OCR of the frames with the same checks on the text read. */
#ifndef DEIDTK_VERIFY_H
#define DEIDTK_VERIFY_H

#include <stddef.h>
#include "deid/policy.h"
#include "verify/finding.h"
#include "verify/pair.h"

/* Which frames the OCR inspects. */
typedef enum { VERIFY_FRAMES_ALL = 0, VERIFY_FRAMES_FIRST, VERIFY_FRAMES_SAMPLE } verify_frames;

typedef struct verify_config {
    const deid_policy *policy;   /* the policy outputs should follow (safe lists, codes) */
    int ocr;                     /* 0: tags only */
    verify_frames frames;
    int sample;                  /* VERIFY_FRAMES_SAMPLE: inspect N frames spread evenly */
    const char *ocr_datapath;    /* Tesseract data; NULL: default */
    const char *uid_root;        /* site UID root accepted besides 2.25. */
    int strict_codes;            /* the method codes must be exactly the policy's */
    const char *id_template;     /* Patient ID pseudonym template; NULL: the default */
    const char *path_root;       /* file paths are checked below this folder only */
    /* Thumbnails of frames with text go to thumb_dir/thumb_rel/ (thumb_rel is how the report
     * refers to them); NULL: none. Text boxes are blacked out unless thumb_show_text. */
    const char *thumb_dir, *thumb_rel;
    int thumb_show_text;
} verify_config;

/* What the dataset-wide rules need to know of a file. */
typedef struct verify_facts {
    char patient_id[65];
    char study_uid[65], series_uid[65], sop_uid[65];
    int frames, frames_inspected;
} verify_facts;

/* Parses "all", "first" or "sample:N" into c->frames/c->sample; -1 when malformed. */
int verify_frames_parse(const char *text, verify_config *c);

/* Inspects the file at path. ids and original_uids ('\n'-joined) come from its input when
 * known (NULL otherwise). Findings are appended to out. Returns 0, or non-zero with err
 * naming the file when it cannot be read at all. */
int verify_file(const verify_config *c, const char *path, const verify_pair_set *ids,
                const char *original_uids, verify_findings *out, verify_facts *facts,
                char *err, size_t errlen);

/* verify_file on the file's bytes as written to path (e.g. by dcm_save_bytes): the bytes on
 * disk, without reading them back. */
int verify_bytes(const verify_config *c, const char *path, const void *data, size_t len,
                 const verify_pair_set *ids, const char *original_uids,
                 verify_findings *out, verify_facts *facts, char *err, size_t errlen);

/* Cross-file rules: one pseudonym per original patient and no two patients sharing one,
 * every study under one patient, no UID reused by different objects, one date offset per
 * patient. */
typedef struct verify_dataset verify_dataset;

verify_dataset *verify_dataset_new(void);
void verify_dataset_free(verify_dataset *d);
/* original_patient: a stable token for the input's patient (e.g. an HMAC), or NULL when
 * unknown; offset: the patient's date offset written as text, or a token of it (equal
 * offsets, equal tokens), or NULL when unknown. Returns 0 or -1 when out of memory. */
int verify_dataset_add(verify_dataset *d, const char *file, const verify_facts *facts,
                       const char *original_patient, const char *offset);
/* Appends the dataset-wide findings to out. Returns 0 or -1 when out of memory. */
int verify_dataset_finish(verify_dataset *d, verify_findings *out);

/* Whether the gate blocks: a finding of severity >= fail_on that is not waived, or pixels
 * that could not be inspected (detectors "undecodable-frame" and "nested-pixels"), which
 * always block. */
int verify_blocks(const verify_finding *f, verify_severity fail_on);

#endif
