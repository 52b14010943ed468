/* tests/fuzz/fuzz_dicom.c — libFuzzer target: any bytes as a DICOM file through open, walk,
 * frame decoding, de-identification and save. Built by tests/fuzz/build.sh, not by make. */
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
    if (dcm_open(in, &f, err, sizeof err) != DCM_OK)
        return 0;
    size_t n = 0;
    dcm_walk(f, count, &n, err, sizeof err);
    int frames = 0;
    dcm_frame_count(f, &frames, err, sizeof err);
    dcm_image img;
    if (frames > 0 && dcm_decode_frame(f, 0, &img, err, sizeof err) == DCM_OK)
        dcm_image_free(&img);
    deid_engine e = {0};
    e.policy = policy;
    e.pseudo = &pseudo;
    deid_result r;
    if (deid_apply(&e, f, &r, err, sizeof err) == 0)
        dcm_save(f, out, err, sizeof err);
    deid_result_free(&r);
    dcm_close(f);
    unlink(out);
    return 0;
}
