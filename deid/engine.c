/* deid/engine.c — the policy applied to a dataset: two passes over the elements with one
 * decision function. The first pass learns what identifies the patient (values the policy
 * removes or replaces) and which private blocks keep something; the second edits. */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "deid/clean.h"
#include "deid/dates.h"
#include "deid/engine.h"
#include "deid/pixels.h"

/* A growable list of strings. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = 0;
    l->v[l->n++] = c;
    return 0;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strlist_has(const strlist *sorted, const char *s)
{
    return sorted->n && bsearch(&s, sorted->v, sorted->n, sizeof *sorted->v, cmp_str) != NULL;
}

/* A name one of whose words is vocabulary of the kept values ("Last Name^First Name" beside
 * a kept Code Meaning "Recording Observer's Name") is searched only as a whole phrase. */
static int word_is_kept(const char *joined, const char *normalised)
{
    char buf[256];
    for (const char *p = normalised; *p;) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (len < sizeof buf) {
            memcpy(buf, p, len);
            buf[len] = 0;
            if (verify_pair_in_words(joined, buf))
                return 1;
        }
        p = sp ? sp + 1 : p + len;
    }
    return 0;
}

/* Lower case; dots, hyphens and apostrophes dropped ("G.E." is "ge"); every other
 * separator one space; trimmed: how values are compared, as the paired check does. Writes
 * at most strlen(s) + 1 bytes to o; returns the length. */
static size_t normalise_into(const char *s, char *o)
{
    char *p = o;
    int space = 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.' || c == '-' || c == '\'')
            continue;
        if (c < 0x80 && !isalnum(c)) {
            if (!space)
                *p++ = ' ';
            space = 1;
        } else {
            *p++ = (char)tolower(c);
            space = 0;
        }
    }
    while (p > o && p[-1] == ' ')
        p--;
    *p = 0;
    return (size_t)(p - o);
}

/* The same into a malloc'd string; NULL when out of memory. */
static char *normalise(const char *s)
{
    char *o = malloc(strlen(s) + 1);
    if (o)
        normalise_into(s, o);
    return o;
}

typedef enum { V_KEEP, V_REMOVE, V_EMPTY, V_REPLACE } vkind;

typedef struct uid_memo {
    char orig[DEID_UID_MAX * 2 + 1], mapped[DEID_UID_MAX + 1];
} uid_memo;

typedef struct verdict {
    vkind kind;
    const char *action;   /* for the audit trail */
    char *value;          /* V_REPLACE, malloc'd */
    int identifying;      /* the original value identifies (removed/replaced, not cleaned) */
    int again;            /* pass 1's verdict needs what pass 1 learns: pass 2 decides again */
    int ready;            /* in ctx.decided: pass 1 left it for pass 2 */
} verdict;

struct ctx {
    const deid_engine *e;
    dcm_file *f;
    deid_result *r;
    int pass;             /* 1 learn, 2 edit */
    int drop_depth;       /* pass 1: inside a sequence that goes, deeper elements go too */
    strlist blocks;       /* "item-prefix|gggg|bb" of private blocks that keep an element */
    /* The normalised values the policy keeps, each followed by a newline, which
     * normalised values never hold: one search covers them all. */
    char *kept;
    size_t kept_len, kept_cap;
    int kept_empty;       /* one of them is empty */
    strlist candidates;   /* "K<kind>value" identifying values, filtered by kept */
    strlist uids;         /* original UIDs replaced */
    uid_memo *memo;       /* UIDs derived so far: both passes map the same UIDs */
    size_t nmemo, capmemo;
    /* Pass 1's verdicts by listing index, taken by pass 2: most do not depend on what pass
     * 1 learns, and deciding is a third of a pass. */
    verdict *decided;
    size_t ndecided;
    int dates_shifted;
    char *err;
    size_t errlen;
    int failed;
};

static int option_on(const struct ctx *c, deid_option o)
{
    return (deid_policy_options(c->e->policy) & DEID_OPTION_BIT(o)) != 0;
}

