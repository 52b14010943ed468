/* deid/pseudo.c — the key, keyed HMAC derivations (UIDs, Patient IDs, date offsets) and
 * the lookup CSV. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "deid/pseudo.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Drops leading and trailing spaces (DICOM padding, insignificant in LO) of s. */
static void trim(const char *s, const char **b, size_t *n)
{
    if (!s)
        s = "";
    const char *e = s + strlen(s);
    while (*s == ' ')
        s++;
    while (e > s && e[-1] == ' ')
        e--;
    *b = s;
    *n = (size_t)(e - s);
}

/* --- the key --- */

int deid_key_generate(const char *path, char *err, size_t errlen)
{
    unsigned char key[DEID_KEY_LEN];
    if (RAND_bytes(key, sizeof key) != 1) {
        set_err(err, errlen, "cannot get random bytes from the system for a new key");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            set_err(err, errlen, "%s already exists; refusing to overwrite it "
                    "(a new key changes every pseudonym)", path);
        else
            set_err(err, errlen, "cannot create key file %s: %s", path, strerror(errno));
        OPENSSL_cleanse(key, sizeof key);
        return -1;
    }
    /* The umask may have taken the owner's bits away; the owner must be able to read it. */
    int ok = fchmod(fd, 0600) == 0 && write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    int saved = errno;
    OPENSSL_cleanse(key, sizeof key);
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(path);
        set_err(err, errlen, "cannot write key file %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

int deid_key_load(const char *path, unsigned char key[DEID_KEY_LEN], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "cannot stat key file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "key file %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        set_err(err, errlen, "key file %s is accessible by group or others (mode %04o); "
                "run 'chmod 600 %s' and consider the key exposed", path,
                (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    if (st.st_size != DEID_KEY_LEN) {
        set_err(err, errlen, "key file %s has %lld bytes; a key has exactly %d "
                "(make one with 'deidtk keygen')", path, (long long)st.st_size, DEID_KEY_LEN);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < DEID_KEY_LEN) {
        ssize_t r = read(fd, key + got, DEID_KEY_LEN - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            set_err(err, errlen, "cannot read key file %s: %s", path, r < 0 ? strerror(errno) : "file shrank");
            OPENSSL_cleanse(key, DEID_KEY_LEN);
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

void deid_key_fingerprint(const unsigned char key[DEID_KEY_LEN], char hex_out[DEID_FINGERPRINT_LEN + 1])
{
    static const char label[] = "deidtk-key-fingerprint";
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[sizeof label - 1 + DEID_KEY_LEN], md[32];
    unsigned int mdlen = 0;
    memcpy(buf, label, sizeof label - 1);
    memcpy(buf + sizeof label - 1, key, DEID_KEY_LEN);
    if (EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof md);
    OPENSSL_cleanse(buf, sizeof buf);
    for (int i = 0; i < DEID_FINGERPRINT_LEN / 2; i++) {
        hex_out[2 * i] = hex[md[i] >> 4];
        hex_out[2 * i + 1] = hex[md[i] & 15];
    }
    hex_out[DEID_FINGERPRINT_LEN] = '\0';
}

/* --- HMAC --- */

/* HMAC-SHA256 (RFC 2104) by hand over SHA-256 contexts: each thread keeps the states after
 * the padded key (inner and outer) and copies them per message. Keying through EVP_MAC for
 * every short value cost more than the de-identification of the value itself. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

struct keyed {
    unsigned char key[DEID_KEY_LEN];
    EVP_MD_CTX *inner, *outer, *work;
};
static pthread_key_t keyed_key;
static pthread_once_t keyed_once = PTHREAD_ONCE_INIT;

static void keyed_free(void *p)
{
    struct keyed *k = p;
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
    OPENSSL_cleanse(k->key, sizeof k->key);
    free(k);
}

static void keyed_init(void)
{
    pthread_key_create(&keyed_key, keyed_free);
}

static struct keyed *keyed_for(const unsigned char key[DEID_KEY_LEN])
{
    pthread_once(&sha256_once, sha256_fetch);
    pthread_once(&keyed_once, keyed_init);
    if (!sha256_md)
        return NULL;
    struct keyed *k = pthread_getspecific(keyed_key);
    if (k && memcmp(k->key, key, DEID_KEY_LEN) == 0)
        return k;
    if (!k) {
        if (!(k = calloc(1, sizeof *k)))
            return NULL;
        k->inner = EVP_MD_CTX_new();
        k->outer = EVP_MD_CTX_new();
        k->work = EVP_MD_CTX_new();
        pthread_setspecific(keyed_key, k);
        if (!k->inner || !k->outer || !k->work)
            return NULL;
    }
    unsigned char ipad[64], opad[64];
    for (int i = 0; i < 64; i++) {
        unsigned char b = i < DEID_KEY_LEN ? key[i] : 0;
        ipad[i] = b ^ 0x36;
        opad[i] = b ^ 0x5c;
    }
    int ok = EVP_DigestInit_ex(k->inner, sha256_md, NULL) == 1 &&
             EVP_DigestUpdate(k->inner, ipad, sizeof ipad) == 1 &&
             EVP_DigestInit_ex(k->outer, sha256_md, NULL) == 1 &&
             EVP_DigestUpdate(k->outer, opad, sizeof opad) == 1;
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    if (!ok)
        return NULL;
    memcpy(k->key, key, DEID_KEY_LEN);
    return k;
}

/* HMAC(key, domain || 0x00 || part[0] || part[1] ...). */
static int hmac_parts(const unsigned char key[DEID_KEY_LEN], const char *domain, const void *const *part,
                      const size_t *len, size_t nparts, unsigned char out[32])
{
    struct keyed *k = keyed_for(key);
    if (!k)
        return -1;
    unsigned char inner[32];
    unsigned int n = 0;
    int ok = EVP_MD_CTX_copy_ex(k->work, k->inner) == 1 &&
             EVP_DigestUpdate(k->work, domain, strlen(domain) + 1) == 1;
    for (size_t i = 0; ok && i < nparts; i++)
        ok = EVP_DigestUpdate(k->work, part[i], len[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(k->work, inner, &n) == 1 &&
         EVP_MD_CTX_copy_ex(k->work, k->outer) == 1 &&
         EVP_DigestUpdate(k->work, inner, sizeof inner) == 1 &&
         EVP_DigestFinal_ex(k->work, out, &n) == 1 && n == 32;
    return ok ? 0 : -1;
}

int deid_hmac(const unsigned char key[DEID_KEY_LEN], const char *domain, const void *data,
              size_t len, unsigned char out[32])
{
    return hmac_parts(key, domain, &data, &len, 1, out);
}

int deid_token(const unsigned char key[DEID_KEY_LEN], const char *domain, const char *text,
               char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    out[0] = 0;
    if (deid_hmac(key, domain, text, strlen(text), mac) != 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = 0;
    return 0;
}

/* HMAC over issuer + "\" + id, both trimmed. */
static int hmac_patient(const unsigned char key[DEID_KEY_LEN], const char *domain, const char *issuer,
                        const char *id, unsigned char out[32])
{
    const char *ib, *b;
    size_t in, n;
    trim(issuer, &ib, &in);
    trim(id, &b, &n);
    const void *part[3] = {ib, "\\", b};
    size_t len[3] = {in, 1, n};
    return hmac_parts(key, domain, part, len, 3, out);
}

/* Decimal digits of the big-endian number b[0..n), n <= 32, without leading zeros;
 * out needs 79 bytes. Returns the number of digits. */
static size_t to_decimal(const unsigned char *b, size_t n, char *out)
{
    /* In 32-bit limbs, nine digits per division: a division per byte and digit was most
     * of the cost of a Patient ID. */
    uint32_t limb[8] = {0};
    size_t nl = (n + 3) / 4;
    for (size_t i = 0; i < n; i++) {
        size_t pos = n - 1 - i;  /* the byte's place from the least significant */
        limb[nl - 1 - pos / 4] |= (uint32_t)b[i] << (8 * (pos % 4));
    }
    char rev[80];
    size_t k = 0;
    int nonzero;
    do {
        uint64_t rem = 0;
        nonzero = 0;
        for (size_t i = 0; i < nl; i++) {
            uint64_t cur = rem << 32 | limb[i];
            limb[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
            nonzero |= limb[i] != 0;
        }
        /* nine digits, zero-padded, below the top; the top one without leading zeros */
        for (int d = 0; d < 9 && (nonzero || d == 0 || rem); d++) {
            rev[k++] = (char)('0' + rem % 10);
            rem /= 10;
        }
    } while (nonzero);
    for (size_t i = 0; i < k; i++)
        out[i] = rev[k - 1 - i];
    out[k] = '\0';
    return k;
}

/* --- UIDs --- */

static int uid_digits(const unsigned char key[DEID_KEY_LEN], const char *original, char digits[80])
{
    size_t n = original ? strlen(original) : 0;
    while (n > 0 && (original[n - 1] == ' ' || original[n - 1] == '\0'))
        n--;
    unsigned char mac[32];
    if (n == 0 || deid_hmac(key, "uid", original, n, mac) != 0)
        return -1;
    to_decimal(mac, 16, digits);
    return 0;
}

int deid_uid(const unsigned char key[DEID_KEY_LEN], const char *original, char *out, size_t outlen)
{
    char digits[80];
    if (uid_digits(key, original, digits) != 0)
        return -1;
    int w = snprintf(out, outlen, "2.25.%s", digits);
    return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

deid_uid_fault deid_uid_syntax(const char *u)
{
    size_t n = strlen(u);
    int zero = 0;
    if (n == 0)
        return DEID_UID_NOT_DIGITS;
    for (size_t i = 0; i < n; i++) {
        int start = i == 0 || u[i - 1] == '.';
        if (u[i] == '.' ? start : (u[i] < '0' || u[i] > '9'))
            return DEID_UID_NOT_DIGITS;
        zero |= start && u[i] == '0' && i + 1 < n && u[i + 1] != '.';
    }
    return u[n - 1] == '.' ? DEID_UID_TRAILING_DOT : zero ? DEID_UID_LEADING_ZERO : DEID_UID_OK;
}

#define UID_ROOT_MIN_DIGITS 20

int deid_uid_root_check(const char *root, char *err, size_t errlen)
{
    size_t n = strlen(root);
    if (n == 0 || n > DEID_UID_MAX - 1 - UID_ROOT_MIN_DIGITS) {
        set_err(err, errlen, "UID root must have 1 to %d characters (room for %d derived digits)",
                DEID_UID_MAX - 1 - UID_ROOT_MIN_DIGITS, UID_ROOT_MIN_DIGITS);
        return -1;
    }
    switch (deid_uid_syntax(root)) {
    case DEID_UID_OK:
        return 0;
    case DEID_UID_NOT_DIGITS:
        set_err(err, errlen, "UID root '%s' is not digits separated by single dots", root);
        return -1;
    case DEID_UID_TRAILING_DOT:
        set_err(err, errlen, "UID root '%s' ends with a dot", root);
        return -1;
    case DEID_UID_LEADING_ZERO:
    default:
        set_err(err, errlen, "UID root '%s' has a component with a leading zero", root);
        return -1;
    }
}

int deid_uid_root(const unsigned char key[DEID_KEY_LEN], const char *root, const char *original,
                  char *out, size_t outlen, char *err, size_t errlen)
{
    if (!root || !*root) {
        if (deid_uid(key, original, out, outlen) == 0)
            return 0;
        set_err(err, errlen, "cannot derive a UID (empty UID or output buffer too small)");
        return -1;
    }
    if (deid_uid_root_check(root, err, errlen) != 0)
        return -1;
    char digits[80];
    if (uid_digits(key, original, digits) != 0) {
        set_err(err, errlen, "cannot derive a UID from an empty UID");
        return -1;
    }
    size_t room = DEID_UID_MAX - strlen(root) - 1;
    int w = snprintf(out, outlen, "%s.%.*s", root, (int)room, digits);
    if (w < 0 || (size_t)w >= outlen) {
        set_err(err, errlen, "UID output buffer too small");
        return -1;
    }
    return 0;
}

/* --- Patient ID templates --- */

struct tmpl {
    size_t pre;          /* literal characters before the placeholder */
    const char *post;    /* literal text after it */
    int hex;             /* {hex:N} rather than {digits:N} */
    int n;
};

static int tmpl_parse(const char *t, struct tmpl *out, char *err, size_t errlen)
{
    const char *open = NULL;
    for (const char *p = t; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '{') {
            int hex = strncmp(p, "{hex:", 5) == 0;
            if (open || (!hex && strncmp(p, "{digits:", 8) != 0)) {
                open = NULL;
                break;
            }
            open = p;
            char *end;
            long n = strtol(p + (hex ? 5 : 8), &end, 10);
            int lo = hex ? 5 : 6, hi = hex ? 64 : 38;
            if (*end != '}' || n < lo || n > hi) {
                set_err(err, errlen, "ID template: {%s:N} needs %d <= N <= %d", hex ? "hex" : "digits", lo, hi);
                return -1;
            }
            out->pre = (size_t)(p - t);
            out->hex = hex;
            out->n = (int)n;
            out->post = end + 1;
            p = end;
            continue;
        }
        if (c < 0x20 || c > 0x7e || c == '\\' || c == '{' || c == '}') {
            set_err(err, errlen, "ID template: only printable ASCII without backslash or braces "
                    "may surround the placeholder");
            return -1;
        }
    }
    if (!open) {
        set_err(err, errlen, "ID template needs exactly one placeholder {digits:N} or {hex:N}, "
                "e.g. %s", DEID_ID_TEMPLATE_DEFAULT);
        return -1;
    }
    if (out->pre + (size_t)out->n + strlen(out->post) > DEID_ID_MAX) {
        set_err(err, errlen, "ID template gives IDs longer than %d characters", DEID_ID_MAX);
        return -1;
    }
    return 0;
}

int deid_id_matches_template(const char *tmpl, const char *v)
{
    if (!tmpl)
        tmpl = DEID_ID_TEMPLATE_DEFAULT;
    const char *open = strchr(tmpl, '{'), *close = open ? strchr(open, '}') : NULL;
    int n = 0, hex = 0;
    if (!close || (sscanf(open, "{digits:%d}", &n) != 1 && !(hex = sscanf(open, "{hex:%d}", &n) == 1)))
        return 0;
    size_t pre = (size_t)(open - tmpl);
    if (strncmp(v, tmpl, pre) != 0)
        return 0;
    v += pre;
    for (int i = 0; i < n; i++, v++)
        if (!(*v >= '0' && *v <= '9') && !(hex && *v >= 'A' && *v <= 'F'))
            return 0;
    return strcmp(v, close + 1) == 0;
}

int deid_id_template_check(const char *tmpl, char *err, size_t errlen)
{
    struct tmpl t;
    return tmpl_parse(tmpl, &t, err, errlen);
}

int deid_id_from_template(const unsigned char key[DEID_KEY_LEN], const char *tmpl, const char *issuer,
                          const char *original, char *out, size_t outlen, char *err, size_t errlen)
{
    struct tmpl t;
    if (!tmpl)
        tmpl = DEID_ID_TEMPLATE_DEFAULT;
    if (tmpl_parse(tmpl, &t, err, errlen) != 0)
        return -1;
    unsigned char mac[32];
    if (hmac_patient(key, "patient-id", issuer, original, mac) != 0) {
        set_err(err, errlen, "HMAC failed in libcrypto");
        return -1;
    }
    char field[80];
    if (t.hex) {
        static const char hex[] = "0123456789ABCDEF";
        for (int i = 0; i < t.n; i++)
            field[i] = hex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15];
        field[t.n] = '\0';
    } else {
        /* The number modulo 10^N: its last N decimal digits, zero-padded. */
        char dec[80];
        size_t k = to_decimal(mac, sizeof mac, dec);
        size_t n = (size_t)t.n;
        if (k >= n) {
            memcpy(field, dec + k - n, n + 1);
        } else {
            memset(field, '0', n - k);
            memcpy(field + n - k, dec, k + 1);
        }
    }
    int w = snprintf(out, outlen, "%.*s%s%s", (int)t.pre, tmpl, field, t.post);
    if (w < 0 || (size_t)w >= outlen) {
        set_err(err, errlen, "Patient ID output buffer too small");
        return -1;
    }
    return 0;
}

/* --- date offsets --- */

static int offset_range_check(int min_days, int max_days, char *err, size_t errlen)
{
    if (min_days > max_days || (min_days == 0 && max_days == 0) || min_days < -DEID_OFFSET_LIMIT ||
        max_days > DEID_OFFSET_LIMIT) {
        set_err(err, errlen, "date offset range %d..%d days is invalid: need min <= max, within "
                "+-%d, not just 0", min_days, max_days, DEID_OFFSET_LIMIT);
        return -1;
    }
    return 0;
}

int deid_date_offset(const unsigned char key[DEID_KEY_LEN], const char *issuer, const char *original,
                     int min_days, int max_days, int *days, char *err, size_t errlen)
{
    if (offset_range_check(min_days, max_days, err, errlen) != 0)
        return -1;
    unsigned char mac[32];
    if (hmac_patient(key, "date-offset", issuer, original, mac) != 0) {
        set_err(err, errlen, "HMAC failed in libcrypto");
        return -1;
    }
    int has_zero = min_days <= 0 && max_days >= 0;
    uint64_t count = (uint64_t)((long)max_days - min_days + 1 - has_zero);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | mac[i];
    /* count is at most 146001, so the modulo bias is below 2^-45. */
    int d = min_days + (int)(v % count);
    if (has_zero && d >= 0)
        d++;
    *days = d;
    return 0;
}

/* --- lookup CSV --- */

struct lookup_entry {
    char *old_id;
    char *new_id;
    int has_offset;
    int offset;
    unsigned line;
};

struct deid_lookup {
    struct lookup_entry *e;    /* sorted by old_id */
    size_t n;
};

void deid_lookup_free(struct deid_lookup *lookup)
{
    if (!lookup)
        return;
    for (size_t i = 0; i < lookup->n; i++) {
        free(lookup->e[i].old_id);
        free(lookup->e[i].new_id);
    }
    free(lookup->e);
    free(lookup);
}

size_t deid_lookup_count(const struct deid_lookup *lookup)
{
    return lookup ? lookup->n : 0;
}

#define CSV_MAX_FIELDS 3

struct csv {
    const char *p, *end;
    unsigned line;
};

/* Reads one record: up to CSV_MAX_FIELDS fields are kept (malloc'd, trimmed), *nf counts
 * all of them. Returns 1, 0 at end of file, or -1 with err filled and no field kept. */
static int csv_record(struct csv *c, char **field, size_t *nf, const char *path, char *err, size_t errlen)
{
    *nf = 0;
    if (c->p >= c->end)
        return 0;
    for (;;) {
        size_t cap = 16, len = 0;
        char *buf = malloc(cap);
        if (!buf) {
            set_err(err, errlen, "out of memory reading %s", path);
            goto fail;
        }
        int quoted = *c->p == '"';
        unsigned open_line = c->line;
        if (quoted)
            c->p++;
        for (;;) {
            if (c->p >= c->end) {
                if (quoted) {
                    set_err(err, errlen, "%s line %u: quoted field is not closed", path, open_line);
                    free(buf);
                    goto fail;
                }
                break;
            }
            char ch = *c->p;
            if (quoted && ch == '"') {
                if (c->p + 1 < c->end && c->p[1] == '"') {
                    c->p += 2;
                } else {
                    c->p++;
                    quoted = 0;
                    while (c->p < c->end && *c->p == ' ')
                        c->p++;
                    if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                        set_err(err, errlen, "%s line %u: text after a closing quote", path, c->line);
                        free(buf);
                        goto fail;
                    }
                    continue;
                }
            } else if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) {
                break;
            } else {
                if (ch == '\n')
                    c->line++;
                c->p++;
            }
            if (len + 2 > cap) {
                char *nb = realloc(buf, cap *= 2);
                if (!nb) {
                    free(buf);
                    set_err(err, errlen, "out of memory reading %s", path);
                    goto fail;
                }
                buf = nb;
            }
            buf[len++] = ch;
        }
        buf[len] = '\0';
        const char *b;
        size_t n;
        trim(buf, &b, &n);
        memmove(buf, b, n);
        buf[n] = '\0';
        if (*nf < CSV_MAX_FIELDS)
            field[*nf] = buf;
        else
            free(buf);
        (*nf)++;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        }
        return 1;
    }
fail:
    for (size_t i = 0; i < *nf && i < CSV_MAX_FIELDS; i++)
        free(field[i]);
    return -1;
}

static int cmp_old(const void *a, const void *b)
{
    const struct lookup_entry *x = a, *y = b;
    int c = strcmp(x->old_id, y->old_id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int cmp_new(const void *a, const void *b)
{
    const struct lookup_entry *x = *(const struct lookup_entry *const *)a;
    const struct lookup_entry *y = *(const struct lookup_entry *const *)b;
    int c = strcmp(x->new_id, y->new_id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int valid_new_id(const char *s)
{
    size_t n = strlen(s);
    if (n > DEID_ID_MAX)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '\\')
            return 0;
    return 1;
}

static int parse_offset(const char *s, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x == 0 || x < -DEID_OFFSET_LIMIT || x > DEID_OFFSET_LIMIT)
        return -1;
    *v = (int)x;
    return 0;
}

/* Reads the CSV rows of text into l (unsorted). */
static int lookup_parse(const char *text, size_t size, const char *path, struct deid_lookup *l,
                        char *err, size_t errlen)
{
    struct csv c = {text, text + size, 1};
    if (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;
    char *f[CSV_MAX_FIELDS];
    size_t nf, cols = 0, cap = 0;
    int rc;
    for (;;) {
        unsigned line = c.line;
        rc = csv_record(&c, f, &nf, path, err, errlen);
        if (rc <= 0)
            break;
        size_t kept = nf < CSV_MAX_FIELDS ? nf : CSV_MAX_FIELDS;
        int blank = nf == 1 && f[0][0] == '\0';
        const char *msg = NULL;
        if (blank) {
            /* skipped */
        } else if (cols == 0) {
            if (nf >= 2 && nf <= 3 && strcmp(f[0], "id_old") == 0 && strcmp(f[1], "id_new") == 0 &&
                (nf == 2 || strcmp(f[2], "date_offset_days") == 0))
                cols = nf;
            else
                msg = "the header must be id_old,id_new or id_old,id_new,date_offset_days";
        } else if (nf != cols) {
            set_err(err, errlen, "%s line %u: expected %zu columns (%s), found %zu", path, line, cols,
                    cols == 2 ? "id_old,id_new" : "id_old,id_new,date_offset_days", nf);
            rc = -1;
        } else if (!f[0][0]) {
            msg = "empty id_old";
        } else if (!f[1][0]) {
            msg = "empty id_new";
        } else if (!valid_new_id(f[1])) {
            msg = "id_new must be at most 64 printable ASCII characters without a backslash";
        } else {
            struct lookup_entry e = {f[0], f[1], 0, 0, line};
            if (cols == 3 && f[2][0]) {
                if (parse_offset(f[2], &e.offset) != 0)
                    msg = "date_offset_days must be a non-zero whole number of days within +-73000";
                e.has_offset = 1;
            }
            if (!msg && l->n == cap) {
                cap = cap ? cap * 2 : 64;
                struct lookup_entry *ne = realloc(l->e, cap * sizeof *ne);
                if (!ne) {
                    set_err(err, errlen, "out of memory reading %s", path);
                    rc = -1;
                } else {
                    l->e = ne;
                }
            }
            if (!msg && rc > 0) {
                l->e[l->n++] = e;
                f[0] = f[1] = NULL;
            }
        }
        if (msg) {
            set_err(err, errlen, "%s line %u: %s", path, line, msg);
            rc = -1;
        }
        for (size_t i = 0; i < kept; i++)
            free(f[i]);
        if (rc < 0)
            break;
    }
    if (rc == 0 && cols == 0) {
        set_err(err, errlen, "%s is empty: expected the header id_old,id_new", path);
        rc = -1;
    }
    return rc < 0 ? -1 : 0;
}

/* Duplicate id_old, or one id_new for two originals: names the pair whose later line is
 * earliest in the file, as a person reading it top-down would find it. */
static int lookup_check(struct deid_lookup *l, const char *path, char *err, size_t errlen)
{
    unsigned first = 0, second = 0;
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->e[i - 1].old_id, l->e[i].old_id) == 0 && (!second || l->e[i].line < second)) {
            first = l->e[i - 1].line;
            second = l->e[i].line;
        }
    if (second) {
        set_err(err, errlen, "%s line %u: id_old duplicates line %u", path, second, first);
        return -1;
    }
    struct lookup_entry **by_new = malloc((l->n ? l->n : 1) * sizeof *by_new);
    if (!by_new) {
        set_err(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    for (size_t i = 0; i < l->n; i++)
        by_new[i] = &l->e[i];
    qsort(by_new, l->n, sizeof *by_new, cmp_new);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(by_new[i - 1]->new_id, by_new[i]->new_id) == 0 && (!second || by_new[i]->line < second)) {
            first = by_new[i - 1]->line;
            second = by_new[i]->line;
        }
    free(by_new);
    if (second) {
        set_err(err, errlen, "%s line %u: id_new is also assigned on line %u to a different id_old",
                path, second, first);
        return -1;
    }
    return 0;
}

int deid_lookup_load(const char *path, struct deid_lookup **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "cannot open lookup table %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, size = 0;
    char *text = malloc(cap);
    size_t r;
    while (text && (r = fread(text + size, 1, cap - size, fp)) > 0) {
        size += r;
        if (size == cap) {
            char *nt = realloc(text, cap *= 2);
            if (!nt)
                free(text);
            text = nt;
        }
    }
    int rd_err = ferror(fp);
    fclose(fp);
    if (!text || rd_err) {
        set_err(err, errlen, rd_err ? "cannot read lookup table %s" : "out of memory reading %s", path);
        free(text);
        return -1;
    }
    struct deid_lookup *l = calloc(1, sizeof *l);
    int rc = l ? lookup_parse(text, size, path, l, err, errlen) : -1;
    free(text);
    if (!l) {
        set_err(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    if (rc == 0) {
        qsort(l->e, l->n, sizeof *l->e, cmp_old);
        rc = lookup_check(l, path, err, errlen);
    }
    if (rc != 0) {
        deid_lookup_free(l);
        return -1;
    }
    *out = l;
    return 0;
}

const char *deid_lookup_find(const struct deid_lookup *lookup, const char *original,
                             int *has_offset, int *offset_days)
{
    const char *b;
    size_t n;
    trim(original, &b, &n);
    size_t lo = 0, hi = lookup->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = lookup->e[mid].old_id;
        int c = strncmp(k, b, n);
        if (c == 0 && k[n] != '\0')
            c = 1;
        if (c == 0) {
            if (has_offset)
                *has_offset = lookup->e[mid].has_offset;
            if (offset_days && lookup->e[mid].has_offset)
                *offset_days = lookup->e[mid].offset;
            return lookup->e[mid].new_id;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (has_offset)
        *has_offset = 0;
    return NULL;
}

/* --- the engine's entry point --- */

void deid_pseudo_init(struct deid_pseudo *p, const unsigned char key[DEID_KEY_LEN])
{
    memset(p, 0, sizeof *p);
    memcpy(p->key, key, DEID_KEY_LEN);
    p->offset_min = DEID_OFFSET_MIN_DEFAULT;
    p->offset_max = DEID_OFFSET_MAX_DEFAULT;
}

int deid_pseudo_check(const struct deid_pseudo *p, char *err, size_t errlen)
{
    if (p->uid_root && *p->uid_root && deid_uid_root_check(p->uid_root, err, errlen) != 0)
        return -1;
    if (deid_id_template_check(p->id_template ? p->id_template : DEID_ID_TEMPLATE_DEFAULT, err, errlen) != 0)
        return -1;
    return offset_range_check(p->offset_min, p->offset_max, err, errlen);
}

int deid_patient_map(const struct deid_pseudo *p, const char *issuer, const char *original_id,
                     char *new_id, size_t new_id_len, int *offset_days, char *err, size_t errlen)
{
    int has_offset = 0, offset = 0;
    const char *found = p->lookup ? deid_lookup_find(p->lookup, original_id, &has_offset, &offset) : NULL;
    if (found) {
        if (strlen(found) >= new_id_len) {
            set_err(err, errlen, "Patient ID output buffer too small");
            return -1;
        }
        strcpy(new_id, found);
    } else if (p->lookup && !p->unknown_use_template) {
        set_err(err, errlen, "a Patient ID is not in the lookup table (%zu entries); add it, or let "
                "unknown IDs take the template", deid_lookup_count(p->lookup));
        return -1;
    } else if (deid_id_from_template(p->key, p->id_template, issuer, original_id, new_id, new_id_len,
                                     err, errlen) != 0) {
        return -1;
    }
    if (!offset_days)
        return 0;
    if (has_offset) {
        *offset_days = offset;
        return 0;
    }
    return deid_date_offset(p->key, issuer, original_id, p->offset_min, p->offset_max, offset_days, err, errlen);
}
