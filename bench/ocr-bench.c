/* Times the ways of reading burned-in text over decoded frames: ocr_find_text_views (the
 * Leptonica detector over the frame and the view of what its window clips, as verify
 * searches them, then Tesseract on each box) against ocr_read_full_frame (Tesseract on
 * the whole frame), at native size and enlarged as the reader enlarges its boxes, and
 * ocr_detect_views alone. Frame 0 of every file is decoded once, before timing. Prints one
 * line of key=value pairs (CPU milliseconds per frame) for bench/run.sh.
 * usage: ocr-bench FILE... */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dicom/dcm.h"
#include "ocr/ocr.h"

/* Process CPU time: other load on the machine disturbs it less than wall time. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* The factor by which the reader enlarges this frame's text: its boxes are brought to a
 * 32-pixel line, at most 6x (ocr/read.c); the whole frame gets the one for the median box.
 * 1 when nothing is detected. */
static double reader_scale(const dcm_image *im)
{
    char err[256];
    ocr_box *b;
    size_t nb;
    if (ocr_detect(im->width, im->height, im->channels, im->pixels, &b, &nb, err,
                   sizeof err) != 0 || nb == 0)
        return 1.0;
    int *h = malloc(nb * sizeof *h);
    double s = 1.0;
    if (h) {
        for (size_t i = 0; i < nb; i++)
            h[i] = b[i].h;
        qsort(h, nb, sizeof *h, cmp_int);
        s = 32.0 / (h[nb / 2] > 0 ? h[nb / 2] : 1);
        s = s < 1.0 ? 1.0 : s > 6.0 ? 6.0 : s;
        free(h);
    }
    free(b);
    return s;
}