static int vr_is(const dcm_elem *e, const char *vr)
{
    return e->vr[0] == vr[0] && e->vr[1] == vr[1];
}

/* Attributes of type 1 (or 1C in a content item the profile keeps) in the IODs that carry
 * them: Z/D, X/Z/D and X give a dummy value there; elsewhere empty or absent keeps the
 * file valid. */
static int known_type1(uint16_t g, uint16_t el)
{
    static const uint32_t tags[] = {
        0x0040A075, /* Verifying Observer Name */
        0x0040A027, /* Verifying Organization */
        0x0040A123, /* Person Name (SR content item) */
        0x0040A160, /* Text Value (SR content item of value type TEXT) */
        0x0040A121, /* Date (SR) */
        0x0040A122, /* Time (SR) */
        0x300A0002, /* RT Plan Label */
        0x30060002, /* Structure Set Label */
        0x30060026, /* ROI Name */
        0x300E0004, /* Review Date */
    };
    uint32_t t = (uint32_t)g << 16 | el;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (tags[i] == t)
            return 1;
    return 0;
}

/* Free text under C whose value describes the person rather than the examination: no
 * clinical word survives cleaning there, and an employer or a nickname is identifying. */
static int whole_value_identifies(uint16_t g, uint16_t el)
{
    uint32_t t = (uint32_t)g << 16 | el;
    return t == 0x00102180 /* Occupation */ || t == 0x00084000 /* Identifying Comments */;
}

/* Attributes of type 2 that are not in Table E.1-1 and may hold free text: emptied rather
 * than removed, so the file stays valid and says nothing. */
static int known_type2_text(uint16_t g, uint16_t el)
{
    return g == 0x0070 && el == 0x0081;  /* Content Description */
}

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

static const char *const dummies[] = {"19000101", "19000101000000", "000000", "0",
                                      "ANONYMOUS", "ANONYMIZED"};

int deid_is_dummy(const char *value)
{
    for (size_t i = 0; i < sizeof dummies / sizeof dummies[0]; i++)
        if (strcmp(value, dummies[i]) == 0)
            return 1;
    return 0;
}

static void dummy(const dcm_elem *e, verdict *v)
{
    v->kind = V_REPLACE;
    v->action = "dummy";
    if (vr_is(e, "DA"))
        v->value = dup(dummies[0]);
    else if (vr_is(e, "DT"))
        v->value = dup(dummies[1]);
    else if (vr_is(e, "TM"))
        v->value = dup(dummies[2]);
    else if (vr_is(e, "DS") || vr_is(e, "IS"))
        v->value = dup(dummies[3]);
    else if (vr_is(e, "PN"))
        v->value = dup(dummies[4]);
    else if (vr_is(e, "LO") || vr_is(e, "SH") || vr_is(e, "LT") || vr_is(e, "ST") ||
             vr_is(e, "UT") || vr_is(e, "UC") || vr_is(e, "AE") || vr_is(e, "CS"))
        v->value = dup(dummies[5]);
    else {
        v->kind = V_EMPTY;
        v->action = "empty";
    }
}

/* UIDs of the standard itself (transfer syntaxes, SOP classes...) identify nobody. */
static int standard_uid(const char *u)
{
    return strncmp(u, "1.2.840.10008.", 14) == 0;
}

/* deid_uid_root, remembered per file: the derivation is an HMAC, and both passes ask. */
static int derive_uid(struct ctx *c, const char *orig, char mapped[DEID_UID_MAX + 1])
{
    for (size_t i = 0; i < c->nmemo; i++)
        if (strcmp(c->memo[i].orig, orig) == 0) {
            memcpy(mapped, c->memo[i].mapped, DEID_UID_MAX + 1);
            return 0;
        }
    if (deid_uid_root(c->e->pseudo->key, c->e->pseudo->uid_root, orig, mapped,
                      DEID_UID_MAX + 1, c->err, c->errlen) != 0)
        return -1;
    if (c->nmemo == c->capmemo) {
        size_t cap = c->capmemo ? c->capmemo * 2 : 16;
        uid_memo *m = realloc(c->memo, cap * sizeof *m);
        if (!m)
            return 0;  /* a full memo only costs a later derivation */
        c->memo = m;
        c->capmemo = cap;
    }
    snprintf(c->memo[c->nmemo].orig, sizeof c->memo[c->nmemo].orig, "%s", orig);
    memcpy(c->memo[c->nmemo].mapped, mapped, DEID_UID_MAX + 1);
    c->nmemo++;
    return 0;
}

