/* verify/dataset.c — cross-file consistency of a de-identified dataset. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "verify/verify.h"

struct row {
    char *file;
    verify_facts facts;
    char *original;   /* original patient token, or NULL */
    char *offset;     /* the date offset or its token, or NULL */
};

struct verify_dataset {
    struct row *rows;
    size_t n, cap;
};

verify_dataset *verify_dataset_new(void)
{
    return calloc(1, sizeof(verify_dataset));
}

void verify_dataset_free(verify_dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->rows[i].file);
        free(d->rows[i].original);
        free(d->rows[i].offset);
    }
    free(d->rows);
    free(d);
}

int verify_dataset_add(verify_dataset *d, const char *file, const verify_facts *facts,
                       const char *original_patient, const char *offset)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct row *r = realloc(d->rows, cap * sizeof *r);
        if (!r)
            return -1;
        d->rows = r;
        d->cap = cap;
    }
    struct row *r = &d->rows[d->n];
    r->file = strdup(file);
    r->facts = *facts;
    r->original = original_patient ? strdup(original_patient) : NULL;
    r->offset = offset ? strdup(offset) : NULL;
    if (!r->file || (original_patient && !r->original) || (offset && !r->offset)) {
        free(r->file);
        free(r->original);
        free(r->offset);
        return -1;
    }
    d->n++;
    return 0;
}

/* Rows sorted by a key; each run of equal keys is checked for one distinct value. Rows of
 * one key are in file order, so that the file a finding names does not depend on the order
 * in which files were added (the order workers finished them). */
typedef const char *(*field_fn)(const struct row *r, char *buf);

static int cmp_rows(const void *a, const void *b, void *key)
{
    char x[32], y[32];
    field_fn k = *(field_fn *)key;
    const char *ka = k(a, x), *kb = k(b, y);
    int c = strcmp(ka ? ka : "", kb ? kb : "");
    return c ? c : strcmp(((const struct row *)a)->file, ((const struct row *)b)->file);
}

static int check_unique(verify_dataset *d, field_fn key, field_fn value, const char *detector,
                        const char *message, verify_findings *out)
{
    if (d->n < 2)
        return 0;  /* nothing to compare (and no array to sort when nothing was read) */
    qsort_r(d->rows, d->n, sizeof *d->rows, cmp_rows, &key);
    for (size_t i = 0; i < d->n;) {
        char kb[32];
        const char *k = key(&d->rows[i], kb);
        size_t j = i + 1;
        int reported = 0;
        while (j < d->n) {
            char kb2[32], vb[32], vb2[32];
            const char *k2 = key(&d->rows[j], kb2);
            if (!k || !k2 || strcmp(k, k2) != 0)
                break;
            const char *v1 = value(&d->rows[i], vb), *v2 = value(&d->rows[j], vb2);
            if (!reported && v1 && v2 && strcmp(v1, v2) != 0) {
                if (verify_findings_add(out, d->rows[j].file, "dataset", detector, SEV_POLICY,
                                        NULL, message) != 0)
                    return -1;
                reported = 1;
            }
            j++;
        }
        i = j;
    }
    return 0;
}

static const char *f_original(const struct row *r, char *b) { (void)b; return r->original; }
static const char *f_patient(const struct row *r, char *b) { (void)b; return r->facts.patient_id[0] ? r->facts.patient_id : NULL; }
static const char *f_study(const struct row *r, char *b) { (void)b; return r->facts.study_uid[0] ? r->facts.study_uid : NULL; }
static const char *f_sop(const struct row *r, char *b) { (void)b; return r->facts.sop_uid[0] ? r->facts.sop_uid : NULL; }
static const char *f_file(const struct row *r, char *b) { (void)b; return r->file; }

static const char *f_offset(const struct row *r, char *b) { (void)b; return r->offset; }

int verify_dataset_finish(verify_dataset *d, verify_findings *out)
{
    if (check_unique(d, f_original, f_patient, "dataset-pseudonym",
                     "one original patient got more than one pseudonym", out) ||
        check_unique(d, f_patient, f_original, "dataset-pseudonym",
                     "two original patients share one pseudonym", out) ||
        check_unique(d, f_study, f_patient, "dataset-study",
                     "one study appears under more than one patient", out) ||
        check_unique(d, f_sop, f_file, "dataset-uid",
                     "one SOP Instance UID is used by more than one file", out) ||
        check_unique(d, f_patient, f_offset, "dataset-dates",
                     "one patient's dates were moved by different offsets", out))
        return -1;
    return 0;
}
