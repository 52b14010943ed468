/* tests/unit/testutil.h — helpers for unit tests: temporary folders, real DICOM files
 * (Debian's python3-pydicom test files, samples/), fixtures built with DCMTK's tools. */
#ifndef DEIDTK_TESTUTIL_H
#define DEIDTK_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define PYDICOM_FILES "/usr/lib/python3/dist-packages/pydicom/data/test_files"

/* A fresh temporary folder (static buffer); removed by tu_cleanup(). */
static char tu_dir[256];

static inline int tu_make_dir(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tu_dir, sizeof tu_dir, "%s/deidtk-test-XXXXXX", base);
    return mkdtemp(tu_dir) ? 0 : -1;
}

static inline const char *tu_tmpdir(void)
{
    if (tu_make_dir() != 0)
        fail_msg("mkdtemp failed");
    return tu_dir;
}

static inline void tu_cleanup(void)
{
    if (tu_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tu_dir);
        tu_dir[0] = 0;
    }
}

/* cmocka group setup and teardown: one temporary folder, tu_dir, for all the tests. */
static inline int tu_group_setup(void **state)
{
    (void)state;
    return tu_make_dir();
}

static inline int tu_group_teardown(void **state)
{
    (void)state;
    tu_cleanup();
    return 0;
}

/* Path to a pydicom test file into buf; skips the test when python3-pydicom is absent. */
static inline const char *tu_pydicom(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", PYDICOM_FILES, name);
    if (access(buf, R_OK) != 0)
        skip();
    return buf;
}

/* Path to a file of samples/ into buf. */
static inline const char *tu_sample(const char *name, char *buf, size_t len)
{
    const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
    snprintf(buf, len, "%s/samples/%s", top, name);
    return buf;
}

/* Runs a shell command; fails the test when it does not exit 0. */
static inline void tu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

static inline void tu_write(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* Whole file into a malloc'd buffer (caller frees); *n its size. */
static inline unsigned char *tu_read(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(sz > 0 ? (size_t)sz : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return buf;
}

#endif