static void map_uids(struct ctx *c, const char *value, verdict *v)
{
    size_t n = strlen(value);
    char *out = malloc(n ? (n / 2 + 1) * (DEID_UID_MAX + 1) : 1);
    if (!out) {
        c->failed = 1;
        return;
    }
    out[0] = 0;
    const char *p = value;
    for (;;) {
        const char *q = strchr(p, '\\');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char orig[DEID_UID_MAX * 2 + 1], mapped[DEID_UID_MAX + 1];
        snprintf(orig, sizeof orig, "%.*s", (int)(len < sizeof orig ? len : sizeof orig - 1), p);
        char *end = orig + strlen(orig);
        while (end > orig && (end[-1] == ' ' || end[-1] == 0))
            *--end = 0;
        if (!orig[0] || standard_uid(orig)) {
            strcat(out, orig);
        } else if (derive_uid(c, orig, mapped) == 0) {
            strcat(out, mapped);
            if (c->pass == 1 && strlen(orig) >= 8)
                strlist_add(&c->uids, orig, strlen(orig));
        } else {
            c->failed = 1;
        }
        if (!q)
            break;
        strcat(out, "\\");
        p = q + 1;
    }
    v->kind = V_REPLACE;
    v->action = "U";  /* the audit trail indexes U for re-identification requests */
    v->value = out;
}

static void hash_value(struct ctx *c, const dcm_elem *e, verdict *v)
{
    unsigned char mac[32];
    const char *val = e->value ? e->value : "";
    deid_hmac(c->e->pseudo->key, "value", val, strlen(val), mac);
    char *hex = malloc(17);
    if (!hex) {
        c->failed = 1;
        return;
    }
    /* 16 hex digits fit every string VR (SH and AE hold 16). */
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02X", mac[i]);
    v->kind = V_REPLACE;
    v->action = "hash";
    v->value = hex;
}

static void shift_date(struct ctx *c, const dcm_elem *e, verdict *v)
{
    size_t n = strlen(e->value) + 1;
    char *out = malloc(n);
    if (!out) {
        c->failed = 1;
        return;
    }
    int rc = vr_is(e, "DA") ? deid_shift_da(e->value, c->r->offset_days, out, n)
                            : deid_shift_dt(e->value, c->r->offset_days, out, n);
    if (rc != DEID_DATE_OK) {
        free(out);
        dummy(e, v);
        return;
    }
    v->kind = V_REPLACE;
    v->action = "shift";
    v->value = out;
    c->dates_shifted = 1;
}

static void clean_text(struct ctx *c, const dcm_elem *e, verdict *v)
{
    char *out = NULL;
    int rc = deid_clean_text(e->value, c->r->identifying, &out);
    if (rc < 0) {
        c->failed = 1;
        return;
    }
    if (rc == 0) {
        free(out);
        return;
    }
    v->action = "clean";
    if (!out[0]) {
        free(out);
        v->kind = V_EMPTY;
    } else {
        v->kind = V_REPLACE;
        v->value = out;
    }
}

static void item_prefix(const char *path, char *buf, size_t len)
{
    const char *dot = strrchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : 0;
    snprintf(buf, len, "%.*s", (int)n, path);
}

static void block_key(const dcm_elem *e, unsigned block, char *buf, size_t len)
{
    char prefix[512];
    item_prefix(e->path, prefix, sizeof prefix);
    snprintf(buf, len, "%s|%04X|%02X", prefix, e->group, block);
}

