/* verify/scan.c — inspection of one file: tags, structure, pixels. */
#include "config.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dicom/dcm.h"
#include "ocr/ocr.h"
#include "deid/engine.h"
#include "deid/pseudo.h"
#include "verify/detect.h"
#include "verify/verify.h"

#define MAX_HITS 64

struct scan {
    const verify_config *c;
    const char *path;
    const verify_pair_set *ids;
    const char *original_uids;
    verify_findings *out;
    verify_facts *facts;
    int failed;
    /* structure, as seen while walking */
    int identity_removed, burned_in_yes, graphics;
    unsigned type1_text;     /* bit i: type1[i] has a non-empty text value */
    unsigned type1_other;    /* bit i: type1[i] is there without text (UN, SQ, ...) */
    unsigned type1_multi;    /* bit i: type1[i] has more than one value */
    unsigned type1_bad_uid;  /* bit i: type1[i] is a UID and not a valid one */
    int has_codes[8];       /* 113100, 113101, 113103 seen in the method code sequence */
    char codes[512];        /* every code value seen, ' '-separated */
    char *pseudonym;        /* Patient ID, which Patient's Name may equal */
};

static void add(struct scan *s, const char *where, const char *detector, verify_severity sev,
                const char *value, const char *message)
{
    if (verify_findings_add(s->out, s->path, where, detector, sev, value, message) != 0)
        s->failed = 1;
}

static int vr_is(const dcm_elem *e, const char *vr)
{
    return e->vr[0] == vr[0] && e->vr[1] == vr[1];
}

static char *span(const char *text, size_t off, size_t len)
{
    char *v = malloc(len + 1);
    if (v) {
        memcpy(v, text + off, len);
        v[len] = 0;
    }
    return v;
}

/* The paired check and the detectors over one text; `where` names its place. */
/* kept: the policy keeps this attribute on purpose (an option's K, the safe list): numbers
 * and links there (serial numbers, versions, software URLs) are what the option retains,
 * not record numbers. */
static void check_text(struct scan *s, const char *where, const char *vr, const char *keyword,
                       const char *text, const char *prefix, int kept)
{
    char det[48];
    if (s->ids) {
        verify_pair_hit hits[MAX_HITS];
        /* Text read from pixels carries OCR's misreadings. */
        size_t n = strcmp(prefix, "ocr-") == 0
                       ? verify_pair_search_fuzzy(s->ids, text, hits, MAX_HITS)
                       : verify_pair_search(s->ids, text, hits, MAX_HITS);
        if (n == (size_t)-1) {
            s->failed = 1;
            return;
        }
        size_t last_end = 0;
        for (size_t i = 0; i < n; i++) {
            if (i && hits[i].off < last_end)
                continue;  /* one finding per stretch of text */
            last_end = hits[i].off + hits[i].len;
            char *v = span(text, hits[i].off, hits[i].len);
            snprintf(det, sizeof det, "%spaired-leak", prefix);
            add(s, where, det, SEV_LEAK, v, "a value that identified the patient in the input");
            free(v);
        }
    }
    verify_hit hits[MAX_HITS];
    size_t n = vr ? verify_detect_value(vr, keyword, text, hits, MAX_HITS)
                  : verify_detect(text, hits, MAX_HITS);
    for (size_t i = 0; i < n; i++) {
        /* A value the policy keeps is a device's serial, a vendor's URL or, under Retain
         * Institution Identity, the institution's address: the policy's choice, not a
         * patient's. */
        if (kept && (hits[i].kind == VERIFY_HIT_ID || hits[i].kind == VERIFY_HIT_URL ||
                     hits[i].kind == VERIFY_HIT_ADDRESS))
            continue;
        char *v = span(text, hits[i].off, hits[i].len);
        snprintf(det, sizeof det, "%s%s", prefix, verify_hit_kind_name(hits[i].kind));
        const char *what = hits[i].kind == VERIFY_HIT_ID ? "record number"
                                                          : verify_hit_kind_name(hits[i].kind);
        char msg[96];
        snprintf(msg, sizeof msg, "looks like %s %s", strchr("aeiou", what[0]) ? "an" : "a", what);
        add(s, where, det, hits[i].severity, v, msg);
        free(v);
    }
}

