/* deid/engine.h — applies a policy to one opened dataset: the actions of Table E.1-1 and
 * its options at every nesting depth, private blocks, pseudonyms, date shifting, cleaning
 * of descriptors, pixel cleaning, and the de-identification record in the dataset.
 *
 * The engine only edits the in-memory dataset (dicom/dcm.h); the caller saves it. It is
 * thread-safe: one deid_engine may be shared by workers, each with its own file. */
#ifndef DEIDTK_ENGINE_H
#define DEIDTK_ENGINE_H

#include <stddef.h>
#include "dicom/dcm.h"
#include "deid/policy.h"
#include "deid/pseudo.h"
#include "verify/pair.h"

/* How Clean Pixel Data finds what to blank. */
enum {
    DEID_PIXELS_SIGNATURES = 1,  /* device regions of data/pixel_signatures.tsv + policy */
    DEID_PIXELS_OCR = 2          /* boxes the OCR finds in every frame */
};

typedef struct deid_engine {
    const deid_policy *policy;
    const struct deid_pseudo *pseudo;
    int clean_pixels;            /* DEID_PIXELS_* bits; 0: leave pixels alone */
    const char *ocr_datapath;    /* Tesseract data, NULL for the default */
    /* Key patients on Issuer of Patient ID + Patient ID. Off by default: submissions often
     * carry the issuer in some files and not in others, which would split one patient
     * into two pseudonyms; turn it on for archives that mix issuers. */
    int patient_by_issuer;
    /* Keep each changed attribute's original value in deid_change.original, for an audit
     * trail that stores originals (deidtk run --audit-originals). It then holds PHI. */
    int record_originals;
    /* The changes get original_hmac (for an audit trail); off, they carry none. The engine
     * keeps each original value in deid_change.original, and deid_result_hash_originals()
     * makes the HMACs: they were a sixth of the engine's time, and a caller can have them
     * made on a thread with time to spare. */
    int hash_originals;
} deid_engine;

/* One change made to one attribute, for the audit trail. */
typedef struct deid_change {
    char *path;                  /* tag path, as dcm_elem.path */
    const char *action;          /* "remove", "empty", "replace", "U" (a UID), "shift", "clean",
                                    "dummy", "hash", "age-cap", "pixels" */
    char original_hmac[65];      /* hex HMAC(key, "value", original value); "" if none */
    char *new_value;             /* NULL when removed */
    char *original;              /* the original value: with record_originals, and with
                                    hash_originals until deid_result_hash_originals() */
} deid_change;

/* What de-identifying one file did and found. Free with deid_result_free(). */
typedef struct deid_result {
    char patient_id[DEID_ID_MAX + 1];  /* the pseudonym */
    int offset_days;                   /* the patient's date offset */
    char study_uid[DEID_UID_MAX + 1];  /* new UIDs, for the output path; "" when absent */
    char series_uid[DEID_UID_MAX + 1];
    char sop_uid[DEID_UID_MAX + 1];
    deid_change *changes;
    size_t nchanges, cap;
    /* The input's identifying values (what the policy removed or replaced), for the
     * paired leak check of the output. */
    verify_pair_set *identifying;
    /* Original instance UIDs that were replaced ('\n'-joined), for the same check. */
    char *original_uids;
    int pixels_cleaned;                /* every frame was cleaned */
    int pixel_regions;                 /* how many rectangles were blanked */
    int overlay_regions;               /* how many in overlay planes (Clean Graphics) */
} deid_result;

/* De-identifies f in place. On error returns non-zero with err naming the file; f is
 * then partly edited and must not be saved. r is always safe to deid_result_free(). */
int deid_apply(const deid_engine *e, dcm_file *f, deid_result *r, char *err, size_t errlen);
void deid_result_free(deid_result *r);

/* Fills the original_hmac of r's changes that have none from their original values, then
 * frees the originals the engine does not record. Does nothing twice. Returns 0, or -1 when
 * libcrypto failed (the changes it failed on keep an empty original_hmac). */
int deid_result_hash_originals(const deid_engine *e, deid_result *r);

/* Whether value is one of the dummies the engine writes for D (and for attributes it must
 * keep valid): they say nothing about anyone. */
int deid_is_dummy(const char *value);

/* Only the first half of deid_apply: fills r's patient_id, offset_days, identifying and
 * original_uids from the input f, changing nothing. For pairing an output with its
 * original after the fact (deidtk verify --originals). */
int deid_identifying(const deid_engine *e, dcm_file *f, deid_result *r, char *err,
                     size_t errlen);

/* The patient's pseudonym and date offset from f's Patient ID and Issuer, as deid_apply
 * derives them. Returns 0, or -1 with err filled (e.g. an ID missing from the lookup). */
int deid_patient_of(const deid_engine *e, dcm_file *f, char *patient_id, size_t len,
                    int *offset_days, char *err, size_t errlen);

#endif
