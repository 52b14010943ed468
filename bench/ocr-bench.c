/* Times the two ways of reading burned-in text over decoded frames: ocr_find_text (the
 * Leptonica detector, then Tesseract on each box) against ocr_read_full_frame (Tesseract
 * on the whole frame), and ocr_detect alone. Frame 0 of every file is decoded once, before
 * timing. Prints one line of key=value pairs (CPU milliseconds per frame) for bench/run.sh.
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

    size_t boxes = 0, read_boxes = 0, read_chars = 0, full_chars = 0;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        ocr_box *b;
        size_t nb;
        if (ocr_detect(imgs[i].width, imgs[i].height, imgs[i].channels, imgs[i].pixels, &b,
                       &nb, err, sizeof err) == 0)
            free(b);
    }
    double t_detect = now_ms() - t0;

    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        if (ocr_find_text(r, imgs[i].width, imgs[i].height, imgs[i].channels, imgs[i].pixels,
                          &texts, &nt, err, sizeof err) != 0) {
            fprintf(stderr, "ocr-bench: %s\n", err);
            continue;
        }
        boxes += nt;
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

    printf("frames=%d detect_ms=%.2f find_text_ms=%.2f full_frame_ms=%.2f boxes=%zu "
           "boxes_read=%zu read_chars=%zu full_frame_chars=%zu\n",
           n, t_detect / n, t_find / n, t_full / n, boxes, read_boxes, read_chars, full_chars);
    ocr_reader_free(r);
    for (int i = 0; i < n; i++)
        dcm_image_free(&imgs[i]);
    free(imgs);
    return 0;
}