static void decide_private(struct ctx *c, const dcm_elem *e, verdict *v)
{
    if (e->element >= 0x0010 && e->element <= 0x00FF) {
        char key[600];
        block_key(e, e->element, key, sizeof key);
        v->again = c->pass == 1;  /* the blocks that keep something are known after it */
        if (c->pass == 2 && strlist_has(&c->blocks, key))
            return;
        v->kind = V_REMOVE;
        v->action = "remove";
        return;
    }
    if (e->element >= 0x1000 && e->creator &&
        deid_policy_private_safe(c->e->policy, e->creator, e->group, e->element)) {
        if (c->pass == 1) {
            char key[600];
            block_key(e, e->element >> 8, key, sizeof key);
            strlist_add(&c->blocks, key, strlen(key));
        }
        return;
    }
    v->kind = V_REMOVE;
    v->action = "remove";
    v->identifying = 1;
}

/* The value goes (V_REMOVE) or is emptied (V_EMPTY); what it held identified someone. */
static void drop(verdict *v, vkind kind)
{
    v->kind = kind;
    v->action = kind == V_REMOVE ? "remove" : "empty";
    v->identifying = 1;
}

static void decide(struct ctx *c, const dcm_elem *e, verdict *v)
{
    memset(v, 0, sizeof *v);
    if (e->element == 0x0000)
        return;  /* group lengths are recomputed on save */
    if (e->group & 1) {
        decide_private(c, e, v);
        return;
    }
    uint16_t el = e->element;
    /* Overlay attributes share the fate of their Overlay Data, except comments. */
    if ((e->group & 0xFF00) == 0x6000 && el != 0x4000)
        el = 0x3000;
    deid_decision d;
    deid_policy_action(c->e->policy, e->group, el, &d);
    int sq = vr_is(e, "SQ");

    if (d.source != DEID_SRC_OVERRIDE && e->group == 0x0010 &&
        (e->element == 0x0020 || (e->element == 0x0010 && d.action != DEID_ACT_K))) {
        v->kind = V_REPLACE;
        v->action = "replace";
        v->value = dup(c->r->patient_id);
        v->identifying = 1;
        return;
    }
    if ((d.action == DEID_ACT_X || d.action == DEID_ACT_REMOVE_UNLISTED) && !sq &&
        known_type1(e->group, e->element)) {
        /* Removing it would break a content item the profile keeps. Under Clean Structured
         * Content its text is cleaned; otherwise a dummy keeps the file valid and says
         * nothing. */
        if (e->value && deid_policy_cleaned_in_place(c->e->policy, e->group, e->element)) {
            if (c->pass == 1) {
                v->action = "clean";
                v->again = 1;
            } else
                clean_text(c, e, v);
            return;
        }
        v->identifying = 1;
        dummy(e, v);
        return;
    }
    if (d.action == DEID_ACT_REMOVE_UNLISTED && known_type2_text(e->group, e->element)) {
        drop(v, V_EMPTY);
        return;
    }
    deid_drop dr = deid_action_drop(d.action);
    if (dr != DEID_DROP_NONE) {
        drop(v, dr == DEID_DROP_EMPTY ? V_EMPTY : V_REMOVE);
        return;
    }
    switch (d.action) {
    case DEID_ACT_K:
    case DEID_ACT_KEEP_SAFE:
    case DEID_ACT_OVR_KEEP:
        if (vr_is(e, "AS") && e->value) {
            char capped[32];
            if (deid_age_cap(e->value, capped, sizeof capped) == DEID_DATE_OK &&
                strcmp(capped, e->value) != 0) {
                v->kind = V_REPLACE;
                v->action = "age-cap";
                v->value = dup(capped);
            }
        }
        return;
    default:
        break;
    }
    if (sq)
        return;  /* D, C, U and the combined codes on a sequence: clean its items */
    v->identifying = 1;
    switch (d.action) {
    case DEID_ACT_ZD:
    case DEID_ACT_XZD:
        if (known_type1(e->group, e->element))
            dummy(e, v);
        else
            drop(v, V_EMPTY);
        return;
    case DEID_ACT_D:
    case DEID_ACT_XD:
    case DEID_ACT_U:
    case DEID_ACT_XZU:
        if (vr_is(e, "UI") && e->value)
            map_uids(c, e->value, v);
        else
            dummy(e, v);
        return;
    case DEID_ACT_OVR_REPLACE:
        v->kind = V_REPLACE;
        v->action = "replace";
        v->value = dup(d.value);
        return;
    case DEID_ACT_OVR_HASH:
        if (vr_is(e, "UI") && e->value)
            map_uids(c, e->value, v);
        else
            hash_value(c, e, v);
        return;
    case DEID_ACT_C:
        v->identifying = 0;
        if (!e->value)
            return;
        if (whole_value_identifies(e->group, e->element)) {
            v->kind = V_EMPTY;
            v->action = "clean";
            v->identifying = 1;
            return;
        }
        if (vr_is(e, "TM"))
            return;  /* whole-day shifts never move a time of day */
        if (vr_is(e, "DA") || vr_is(e, "DT")) {
            v->identifying = 1;
            if (option_on(c, DEID_OPT_RETAIN_LONG_MODIFIED_DATES))
                shift_date(c, e, v);
            else
                dummy(e, v);
            return;
        }
        if (c->pass == 1) {
            /* Cleaning needs the identifying values this pass is collecting; a descriptor
             * is neither kept nor identifying as a whole. */
            v->action = "clean";
            v->again = 1;
            return;
        }
        clean_text(c, e, v);
        return;
    default:
        return;
    }
}

