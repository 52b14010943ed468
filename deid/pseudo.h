/* deid/pseudo.h — the pseudonymization key and everything derived from it.
 *
 * One key (32 random bytes, a file of mode 0600) drives every replacement through
 * HMAC-SHA256 with a domain string per use, so the same key gives the same UIDs, Patient
 * IDs and date offsets on any machine, in any order and in any shard, with no shared
 * state. Archives that assign subject IDs themselves supply a lookup CSV instead.
 *
 * Every function is thread-safe; a loaded key, template or lookup is read-only and may be
 * shared by worker threads. Error messages never contain PHI (no original ID, no key). */
#ifndef DEIDTK_PSEUDO_H
#define DEIDTK_PSEUDO_H

#include <stddef.h>

#define DEID_KEY_LEN 32
#define DEID_FINGERPRINT_LEN 16          /* hex characters, without the NUL */
#define DEID_UID_MAX 64                  /* a UI value, without padding */
#define DEID_ID_MAX 64                   /* an LO value (Patient ID) */
#define DEID_ID_TEMPLATE_DEFAULT "DEID-{digits:10}"
#define DEID_OFFSET_MIN_DEFAULT (-3650)
#define DEID_OFFSET_MAX_DEFAULT (-365)
#define DEID_OFFSET_LIMIT 73000          /* |offset| in days, about 200 years */

/* --- the key --- */

/* Write 32 fresh random bytes to path, created with mode 0600. Refuses an existing path
 * (a new key would change every pseudonym). Returns 0 or -1 with err filled. */
int deid_key_generate(const char *path, char *err, size_t errlen);

/* Read a key file. Refuses a file that is not a regular file, that group or others may
 * read or write, or that is not exactly 32 bytes. Returns 0 or -1 with err filled. */
int deid_key_load(const char *path, unsigned char key[DEID_KEY_LEN], char *err, size_t errlen);

/* The key's public name for audit trails and reports: the first 16 hex characters of
 * SHA-256("deidtk-key-fingerprint" || key). hex_out receives 16 characters and a NUL. */
void deid_key_fingerprint(const unsigned char key[DEID_KEY_LEN], char hex_out[DEID_FINGERPRINT_LEN + 1]);

/* HMAC-SHA256(key, domain || 0x00 || data): the domain ("uid", "patient-id",
 * "date-offset", "value", ...) keeps each use's outputs unrelated. Returns 0 or -1 if
 * libcrypto fails. */
int deid_hmac(const unsigned char key[DEID_KEY_LEN], const char *domain, const void *data,
              size_t len, unsigned char out[32]);
/* deid_hmac of text as 64 lower-case hex digits and a NUL: a token, equal for equal texts,
 * that says nothing of them without the key. Returns 0, or -1 (out empty) if libcrypto
 * fails. */
int deid_token(const unsigned char key[DEID_KEY_LEN], const char *domain, const char *text,
               char out[65]);

/* --- UIDs --- */

/* "2.25." + the decimal value of the first 128 bits of HMAC(key, "uid", original): at most
 * 44 characters, no leading zero. Trailing spaces and NULs (padding) of original are
 * ignored, so padded and unpadded copies of a UID map alike. Returns 0, or -1 if original
 * is empty or out is too small (outlen DEID_UID_MAX + 1 is always enough). */
int deid_uid(const unsigned char key[DEID_KEY_LEN], const char *original, char *out, size_t outlen);

/* What keeps a text from being a UID as PS3.5 9.1 writes it (components of digits joined
 * by single dots, none with a leading zero), the most basic fault first. */
typedef enum deid_uid_fault {
    DEID_UID_OK,
    DEID_UID_NOT_DIGITS,     /* empty, a character other than a digit or '.', or an empty
                              * component before the last */
    DEID_UID_TRAILING_DOT,
    DEID_UID_LEADING_ZERO
} deid_uid_fault;
deid_uid_fault deid_uid_syntax(const char *u);

/* Checks a site UID root: digits and dots, no empty component, no leading zero, and room
 * for at least 20 derived digits within 64 characters (so at most 43 characters). */
int deid_uid_root_check(const char *root, char *err, size_t errlen);

/* As deid_uid, under a site root: root + "." + the leading decimal digits of the same
 * 128-bit value, as many as fit in 64 characters. A NULL or empty root gives deid_uid's
 * "2.25." form. Returns 0 or -1 with err filled. */
int deid_uid_root(const unsigned char key[DEID_KEY_LEN], const char *root, const char *original,
                  char *out, size_t outlen, char *err, size_t errlen);

