/* deid/pixels.c — Clean Pixel Data. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "deid/pixels.h"
#include "deid/pixsig.h"
#include "ocr/ocr.h"

#define SIG_RECTS 64    /* regions from the signature table, at most */
#define MAX_RECTS (SIG_RECTS + DEID_POLICY_MAX_REGIONS)
#define OCR_ROUNDS 3    /* detections per frame at most: the first, then re-checks */

struct lookup_ctx {
    dcm_file *f;
    char *values[8];   /* the signature table asks for a few attributes per file */
    int nvalues;
};

static const char *lookup(uint16_t group, uint16_t element, void *ud)
{
    struct lookup_ctx *c = ud;
    char path[16], err[256];
    dcm_tag_str(group, element, path);
    char *v = NULL;
    if (dcm_get(c->f, path, &v, err, sizeof err) != DCM_OK)
        return NULL;
    if (c->nvalues == (int)(sizeof c->values / sizeof c->values[0])) {
        free(c->values[0]);
        memmove(c->values, c->values + 1, sizeof c->values - sizeof c->values[0]);
        c->nvalues--;
    }
    c->values[c->nvalues++] = v;
    return v;
}

int deid_policy_rects(const deid_policy *p, dcm_rect *rects, size_t max, size_t *n,
                      char *err, size_t errlen)
{
    const char *json = deid_policy_pixel_regions(p);
    if (!json)
        return 0;
    cJSON *root = cJSON_Parse(json);
    int rc = 0;
    if (!cJSON_IsArray(root)) {
        snprintf(err, errlen, "policy: pixel_regions must be an array of \"x,y,w,h\" strings");
        rc = -1;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (rc)
            break;
        deid_pixsig_rect pr[64];
        size_t k = 0;
        if (!cJSON_IsString(it) ||
            deid_pixsig_parse_rects(it->valuestring, pr, 64, &k, err, errlen) != 0) {
            if (!cJSON_IsString(it))
                snprintf(err, errlen, "policy: pixel_regions entries are \"x,y,w,h\" strings");
            rc = -1;
            break;
        }
        if (*n + k > max) {
            snprintf(err, errlen, "policy: more than %zu pixel regions", max);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < k; i++)
            rects[(*n)++] = (dcm_rect){-1, pr[i].x, pr[i].y, pr[i].w, pr[i].h};
    }
    cJSON_Delete(root);
    return rc;
}

/* OCR boxes are tight on the ink: pad them so anti-aliased edges go too. Appended to
 * rects[0..*n) (capacity *cap, grown as needed: a cine has boxes in every frame); -1 when
 * out of memory. */
static int push_padded(dcm_rect **rects, size_t *n, size_t *cap, int frame, const ocr_box *b)
{
    if (*n == *cap) {
        size_t c = *cap * 2;
        dcm_rect *g = realloc(*rects, c * sizeof *g);
        if (!g)
            return -1;
        *rects = g;
        *cap = c;
    }
    int pad = b->h / 4 > 2 ? b->h / 4 : 2;
    (*rects)[(*n)++] = (dcm_rect){frame, b->x - pad, b->y - pad, b->w + 2 * pad, b->h + 2 * pad};
    return 0;
}

/* What OCR cleaning works on: the frames of f, or one of its overlay planes. */
struct surface {
    dcm_file *f;
    const dcm_overlay *overlay;  /* NULL: the pixel data */
};

static int surface_decode(const struct surface *s, int frame, dcm_image *img, char *err,
                          size_t errlen)
{
    return s->overlay ? dcm_decode_overlay(s->f, s->overlay, frame, img, err, errlen)
                      : dcm_decode_frame(s->f, frame, img, err, errlen);
}

static int surface_blank(const struct surface *s, const dcm_rect *rects, size_t n, char *err,
                         size_t errlen)
{
    return s->overlay ? dcm_clear_overlay(s->f, s->overlay, rects, n, err, errlen)
                      : dcm_blank_rects(s->f, rects, n, err, errlen);
}

/* Blanks the boxes the OCR detector finds in each of the surface's frames. Blanking a line
 * can uncover a neighbour the detector had judged together with it: a frame that had text
 * is searched again after blanking, until nothing is found (OCR_ROUNDS at most), so that
 * what the verification looks for is gone too. *rects (capacity *cap) is the work list;
 * *total counts the rectangles blanked. */