/* The kind of identifying value an element holds, for the paired check; -1: none. */
static int pair_kind(const dcm_elem *e)
{
    if (!e->value || !e->value[0])
        return -1;
    if (vr_is(e, "PN"))
        return VERIFY_PAIR_NAME;
    if (vr_is(e, "DA") || vr_is(e, "DT"))
        return VERIFY_PAIR_DATE;
    if (vr_is(e, "LO") || vr_is(e, "SH") || vr_is(e, "LT") || vr_is(e, "ST") ||
        vr_is(e, "UT") || vr_is(e, "UC")) {
        for (const char *p = e->value; *p; p++)
            if (*p == ' ' || *p == ',')
                return VERIFY_PAIR_TEXT;
        return VERIFY_PAIR_ID;
    }
    return -1;
}

static void add_candidate(struct ctx *c, const dcm_elem *e)
{
    int kind = pair_kind(e);
    if (kind < 0)
        return;
    size_t n = strlen(e->value);
    char *s = malloc(n + 2);
    if (!s) {
        c->failed = 1;
        return;
    }
    s[0] = (char)('0' + kind);
    memcpy(s + 1, e->value, n + 1);
    if (strlist_add(&c->candidates, s, n + 1) != 0)
        c->failed = 1;
    free(s);
}

static void add_kept(struct ctx *c, const dcm_elem *e)
{
    if (!e->value || !e->value[0])
        return;
    size_t need = c->kept_len + strlen(e->value) + 2;
    if (need > c->kept_cap) {
        size_t cap = c->kept_cap ? c->kept_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        char *k = realloc(c->kept, cap);
        if (!k) {
            c->failed = 1;
            return;
        }
        c->kept = k;
        c->kept_cap = cap;
    }
    size_t len = normalise_into(e->value, c->kept + c->kept_len);
    c->kept_empty |= len == 0;
    c->kept_len += len;
    c->kept[c->kept_len++] = '\n';
    c->kept[c->kept_len] = 0;
}

static int learn(const dcm_elem *e, void *ud)
{
    struct ctx *c = ud;
    if (c->drop_depth >= 0 && e->depth > c->drop_depth) {
        add_candidate(c, e);
        return 0;
    }
    c->drop_depth = -1;
    verdict v;
    decide(c, e, &v);
    if (v.kind == V_KEEP && !v.action)
        add_kept(c, e);
    else if (v.identifying)
        add_candidate(c, e);
    if (vr_is(e, "SQ") && (v.kind == V_REMOVE || v.kind == V_EMPTY))
        c->drop_depth = e->depth;
    if (!v.again && e->index < c->ndecided) {
        v.ready = 1;
        c->decided[e->index] = v;
    } else {
        free(v.value);
    }
    return c->failed;
}