/* im enlarged s times, bilinear; NULL pixels when out of memory. */
static dcm_image enlarge(const dcm_image *im, double s)
{
    dcm_image o = *im;
    o.clipped = NULL;  /* Tesseract reads the frame alone */
    o.width = (int)(im->width * s + 0.5);
    o.height = (int)(im->height * s + 0.5);
    int c = im->channels;
    o.pixels = malloc((size_t)o.width * o.height * c);
    if (!o.pixels)
        return o;
    for (int y = 0; y < o.height; y++) {
        double fy = (y + 0.5) / s - 0.5;
        int y0 = fy < 0 ? 0 : (int)fy, y1 = y0 + 1 < im->height ? y0 + 1 : y0;
        double wy = fy < 0 ? 0 : fy - y0;
        for (int x = 0; x < o.width; x++) {
            double fx = (x + 0.5) / s - 0.5;
            int x0 = fx < 0 ? 0 : (int)fx, x1 = x0 + 1 < im->width ? x0 + 1 : x0;
            double wx = fx < 0 ? 0 : fx - x0;
            for (int k = 0; k < c; k++) {
                const unsigned char *p = im->pixels;
                double top = p[((size_t)y0 * im->width + x0) * c + k] * (1 - wx) +
                             p[((size_t)y0 * im->width + x1) * c + k] * wx;
                double bot = p[((size_t)y1 * im->width + x0) * c + k] * (1 - wx) +
                             p[((size_t)y1 * im->width + x1) * c + k] * wx;
                o.pixels[((size_t)y * o.width + x) * c + k] =
                    (unsigned char)(top * (1 - wy) + bot * wy + 0.5);
            }
        }
    }
    return o;
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc < 2) {
        fprintf(stderr, "usage: ocr-bench FILE...\n");
        return 2;
    }
    dcm_image *imgs = calloc((size_t)argc, sizeof *imgs);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        dcm_file *f;
        if (dcm_open(argv[i], &f, err, sizeof err) != DCM_OK) {
            fprintf(stderr, "ocr-bench: %s\n", err);
            continue;
        }
        if (dcm_decode_frame(f, 0, &imgs[n], err, sizeof err) == DCM_OK)
            n++;
        else
            fprintf(stderr, "ocr-bench: %s\n", err);
        dcm_close(f);
    }
    if (n == 0)
        return 1;
    /* The frames as verify searches them (the view of what the window clips, the tiles). */
    ocr_frame *frames = calloc((size_t)n, sizeof *frames);
    for (int i = 0; frames && i < n; i++)
        frames[i] = (ocr_frame){ imgs[i].width, imgs[i].height, imgs[i].channels, imgs[i].pixels,
                                 (const unsigned char *const *)&imgs[i].clipped, 1,
                                 imgs[i].tile_w, imgs[i].tile_h };
    if (!frames)
        return 1;
    ocr_reader *r = ocr_reader_new(NULL, err, sizeof err);
    if (!r) {
        fprintf(stderr, "ocr-bench: %s\n", err);
        return 1;
    }

    /* Warm-up: Tesseract's first recognition loads its models. */
    char *text;
    int conf;
    ocr_text *texts;
    size_t nt;
    if (ocr_read_full_frame(r, imgs[0].width, imgs[0].height, imgs[0].channels,
                            imgs[0].pixels, &text, &conf, err, sizeof err) == 0)
        free(text);
    if (ocr_find_text(r, imgs[0].width, imgs[0].height, imgs[0].channels, imgs[0].pixels,
                      &texts, &nt, err, sizeof err) == 0)
        ocr_texts_free(texts, nt);

    size_t boxes = 0, read_boxes = 0, read_chars = 0, full_chars = 0, flagged = 0;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        ocr_box *b;
        size_t nb;
        if (ocr_detect_views(&frames[i], &b, &nb, err, sizeof err) == 0)
            free(b);
    }
    double t_detect = now_ms() - t0;

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        if (ocr_find_text_views(r, &frames[i], &texts, &nt, err, sizeof err) != 0) {
            fprintf(stderr, "ocr-bench: %s\n", err);
            continue;
        }
        boxes += nt;
        flagged += nt > 0;
        for (size_t k = 0; k < nt; k++) {
            read_boxes += texts[k].text && texts[k].text[0];
            for (const char *p = texts[k].text; p && *p; p++)
                read_chars += *p > ' ';
        }
        ocr_texts_free(texts, nt);
    }
    double t_find = now_ms() - t0;

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        if (ocr_read_full_frame(r, imgs[i].width, imgs[i].height, imgs[i].channels,
                                imgs[i].pixels, &text, &conf, err, sizeof err) != 0) {
            fprintf(stderr, "ocr-bench: %s\n", err);
            continue;
        }
        for (const char *p = text; *p; p++)
            full_chars += *p > ' ';
        free(text);
    }
    double t_full = now_ms() - t0;

    /* Enlarging the frame is not timed: only Tesseract's reading of it. */
    size_t up_chars = 0;
    double t_up = 0, scale_sum = 0;
    for (int i = 0; i < n; i++) {
        double s = reader_scale(&imgs[i]);
        dcm_image big = enlarge(&imgs[i], s);
        if (!big.pixels) {
            fprintf(stderr, "ocr-bench: out of memory\n");
            return 1;
        }
        scale_sum += s;
        t0 = now_ms();
        int rc = ocr_read_full_frame(r, big.width, big.height, big.channels, big.pixels,
                                     &text, &conf, err, sizeof err);
        t_up += now_ms() - t0;
        free(big.pixels);
        if (rc != 0) {
            fprintf(stderr, "ocr-bench: %s\n", err);
            continue;
        }
        for (const char *p = text; *p; p++)
            up_chars += *p > ' ';
        free(text);
    }

    printf("frames=%d detect_ms=%.2f find_text_ms=%.2f full_frame_ms=%.2f boxes=%zu "
           "frames_with_boxes=%zu boxes_read=%zu read_chars=%zu full_frame_chars=%zu "
           "full_up_ms=%.2f full_up_chars=%zu full_up_scale=%.2f\n",
           n, t_detect / n, t_find / n, t_full / n, boxes, flagged, read_boxes, read_chars,
           full_chars, t_up / n, up_chars, scale_sum / n);
    ocr_reader_free(r);
    for (int i = 0; i < n; i++)
        dcm_image_free(&imgs[i]);
    free(imgs);
    free(frames);
    return 0;
}