/* --- Patient ID pseudonyms --- */

/* Checks a Patient ID template: literal printable ASCII (no backslash or braces) around
 * exactly one placeholder, {digits:N} with 6 <= N <= 38 or {hex:N} with 5 <= N <= 64,
 * and a result of at most 64 characters. Returns 0 or -1 with err filled. */
int deid_id_template_check(const char *tmpl, char *err, size_t errlen);

/* Whether v is an ID the template (NULL: DEID_ID_TEMPLATE_DEFAULT) can make: a pseudonym. */
int deid_id_matches_template(const char *tmpl, const char *v);

/* The template filled from HMAC(key, "patient-id", issuer + "\" + original): {digits:N} is
 * the HMAC as a number modulo 10^N (zero-padded), {hex:N} its first N hex digits in upper
 * case. tmpl NULL means DEID_ID_TEMPLATE_DEFAULT; issuer NULL means "". Leading and
 * trailing spaces of issuer and original are ignored. Returns 0 or -1 with err filled. */
int deid_id_from_template(const unsigned char key[DEID_KEY_LEN], const char *tmpl, const char *issuer,
                          const char *original, char *out, size_t outlen, char *err, size_t errlen);

/* The per-patient date offset in days, from HMAC(key, "date-offset", issuer + "\" +
 * original), uniform over [min_days, max_days] without 0. Returns 0 or -1 with err filled
 * (min > max, the range is {0}, or a bound beyond DEID_OFFSET_LIMIT). */
int deid_date_offset(const unsigned char key[DEID_KEY_LEN], const char *issuer, const char *original,
                     int min_days, int max_days, int *days, char *err, size_t errlen);

/* --- lookup CSV: original Patient ID -> assigned ID ---
 * Header "id_old,id_new" or "id_old,id_new,date_offset_days"; fields may be quoted as in
 * RFC 4180; spaces around IDs are ignored; an empty date_offset_days means the key-derived
 * offset. Originals are matched on the Patient ID alone (not its issuer). */
struct deid_lookup;

/* Loads path into *out (free it with deid_lookup_free). Errors name the file and line:
 * bad header, wrong column count, empty ID, an id_new that is not a valid Patient ID,
 * a bad or zero offset, a duplicate id_old, or one id_new given to two different id_old.
 * Returns 0 or -1 with err filled and *out NULL. */
int deid_lookup_load(const char *path, struct deid_lookup **out, char *err, size_t errlen);
void deid_lookup_free(struct deid_lookup *lookup);
size_t deid_lookup_count(const struct deid_lookup *lookup);
/* Returns the assigned ID (owned by lookup) or NULL. If the row has an offset,
 * *offset_days receives it and *has_offset 1; otherwise *has_offset is 0. Either of the
 * two may be NULL. */
const char *deid_lookup_find(const struct deid_lookup *lookup, const char *original,
                             int *has_offset, int *offset_days);

/* --- one call for the engine --- */

/* Everything that maps a patient. Fill it with deid_pseudo_init, then override fields.
 * The strings and the lookup are borrowed, not owned: keep them alive while in use. */
struct deid_pseudo {
    unsigned char key[DEID_KEY_LEN];
    const char *uid_root;              /* NULL: "2.25." UIDs */
    const char *id_template;           /* NULL: DEID_ID_TEMPLATE_DEFAULT */
    const struct deid_lookup *lookup;  /* NULL: every ID comes from the template */
    int unknown_use_template;          /* lookup miss: 1 use the template, 0 an error */
    int offset_min, offset_max;        /* days; default -3650..-365 */
};

/* Sets the defaults above and copies key. */
void deid_pseudo_init(struct deid_pseudo *p, const unsigned char key[DEID_KEY_LEN]);

/* Checks p's root, template and offset range once, before any file is processed.
 * Returns 0 or -1 with err filled. */
int deid_pseudo_check(const struct deid_pseudo *p, char *err, size_t errlen);

/* Maps one patient: new_id (also the replacement Patient's Name by default) from the
 * lookup, else from the template; *offset_days from the lookup row, else from the key.
 * A lookup miss with unknown_use_template 0 returns -1 ("not in the lookup table").
 * new_id needs DEID_ID_MAX + 1 bytes. Returns 0 or -1 with err filled. */
int deid_patient_map(const struct deid_pseudo *p, const char *issuer, const char *original_id,
                     char *new_id, size_t new_id_len, int *offset_days, char *err, size_t errlen);

#endif