static void record(struct ctx *c, const dcm_elem *e, const verdict *v)
{
    deid_result *r = c->r;
    if (r->nchanges == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        deid_change *nc = realloc(r->changes, cap * sizeof *nc);
        if (!nc) {
            c->failed = 1;
            return;
        }
        r->changes = nc;
        r->cap = cap;
    }
    deid_change *ch = &r->changes[r->nchanges];
    memset(ch, 0, sizeof *ch);
    ch->path = strdup(e->path);
    ch->action = v->action ? v->action : (v->kind == V_REMOVE ? "remove" : "empty");
    if (v->kind == V_REPLACE)
        ch->new_value = strdup(v->value ? v->value : "");
    if (e->value && (c->e->record_originals || (c->e->hash_originals && e->value[0])) &&
        !(ch->original = strdup(e->value)))
        c->failed = 1;
    if (!ch->path)
        c->failed = 1;
    r->nchanges++;
}

static int edit(const dcm_elem *e, dcm_verdict *out, void *ud)
{
    struct ctx *c = ud;
    verdict v;
    if (e->index < c->ndecided && c->decided[e->index].ready) {
        v = c->decided[e->index];
        c->decided[e->index].ready = 0;  /* its value is v's now */
    } else {
        decide(c, e, &v);
    }
    if (c->failed) {
        free(v.value);
        return -1;
    }
    switch (v.kind) {
    case V_KEEP:
        out->kind = DCM_KEEP;
        return 0;
    case V_REMOVE:
        out->kind = DCM_REMOVE;
        break;
    case V_EMPTY:
        out->kind = DCM_EMPTY;
        break;
    case V_REPLACE:
        if (e->value && v.value && strcmp(e->value, v.value) == 0) {
            free(v.value);
            out->kind = DCM_KEEP;
            return 0;
        }
        out->kind = DCM_REPLACE;
        break;
    }
    record(c, e, &v);
    out->value = v.value;  /* dcm_list_edit frees it */
    return c->failed ? -1 : 0;
}

int deid_patient_of(const deid_engine *e, dcm_file *f, char *patient_id, size_t len,
                    int *offset_days, char *err, size_t errlen)
{
    char *pid = NULL, *issuer = NULL, e2[256];
    dcm_get(f, "(0010,0020)", &pid, e2, sizeof e2);
    if (e->patient_by_issuer)
        dcm_get(f, "(0010,0021)", &issuer, e2, sizeof e2);
    char msg[512];
    int rc = deid_patient_map(e->pseudo, issuer, pid ? pid : "", patient_id, len, offset_days,
                              msg, sizeof msg);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", dcm_path(f), msg);
    free(pid);
    free(issuer);
    return rc;
}

/* Sets the de-identification record: PS3.15 E.1 asks for it in every output. */
static int record_method(struct ctx *c)
{
    dcm_file *f = c->f;
    char method[1024];
    int rc = dcm_set(f, "(0012,0062)", "YES", c->err, c->errlen);
    if (rc == 0 && deid_policy_method_text(c->e->policy, method, sizeof method) == 0)
        rc = dcm_set(f, "(0012,0063)", method, c->err, c->errlen);
    if (rc)
        return rc;
    dcm_remove(f, "(0012,0064)", c->err, c->errlen);
    const deid_code *codes[DEID_OPT_COUNT + 2];
    size_t n = deid_policy_method_codes(c->e->policy, codes, DEID_OPT_COUNT + 2);
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* Clean Pixel Data is claimed only when every frame was cleaned. */
        if (strcmp(codes[i]->value, "113101") == 0 && !c->r->pixels_cleaned)
            continue;
        static const uint32_t tags[] = {0x00080100, 0x00080102, 0x00080104};
        const char *values[] = {codes[i]->value, codes[i]->scheme, codes[i]->meaning};
        int idx;
        rc = dcm_add_item(f, "(0012,0064)", tags, values, 3, &idx, c->err, c->errlen);
    }
    if (rc)
        return rc;
    const char *ltim = option_on(c, DEID_OPT_RETAIN_LONG_FULL_DATES) ? "UNMODIFIED"
                       : c->dates_shifted                          ? "MODIFIED"
                                                                   : "REMOVED";
    return dcm_set(f, "(0028,0303)", ltim, c->err, c->errlen);
}