static int in_original_uids(const struct scan *s, const char *uid, size_t len)
{
    for (const char *p = s->original_uids; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l == len && memcmp(p, uid, len) == 0)
            return 1;
        p = nl ? nl + 1 : p + l;
    }
    return 0;
}

static int is_method_record(const dcm_elem *e)
{
    if (e->group == 0x0012 && (e->element == 0x0062 || e->element == 0x0063 ||
                               e->element == 0x0064))
        return 1;
    return e->depth > 0 && e->parents[0] == 0x00120064u;
}

static void check_uids(struct scan *s, const dcm_elem *e)
{
    int retain = (deid_policy_options(s->c->policy) &
                  DEID_OPTION_BIT(DEID_OPT_RETAIN_UIDS)) != 0;
    deid_decision d;
    deid_policy_action(s->c->policy, e->group, e->element, &d);
    int replaced = d.basic == DEID_ACT_U || d.basic == DEID_ACT_XZU;
    for (const char *p = e->value; *p;) {
        const char *q = strchr(p, '\\');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (s->original_uids && len >= 8 && in_original_uids(s, p, len)) {
            char *v = span(p, 0, len);
            add(s, e->path, "original-uid", SEV_LEAK, v, "an original UID of the input");
            free(v);
        } else if (replaced && !retain && len && strncmp(p, "1.2.840.10008.", 14) != 0 &&
                   strncmp(p, "2.25.", 5) != 0 &&
                   !(s->c->uid_root && strncmp(p, s->c->uid_root, strlen(s->c->uid_root)) == 0)) {
            char *v = span(p, 0, len);
            add(s, e->path, "uid-root", SEV_POLICY, v,
                "an instance UID that was not made by de-identification (not 2.25. or the site root)");
            free(v);
        }
        p = q ? q + 1 : p + len;
    }
}

/* Type 1 attributes every de-identified file keeps with one value (the UIDs first). */
static const struct {
    uint32_t tag;
    const char *path, *name;
} type1[] = {{0x00080016, "(0008,0016)", "SOP Class UID"},
             {0x00080018, "(0008,0018)", "SOP Instance UID"},
             {0x0020000D, "(0020,000D)", "Study Instance UID"},
             {0x0020000E, "(0020,000E)", "Series Instance UID"},
             {0x00080060, "(0008,0060)", "Modality"}};
#define TYPE1_UIDS 4

/* These UIDs name the output's folders and identify the file, and a UID kept from the
 * input may be anything. Leading zeros in a component are let pass: real data has them,
 * and they mislead nobody. */
static int uid_syntax_acceptable(const char *u)
{
    deid_uid_fault f = deid_uid_syntax(u);
    return f == DEID_UID_OK || f == DEID_UID_LEADING_ZERO;
}