static int clean_by_ocr(const struct surface *s, int frames, dcm_rect **rects, size_t *cap,
                        size_t *total, char *err, size_t errlen)
{
    unsigned char *search = malloc((size_t)frames);
    if (!search) {
        snprintf(err, errlen, "%s: out of memory", dcm_path(s->f));
        return -1;
    }
    memset(search, 1, (size_t)frames);
    int rc = 0;
    for (int round = 0; rc == 0 && round < OCR_ROUNDS; round++) {
        size_t n = 0;
        for (int fr = 0; rc == 0 && fr < frames; fr++) {
            if (!search[fr])
                continue;
            dcm_image img;
            if (surface_decode(s, fr, &img, err, errlen) != DCM_OK) {
                rc = -1;
                break;
            }
            ocr_box *boxes = NULL;
            size_t nb = 0;
            const unsigned char *clipped = img.clipped;
            ocr_frame view = { img.width, img.height, img.channels, img.pixels, &clipped, 1,
                               img.tile_w, img.tile_h };
            rc = ocr_detect_views(&view, &boxes, &nb, err, errlen);
            search[fr] = rc == 0 && nb > 0;
            for (size_t i = 0; rc == 0 && i < nb; i++)
                if (push_padded(rects, &n, cap, fr, &boxes[i]) != 0) {
                    snprintf(err, errlen, "%s: out of memory", dcm_path(s->f));
                    rc = -1;
                }
            free(boxes);
            dcm_image_free(&img);
        }
        if (rc == 0 && n == 0)
            break;
        if (rc == 0)
            rc = surface_blank(s, *rects, n, err, errlen);
        *total += n;
    }
    free(search);
    return rc;
}

int deid_clear_embedded_overlays(const deid_policy *p, dcm_file *f, deid_result *r, char *err,
                                 size_t errlen)
{
    dcm_overlay planes[DCM_MAX_OVERLAYS];
    int np = 0;
    dcm_overlays(f, planes, &np);
    for (int i = 0; i < np; i++) {
        deid_decision d;
        deid_policy_action(p, planes[i].group, 0x3000, &d);
        if (planes[i].bit < 0 || deid_action_drop(d.action) == DEID_DROP_NONE)
            continue;
        dcm_rect all = {-1, 0, 0, planes[i].cols, planes[i].rows};
        if (dcm_clear_overlay(f, &planes[i], &all, 1, err, errlen) != DCM_OK)
            return -1;
        r->overlay_regions++;
    }
    return 0;
}

int deid_clean_overlays(dcm_file *f, deid_result *r, char *err, size_t errlen)
{
    dcm_overlay planes[DCM_MAX_OVERLAYS];
    int np = 0;
    dcm_overlays(f, planes, &np);
    size_t cap = 64, total = 0;
    dcm_rect *rects = np ? malloc(cap * sizeof *rects) : NULL;
    if (np && !rects) {
        snprintf(err, errlen, "%s: out of memory", dcm_path(f));
        return -1;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < np; i++) {
        struct surface plane = {f, &planes[i]};
        rc = clean_by_ocr(&plane, planes[i].frames > 0 ? planes[i].frames : 1, &rects, &cap,
                          &total, err, errlen);
    }
    free(rects);
    r->overlay_regions += (int)total;
    return rc;
}

int deid_clean_pixels(const deid_engine *e, dcm_file *f, deid_result *r, char *err,
                      size_t errlen)
{
    int frames = 0;
    dcm_frame_count(f, &frames, err, errlen);
    if (frames == 0)
        return 0;
    dcm_rect *rects = malloc(MAX_RECTS * sizeof *rects);
    if (!rects) {
        snprintf(err, errlen, "%s: out of memory", dcm_path(f));
        return -1;
    }
    size_t n = 0, cap = MAX_RECTS;
    int rc = 0;
    if (e->clean_pixels & DEID_PIXELS_SIGNATURES) {
        struct lookup_ctx lc = {f, {0}, 0};
        deid_pixsig_rect sr[SIG_RECTS];
        size_t k = 0;
        deid_pixsig_match(lookup, &lc, sr, SIG_RECTS, &k);
        for (size_t i = 0; i < k && i < SIG_RECTS; i++)
            rects[n++] = (dcm_rect){-1, sr[i].x, sr[i].y, sr[i].w, sr[i].h};
        for (int i = 0; i < lc.nvalues; i++)
            free(lc.values[i]);
        char msg[256];
        if (k > SIG_RECTS) {
            snprintf(err, errlen, "%s: the signature table gives %zu regions, more than %d",
                     dcm_path(f), k, SIG_RECTS);
            rc = -1;
        } else if (deid_policy_rects(e->policy, rects, MAX_RECTS, &n, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s: %s", dcm_path(f), msg);
            rc = -1;
        }
    }
    if (rc == 0 && n > 0)
        rc = dcm_blank_rects(f, rects, n, err, errlen);
    size_t total = n;
    if (rc == 0 && (e->clean_pixels & DEID_PIXELS_OCR)) {
        struct surface frames_of = {f, NULL};
        rc = clean_by_ocr(&frames_of, frames, &rects, &cap, &total, err, errlen);
    }
    free(rects);
    if (rc != 0)
        return rc;
    r->pixel_regions = (int)total;
    r->pixels_cleaned = 1;
    return dcm_set(f, "(0028,0301)", "NO", err, errlen);
}