/* A UID of f into out; "" when absent (the caller decides whether that is an error). */
static void fetch_uid(dcm_file *f, const char *path, char *out, size_t len)
{
    char *v = NULL, err[128];
    out[0] = 0;
    if (dcm_get(f, path, &v, err, sizeof err) == DCM_OK && v)
        snprintf(out, len, "%s", v);
    free(v);
}

/* Pass 1 over f's listing: what identifies the patient, and which private blocks keep
 * something. */
static int learn_pass(struct ctx *c, dcm_list *l, char *err, size_t errlen)
{
    deid_result *r = c->r;
    r->identifying = verify_pair_new();
    if (!r->identifying) {
        snprintf(err, errlen, "%s: out of memory", dcm_path(c->f));
        return -1;
    }
    c->pass = 1;
    c->ndecided = dcm_list_count(l);
    c->decided = calloc(c->ndecided ? c->ndecided : 1, sizeof *c->decided);
    if (!c->decided)
        c->ndecided = 0;  /* pass 2 then decides everything itself */
    int rc = dcm_list_walk(l, learn, c, err, errlen);
    if (rc == 0 && !c->failed) {
        if (c->blocks.n)
            qsort(c->blocks.v, c->blocks.n, sizeof *c->blocks.v, cmp_str);
        /* A value the policy keeps cannot leak, nor can a piece of it that an identifying
         * attribute happens to repeat (a GE suite ID "CT01" inside the kept Station Name
         * "CT01_OC0"), nor a part of an identifying text. The joined values find every
         * non-empty kept value as a whole; only an empty one needs noting apart. */
        const char *joined = c->kept ? c->kept : "";
        if (verify_pair_set_kept(r->identifying, joined) != 0)
            c->failed = 1;
        for (size_t i = 0; i < c->candidates.n && !c->failed; i++) {
            const char *cand = c->candidates.v[i];
            if (deid_is_dummy(cand + 1))
                continue;  /* an earlier run's stand-in identifies no one */
            char *n = normalise(cand + 1);
            verify_pair_kind kind = (verify_pair_kind)(cand[0] - '0');
            if (!n)
                c->failed = 1;
            else if (*n ? !verify_pair_in_words(joined, n) : !c->kept_empty) {
                /* A pseudonym of an earlier run ("DEID-5216619288") shares its prefix
                 * with every pseudonym: only the whole of it identifies. */
                if (kind == VERIFY_PAIR_NAME &&
                    (word_is_kept(joined, n) ||
                     deid_id_matches_template(c->e->pseudo->id_template, cand + 1)))
                    kind = VERIFY_PAIR_TEXT;
                if (verify_pair_add(r->identifying, kind, cand + 1) != 0)
                    c->failed = 1;
            }
            free(n);
        }
    }
    if (rc == 0 && !c->failed) {
        size_t total = 1;
        for (size_t i = 0; i < c->uids.n; i++)
            total += strlen(c->uids.v[i]) + 1;
        r->original_uids = calloc(1, total);
        for (size_t i = 0; r->original_uids && i < c->uids.n; i++) {
            strcat(r->original_uids, c->uids.v[i]);
            strcat(r->original_uids, "\n");
        }
        if (!r->original_uids)
            c->failed = 1;
    }
    if (c->failed && rc == 0) {
        snprintf(err, errlen, "%s: out of memory", dcm_path(c->f));
        rc = -1;
    }
    return rc;
}

static void ctx_init(struct ctx *c, const deid_engine *e, dcm_file *f, deid_result *r,
                     char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    c->f = f;
    c->r = r;
    c->err = err;
    c->errlen = errlen;
    c->drop_depth = -1;
}