static void note_structure(struct scan *s, const dcm_elem *e)
{
    uint32_t tag = (uint32_t)e->group << 16 | e->element;
    if (e->depth == 0 && tag == 0x00120062 && e->value && strncmp(e->value, "YES", 3) == 0)
        s->identity_removed = 1;
    if (e->depth == 0 && tag == 0x00280301 && e->value && strncmp(e->value, "YES", 3) == 0)
        s->burned_in_yes = 1;
    if (e->depth == 0 && ((e->group & 0xFF00) == 0x6000 || (e->group & 0xFF00) == 0x5000) &&
        e->element == 0x3000)
        s->graphics = 1;
    if (e->depth == 1 && e->parents[0] == 0x00120064u && tag == 0x00080100 && e->value) {
        size_t n = strlen(s->codes);
        snprintf(s->codes + n, sizeof s->codes - n, "%s ", e->value);
    }
    if (e->depth == 0 && !e->is_meta)
        for (size_t i = 0; i < sizeof type1 / sizeof type1[0]; i++)
            if (type1[i].tag == tag) {
                if (!e->value)
                    s->type1_other |= 1u << i;
                else if (e->value[0])
                    s->type1_text |= 1u << i;
                if (e->value && strchr(e->value, '\\'))
                    s->type1_multi |= 1u << i;
                else if (e->value && e->value[0] && i < TYPE1_UIDS &&
                         (strlen(e->value) > DEID_UID_MAX || !uid_syntax_acceptable(e->value)))
                    s->type1_bad_uid |= 1u << i;
            }
    if (e->depth == 0 && e->value) {
        char *dst = tag == 0x0020000D ? s->facts->study_uid
                    : tag == 0x0020000E ? s->facts->series_uid
                    : tag == 0x00080018 ? s->facts->sop_uid
                    : tag == 0x00100020 ? s->facts->patient_id
                                        : NULL;
        if (dst)
            snprintf(dst, 65, "%s", e->value);
    }
}

