/* verify/finding.c — findings: stable IDs, severities, masking. */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <openssl/evp.h>
#include "verify/finding.h"

static const char *const sev_names[] = {"info", "policy", "suspect", "phi", "leak"};

const char *verify_severity_name(verify_severity s)
{
    return (s >= SEV_INFO && s <= SEV_LEAK) ? sev_names[s] : "unknown";
}

int verify_severity_parse(const char *name)
{
    for (int i = SEV_INFO; i <= SEV_LEAK; i++)
        if (strcmp(name, sev_names[i]) == 0)
            return i;
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void verify_finding_id(const char *file, const char *where, const char *detector, char id[17])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *parts[3] = {file ? file : "", where ? where : "", detector ? detector : ""};
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (int i = 0; ok && i < 3; i++)
        ok = EVP_DigestUpdate(c, parts[i], strlen(parts[i]) + (i < 2));
    if (!ok || !EVP_DigestFinal_ex(c, md, &len))
        memset(md, 0, 8);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 8; i++)
        snprintf(id + 2 * i, 3, "%02x", md[i]);
}

int verify_findings_add(verify_findings *fs, const char *file, const char *where,
                        const char *detector, verify_severity sev, const char *value,
                        const char *message)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        verify_finding *v = realloc(fs->v, cap * sizeof *v);
        if (!v)
            return -1;
        fs->v = v;
        fs->cap = cap;
    }
    verify_finding *f = &fs->v[fs->n];
    memset(f, 0, sizeof *f);
    f->file = dup_or_null(file);
    f->where = dup_or_null(where);
    f->detector = dup_or_null(detector);
    f->value = dup_or_null(value);
    f->message = dup_or_null(message);
    f->severity = sev;
    if ((file && !f->file) || (where && !f->where) || (detector && !f->detector) ||
        (value && !f->value) || (message && !f->message)) {
        free(f->file); free(f->where); free(f->detector); free(f->value); free(f->message);
        return -1;
    }
    verify_finding_id(file, where, detector, f->id);
    fs->n++;
    return 0;
}

int verify_findings_set_thumbnail(verify_findings *fs, const char *png)
{
    if (!fs->n)
        return -1;
    verify_finding *f = &fs->v[fs->n - 1];
    free(f->thumbnail);
    f->thumbnail = strdup(png);
    return f->thumbnail ? 0 : -1;
}

void verify_findings_clear(verify_findings *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        verify_finding *f = &fs->v[i];
        free(f->file); free(f->where); free(f->detector); free(f->value); free(f->message);
        free(f->thumbnail);
    }
    free(fs->v);
    fs->v = NULL;
    fs->n = fs->cap = 0;
}

char *verify_mask(const char *value)
{
    char *m = strdup(value ? value : "");
    if (!m)
        return NULL;
    /* The first character of each word stays whole (all its UTF-8 bytes); every other
     * character becomes one '*'. */
    int in_word = 0;
    unsigned char *w = (unsigned char *)m;
    for (const unsigned char *p = (unsigned char *)m; *p;) {
        size_t len = 1;
        if (*p >= 0xC0)
            while ((p[len] & 0xC0) == 0x80)
                len++;
        if (isalnum(*p) || *p >= 0x80) {
            if (in_word) {
                *w++ = '*';
            } else {
                memmove(w, p, len);
                w += len;
            }
            in_word = 1;
        } else {
            *w++ = *p;
            in_word = 0;
        }
        p += len;
    }
    *w = 0;
    return m;
}
