/* tests/fuzz/fuzz_dicom.c — libFuzzer target: any bytes as a DICOM file, opened from disk
 * and from memory, through walk, frame decoding, de-identification, save, and the parse of
 * the bytes saved (as run verifies them). Built by tests/fuzz/build.sh, not by make. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "deid/engine.h"

static int count(const dcm_elem *e, void *ud)
{
    (void)e;
    ++*(size_t *)ud;
    return 0;
}

/* Walks f and decodes its first frame. */
static void inspect(dcm_file *f)
{
    char err[512];
    size_t n = 0;
    dcm_walk(f, count, &n, err, sizeof err);
    int frames = 0;
    dcm_frame_count(f, &frames, err, sizeof err);
    dcm_image img;
    if (frames > 0 && dcm_decode_frame(f, 0, &img, err, sizeof err) == DCM_OK)
        dcm_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static deid_policy *policy;
    static struct deid_pseudo pseudo;
    static char dir[] = "/tmp/deidtk-fuzz-XXXXXX";
    if (!policy) {
        unsigned char key[DEID_KEY_LEN] = {1};
        char err[256];
        policy = deid_policy_new();
        deid_policy_select(policy, NULL, 0, err, sizeof err);
        deid_pseudo_init(&pseudo, key);
        pseudo.unknown_use_template = 1;
        if (!mkdtemp(dir))
            abort();
    }
    char in[64], out[64], err[512];
    snprintf(in, sizeof in, "%s/in.dcm", dir);
    snprintf(out, sizeof out, "%s/out.dcm", dir);
    FILE *fp = fopen(in, "wb");
    if (!fp || fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    dcm_file *f;
    if (dcm_open_bytes(in, data, size, &f, err, sizeof err) == DCM_OK) {
        inspect(f);
        dcm_close(f);
    }
    if (dcm_open(in, &f, err, sizeof err) != DCM_OK)
        return 0;
    inspect(f);
    deid_engine e = {0};
    e.policy = policy;
    e.pseudo = &pseudo;
    deid_result r;
    unsigned char *saved = NULL;
    size_t nsaved = 0;
    if (deid_apply(&e, f, &r, err, sizeof err) == 0 &&
        dcm_save_bytes(f, out, (size_t)1 << 26, &saved, &nsaved, err, sizeof err) == DCM_OK &&
        saved) {
        dcm_file *g;
        if (dcm_open_bytes(out, saved, nsaved, &g, err, sizeof err) == DCM_OK) {
            inspect(g);
            dcm_close(g);
        }
    }
    free(saved);
    deid_result_free(&r);
    dcm_close(f);
    unlink(out);
    return 0;
}