/* Latin-1 view of binary bytes, NULs as spaces: UN and OB values can hide text. */
static char *bytes_as_text(const unsigned char *b, size_t n)
{
    char *t = malloc(2 * n + 1), *p = t;
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c == 0)
            *p++ = ' ';
        else if (c < 0x80)
            *p++ = (char)c;
        else {
            *p++ = (char)(0xC0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *p = 0;
    return t;
}

/* A value where the policy leaves none: the file was not de-identified with it. Names,
 * dates and the patient's own attributes are PHI; the rest breaks the policy. */
static void check_action(struct scan *s, const dcm_elem *e, const deid_decision *d)
{
    if (deid_action_drop(d->action) == DEID_DROP_NONE)
        return;
    if (e->element == 0x0000 || (e->value && deid_is_dummy(e->value)) ||
        deid_policy_cleaned_in_place(s->c->policy, e->group, e->element))
        return;  /* group lengths carry no value of their own; cleaned text stays */
    int phi = vr_is(e, "PN") || vr_is(e, "DA") || vr_is(e, "DT") || e->group == 0x0010;
    add(s, e->path, "policy-action", phi ? SEV_PHI : SEV_POLICY, e->value,
        e->value ? "holds a value the policy removes or empties"
                 : "holds items the policy removes or empties");
}

static int private_data(const dcm_elem *e)
{
    return (e->group & 1) && e->element >= 0x1000;
}

/* Whether the policy keeps a public attribute of the dataset (its decision in *d); 0 for
 * private and meta elements. */
static int policy_keeps(const struct scan *s, const dcm_elem *e, deid_decision *d)
{
    memset(d, 0, sizeof *d);
    if ((e->group & 1) || e->is_meta)
        return 0;
    deid_policy_action(s->c->policy, e->group, e->element, d);
    return d->action == DEID_ACT_K || d->action == DEID_ACT_KEEP_SAFE ||
           d->action == DEID_ACT_OVR_KEEP;
}

static int walk(const dcm_elem *e, void *ud)
{
    struct scan *s = ud;
    note_structure(s, e);
    if (is_method_record(e))
        return 0;
    if (!e->is_meta && private_data(e) &&
        !(e->creator && deid_policy_private_safe(s->c->policy, e->creator, e->group, e->element)))
        add(s, e->path, "private", SEV_POLICY, e->creator ? e->creator : "",
            "a private attribute that is not on the safe list");
    if (vr_is(e, "UI") && e->value) {
        check_uids(s, e);
        return s->failed;
    }
    /* A sequence's items are walked one by one, but a removed sequence (Icon Image,
     * Request Attributes, ...) is itself a sign the policy was not applied. */
    if (vr_is(e, "SQ") && e->nitems > 0 && !(e->group & 1) && !e->is_meta) {
        deid_decision d;
        policy_keeps(s, e, &d);
        check_action(s, e, &d);
        return s->failed;
    }
    /* An icon or other image inside an item is not a frame the OCR reads. */
    if (e->is_bulk && e->depth > 0 && e->group == 0x7FE0)
        add(s, e->path, "nested-pixels", SEV_POLICY, NULL,
            "image pixels inside a sequence item are not inspected for burned-in text");
    if (e->value && e->value[0]) {
        /* Pseudonyms and dummies are ours, not a person's. */
        if ((vr_is(e, "PN") || (e->group == 0x0010 && e->element == 0x0020)) &&
            (strcmp(e->value, "ANONYMOUS") == 0 ||
             (s->pseudonym && strcmp(e->value, s->pseudonym) == 0 &&
              deid_id_matches_template(s->c->id_template, e->value)))) {
            if (s->ids)
                check_text(s, e->path, NULL, NULL, e->value, "", 1);
            return s->failed;
        }
        deid_decision d;
        int kept = policy_keeps(s, e, &d);
        if (!(e->group & 1) && !e->is_meta)
            check_action(s, e, &d);
        check_text(s, e->path, e->vr, dcm_keyword(e->group, e->element), e->value, "", kept);
    } else if (e->bytes && e->length) {
        /* An ICC profile the policy keeps names its standard's web site. */
        deid_decision d;
        int kept = policy_keeps(s, e, &d);
        char *t = bytes_as_text(e->bytes, e->length);
        if (!t)
            return s->failed = 1;
        check_text(s, e->path, NULL, NULL, t, "", kept);
        free(t);
    }
    return s->failed;
}

static int code_present(const struct scan *s, const char *code)
{
    char pat[16];
    snprintf(pat, sizeof pat, "%s ", code);
    return strstr(s->codes, pat) != NULL;
}

static void check_structure(struct scan *s, dcm_file *f)
{
    if (!s->identity_removed)
        add(s, "(0012,0062)", "structure", SEV_POLICY, NULL, "Patient Identity Removed is not YES");
    if (!code_present(s, "113100"))
        add(s, "(0012,0064)", "structure", SEV_POLICY, NULL,
            "the method code sequence does not name the Basic Profile (113100)");
    if (s->c->strict_codes) {
        const deid_code *codes[DEID_OPT_COUNT + 2];
        size_t n = deid_policy_method_codes(s->c->policy, codes, DEID_OPT_COUNT + 2);
        for (size_t i = 0; i < n; i++)
            if (strcmp(codes[i]->value, "113101") != 0 && !code_present(s, codes[i]->value))
                add(s, "(0012,0064)", "structure", SEV_POLICY, codes[i]->value,
                    "an option of the policy is missing from the method code sequence");
    }
    if (s->burned_in_yes && !code_present(s, "113101"))
        add(s, "(0028,0301)", "structure", SEV_POLICY, NULL,
            "Burned In Annotation is YES and the pixels were not cleaned");
    if (s->graphics && !code_present(s, "113103"))
        add(s, "(60xx,3000)", "structure", SEV_POLICY, NULL,
            "overlay or curve data kept without Clean Graphics");
    /* Text values were noted during the walk, sparing a search of the dataset each; the
     * rest is read as text here. */
    for (size_t i = 0; i < sizeof type1 / sizeof type1[0]; i++) {
        char msg[96];
        if (s->type1_multi & 1u << i) {
            snprintf(msg, sizeof msg, "%s has more than one value", type1[i].name);
            add(s, type1[i].path, "structure", SEV_POLICY, NULL, msg);
        } else if (s->type1_bad_uid & 1u << i) {
            snprintf(msg, sizeof msg, "%s is not a valid UID", type1[i].name);
            add(s, type1[i].path, "structure", SEV_POLICY, NULL, msg);
        }
        if (s->type1_text & 1u << i)
            continue;
        char *v = NULL, err[256];
        int present = (s->type1_other & 1u << i) &&
                      dcm_get(f, type1[i].path, &v, err, sizeof err) == DCM_OK && v && v[0];
        free(v);
        if (!present) {
            snprintf(msg, sizeof msg, "type 1 attribute %s is missing or empty", type1[i].name);
            add(s, type1[i].path, "structure", SEV_POLICY, NULL, msg);
        }
    }
}

/* A small PNG of the frame with its text boxes outlined, for the report; the text itself
 * blacked out unless values may be shown, and then, for text found in the view of what the
 * window clips, shown from that view (on screen it is white on white). Returns its path
 * relative to the report (malloc'd) or NULL when none could be written: a missing picture
 * never hides a finding. */
static char *thumbnail(struct scan *s, int frame, const dcm_image *img, const ocr_text *t,
                       size_t n)
{
    if (!s->c->thumb_dir)
        return NULL;
    /* View 1 is img->clipped, the one extra view check_pixels searches. */
    int show = s->c->thumb_show_text, reveal = 0;
    for (size_t i = 0; i < n; i++)
        reveal |= show && t[i].view == 1 && img->clipped;
    ocr_box *boxes = malloc(n * sizeof *boxes);
    size_t size = (size_t)img->width * img->height * img->channels;
    unsigned char *px = show && !reveal ? img->pixels : malloc(size);
    if (!boxes || !px) {
        free(boxes);
        if (px != img->pixels)
            free(px);
        return NULL;
    }
    if (px != img->pixels)
        memcpy(px, img->pixels, size);
    for (size_t i = 0; i < n; i++) {
        boxes[i] = t[i].box;
        if (show && !(t[i].view == 1 && img->clipped))
            continue;
        for (int y = boxes[i].y; y < boxes[i].y + boxes[i].h && y < img->height; y++)
            for (int x = boxes[i].x; x < boxes[i].x + boxes[i].w && x < img->width; x++) {
                size_t k = (size_t)y * img->width + x;
                if (show)
                    px[k] = img->clipped[k];  /* clipped views are grey, like their frames */
                else
                    memset(px + k * img->channels, 0, (size_t)img->channels);
            }
    }
    /* Named by the file and frame, so reruns overwrite rather than accumulate. */
    char id[17], name[64], full[4096], err[256];
    verify_finding_id(s->path, "frame", "thumbnail", id);
    snprintf(name, sizeof name, "%s-f%d.png", id, frame);
    snprintf(full, sizeof full, "%s/%s", s->c->thumb_dir, name);
    char *rel = NULL;
    if (ocr_thumbnail(img->width, img->height, img->channels, px, boxes, n, 256, full, err,
                      sizeof err) == 0) {
        size_t len = strlen(s->c->thumb_rel) + strlen(name) + 2;
        if ((rel = malloc(len)))
            snprintf(rel, len, "%s/%s", s->c->thumb_rel, name);
    }
    free(boxes);
    if (px != img->pixels)
        free(px);
    return rel;
}

static int frame_selected(const verify_config *c, int i, int frames)
{
    switch (c->frames) {
    case VERIFY_FRAMES_FIRST:
        return i == 0;
    case VERIFY_FRAMES_SAMPLE: {
        int n = c->sample > 0 ? c->sample : 1;
        if (n >= frames)
            return 1;
        for (int k = 0; k < n; k++)
            if (i == (int)((long)k * (frames - 1) / (n > 1 ? n - 1 : 1)))
                return 1;
        return 0;
    }
    default:
        return 1;
    }
}

/* The OCR's findings on one decoded image: a frame (thumb_frame >= 0: its thumbnail has
 * that number) or an overlay plane's frame. label: "pixels:frame 3", "overlay:6000 frame 0". */
static void inspect_image(struct scan *s, ocr_reader *reader, const char *label,
                          const dcm_image *img, int thumb_frame)
{
    char err[512], where[128];
    ocr_text *texts = NULL;
    size_t n = 0;
    const unsigned char *clipped = img->clipped;
    ocr_frame view = { img->width, img->height, img->channels, img->pixels, &clipped, 1,
                       img->tile_w, img->tile_h };
    if (ocr_find_text_views(reader, &view, &texts, &n, err, sizeof err) != 0)
        add(s, label, "undecodable-frame", SEV_POLICY, NULL, "OCR failed on this frame");
    /* One picture per frame, on its first text finding. */
    char *thumb = n && thumb_frame >= 0 ? thumbnail(s, thumb_frame, img, texts, n) : NULL;
    for (size_t i = 0; i < n; i++) {
        ocr_box *b = &texts[i].box;
        snprintf(where, sizeof where, "%s %d,%d,%d,%d", label, b->x, b->y, b->w, b->h);
        add(s, where, "ocr-text", SEV_SUSPECT, texts[i].text,
            thumb_frame >= 0 ? "text burned into the pixels: needs a human look"
                             : "text drawn in an overlay: needs a human look");
        if (thumb && i == 0 && verify_findings_set_thumbnail(s->out, thumb) != 0)
            s->failed = 1;
        if (texts[i].text && texts[i].text[0])
            check_text(s, where, NULL, NULL, texts[i].text, "ocr-", 0);
    }
    free(thumb);
    ocr_texts_free(texts, n);
}

/* A frame or overlay that could not be decoded blocks the gate; the decoder's reason
 * (err, after the file's path, which the finding names already) says what to look at. */
static void add_undecodable(struct scan *s, dcm_file *f, const char *where, const char *what,
                            const char *err)
{
    size_t n = strlen(dcm_path(f));
    const char *why = strncmp(err, dcm_path(f), n) == 0 && strncmp(err + n, ": ", 2) == 0
                          ? err + n + 2
                          : err[0] ? err : "no reason given";
    char msg[768];
    snprintf(msg, sizeof msg, "this %s could not be decoded (%s), so it was not inspected",
             what, why);
    add(s, where, "undecodable-frame", SEV_POLICY, NULL, msg);
}

/* Overlay planes are drawn over the image by viewers, and can hold text as well as
 * outlines: each frame of each is read as the frames are. */
static void check_overlays(struct scan *s, dcm_file *f, ocr_reader *reader,
                           const dcm_overlay *planes, int np)
{
    for (int i = 0; i < np && !s->failed; i++) {
        for (int fr = 0; fr < (planes[i].frames > 0 ? planes[i].frames : 1) && !s->failed;
             fr++) {
            char label[64], err[512];
            snprintf(label, sizeof label, "overlay:%04X frame %d", planes[i].group, fr);
            dcm_image img;
            if (dcm_decode_overlay(f, &planes[i], fr, &img, err, sizeof err) != DCM_OK) {
                add_undecodable(s, f, label, "overlay", err);
                break;
            }
            inspect_image(s, reader, label, &img, -1);
            dcm_image_free(&img);
        }
    }
}

static void check_pixels(struct scan *s, dcm_file *f)
{
    char err[512];
    int frames = 0, np = 0;
    dcm_overlay planes[DCM_MAX_OVERLAYS];
    dcm_frame_count(f, &frames, err, sizeof err);
    dcm_overlays(f, planes, &np);
    s->facts->frames = frames;
    if (frames == 0 && np == 0)
        return;
    ocr_reader *reader = ocr_thread_reader(s->c->ocr_datapath, err, sizeof err);
    if (!reader) {
        add(s, "pixels", "undecodable-frame", SEV_POLICY, NULL, "OCR could not start");
        return;
    }
    for (int fr = 0; fr < frames && !s->failed; fr++) {
        if (!frame_selected(s->c, fr, frames))
            continue;
        char label[64];
        snprintf(label, sizeof label, "pixels:frame %d", fr);
        dcm_image img;
        if (dcm_decode_frame(f, fr, &img, err, sizeof err) != DCM_OK) {
            add_undecodable(s, f, label, "frame", err);
            continue;
        }
        s->facts->frames_inspected++;
        inspect_image(s, reader, label, &img, fr);
        dcm_image_free(&img);
    }
    check_overlays(s, f, reader, planes, np);
}

int verify_frames_parse(const char *text, verify_config *c)
{
    if (strcmp(text, "all") == 0)
        c->frames = VERIFY_FRAMES_ALL;
    else if (strcmp(text, "first") == 0)
        c->frames = VERIFY_FRAMES_FIRST;
    else if (strncmp(text, "sample:", 7) == 0) {
        char *end;
        long n = strtol(text + 7, &end, 10);
        if (end == text + 7 || *end || n < 1 || n > INT_MAX)
            return -1;
        c->frames = VERIFY_FRAMES_SAMPLE;
        c->sample = (int)n;
    } else
        return -1;
    return 0;
}

/* verify_file and verify_bytes: data is NULL when the file is read from path. */
static int inspect(const verify_config *c, const char *path, const void *data, size_t len,
                   const verify_pair_set *ids, const char *original_uids,
                   verify_findings *out, verify_facts *facts, char *err, size_t errlen)
{
    memset(facts, 0, sizeof *facts);
    dcm_file *f;
    if ((data ? dcm_open_bytes(path, data, len, &f, err, errlen)
              : dcm_open(path, &f, err, errlen)) != DCM_OK)
        return -1;
    struct scan s = {0};
    s.c = c;
    s.path = path;
    s.ids = ids;
    s.original_uids = original_uids;
    s.out = out;
    s.facts = facts;
    /* The names of the folders and file made for it can carry names and dates too. */
    if (ids) {
        size_t root = c->path_root ? strlen(c->path_root) : 0;
        char *rel = strdup(root && strncmp(path, c->path_root, root) == 0 ? path + root : path);
        if (!rel) {
            dcm_close(f);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        size_t rl = strlen(rel);
        if (rl > 4 && strcmp(rel + rl - 4, ".dcm") == 0)
            rel[rl - 4] = 0;
        check_text(&s, "path", NULL, NULL, rel, "", 1);
        free(rel);
    }
    char *pid = NULL;
    if (dcm_get(f, "(0010,0020)", &pid, err, errlen) == DCM_OK)
        s.pseudonym = pid;
    else
        free(pid);
    int rc = dcm_walk(f, walk, &s, err, errlen);
    if (rc == 0 && !s.failed) {
        check_structure(&s, f);
        if (c->ocr)
            check_pixels(&s, f);
    }
    free(s.pseudonym);
    dcm_close(f);
    if (s.failed && rc == 0) {
        snprintf(err, errlen, "%s: out of memory while verifying", path);
        rc = -1;
    }
    return rc;
}

int verify_file(const verify_config *c, const char *path, const verify_pair_set *ids,
                const char *original_uids, verify_findings *out, verify_facts *facts,
                char *err, size_t errlen)
{
    return inspect(c, path, NULL, 0, ids, original_uids, out, facts, err, errlen);
}

int verify_bytes(const verify_config *c, const char *path, const void *data, size_t len,
                 const verify_pair_set *ids, const char *original_uids,
                 verify_findings *out, verify_facts *facts, char *err, size_t errlen)
{
    return inspect(c, path, data, len, ids, original_uids, out, facts, err, errlen);
}

int verify_blocks(const verify_finding *f, verify_severity fail_on)
{
    return f->severity >= fail_on || strcmp(f->detector, "undecodable-frame") == 0 ||
           strcmp(f->detector, "nested-pixels") == 0;
}