static void ctx_free(struct ctx *c)
{
    strlist_free(&c->blocks);
    free(c->kept);
    strlist_free(&c->candidates);
    strlist_free(&c->uids);
    free(c->memo);
    for (size_t i = 0; i < c->ndecided; i++)
        if (c->decided[i].ready)
            free(c->decided[i].value);
    free(c->decided);
}

/* The patient's pseudonym and offset, f listed into *l (the caller frees it), and pass 1. */
static int identify(struct ctx *c, const deid_engine *e, dcm_file *f, deid_result *r,
                    dcm_list **l, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    ctx_init(c, e, f, r, err, errlen);
    *l = NULL;
    int rc = deid_patient_of(e, f, r->patient_id, sizeof r->patient_id, &r->offset_days, err,
                             errlen);
    if (rc == 0)
        rc = dcm_list_new(f, l, err, errlen);
    if (rc == 0)
        rc = learn_pass(c, *l, err, errlen);
    return rc;
}

int deid_identifying(const deid_engine *e, dcm_file *f, deid_result *r, char *err,
                     size_t errlen)
{
    struct ctx c;
    dcm_list *l;
    int rc = identify(&c, e, f, r, &l, err, errlen);
    dcm_list_free(l);
    ctx_free(&c);
    return rc;
}

int deid_apply(const deid_engine *e, dcm_file *f, deid_result *r, char *err, size_t errlen)
{
    struct ctx c;
    /* One listing serves both passes: nothing changes the dataset between them. */
    dcm_list *l;
    int rc = identify(&c, e, f, r, &l, err, errlen);
    if (rc == 0)
        rc = deid_clear_embedded_overlays(e->policy, f, r, err, errlen);
    if (rc == 0) {
        c.pass = 2;
        rc = dcm_list_edit(l, edit, &c, err, errlen);
    }
    dcm_list_free(l);
    if (rc == 0 && !c.failed && e->clean_pixels)
        rc = deid_clean_pixels(e, f, r, err, errlen);
    /* Clean Graphics keeps the overlay planes: the text drawn in them must go. */
    if (rc == 0 && !c.failed && option_on(&c, DEID_OPT_CLEAN_GRAPHICS))
        rc = deid_clean_overlays(f, r, err, errlen);
    if (rc == 0 && !c.failed) {
        /* Patient ID is type 2 almost everywhere: the pseudonym is always there. */
        rc = dcm_set(f, "(0010,0020)", r->patient_id, err, errlen);
        if (rc == 0)
            rc = record_method(&c);
    }
    if (rc == 0 && !c.failed) {
        fetch_uid(f, "(0020,000D)", r->study_uid, sizeof r->study_uid);
        fetch_uid(f, "(0020,000E)", r->series_uid, sizeof r->series_uid);
        fetch_uid(f, "(0008,0018)", r->sop_uid, sizeof r->sop_uid);
    }
    if (c.failed && rc == 0) {
        if (!err[0])
            snprintf(err, errlen, "%s: de-identification failed (out of memory?)", dcm_path(f));
        rc = -1;
    }
    ctx_free(&c);
    return rc;
}

int deid_result_hash_originals(const deid_engine *e, deid_result *r)
{
    int rc = 0;
    for (size_t i = 0; i < r->nchanges; i++) {
        deid_change *ch = &r->changes[i];
        if (!ch->original || ch->original_hmac[0])
            continue;
        if (e->hash_originals && ch->original[0] &&
            deid_token(e->pseudo->key, "value", ch->original, ch->original_hmac) != 0)
            rc = -1;
        if (!e->record_originals) {
            free(ch->original);
            ch->original = NULL;
        }
    }
    return rc;
}

void deid_result_free(deid_result *r)
{
    for (size_t i = 0; i < r->nchanges; i++) {
        free(r->changes[i].path);
        free(r->changes[i].new_value);
        free(r->changes[i].original);
    }
    free(r->changes);
    verify_pair_free(r->identifying);
    free(r->original_uids);
    memset(r, 0, sizeof *r);
}
