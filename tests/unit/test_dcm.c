/* tests/unit/test_dcm.c — dicom/: reading, walking, editing, saving, decoding, errors,
 * on real files (pydicom's test set, samples/) and fixtures built with DCMTK's tools. */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include "tests/unit/testutil.h"
#include "dicom/dcm.h"

static char err[1024];

/* An 8x8 8-bit MONOCHROME2 image whose pixel i is 10+i, a private block holding a private
 * sequence that nests a public one, and a patient. */
static const char *make_fixture(const char *dir, const char *name, const char *photometric)
{
    static char out[512];
    char dump[512];
    snprintf(dump, sizeof dump, "%s/%s.dump", dir, name);
    snprintf(out, sizeof out, "%s/%s.dcm", dir, name);
    FILE *fp = fopen(dump, "w");
    assert_non_null(fp);
    fprintf(fp,
            "(0008,0016) UI =SecondaryCaptureImageStorage\n"
            "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.1]\n"
            "(0008,0060) CS [OT]\n"
            "(0009,0010) LO [TEST CREATOR]\n"
            "(0009,1001) LO [private value]\n"
            "(0009,1002) SQ (Sequence with undefined length)\n"
            "(fffe,e000) na (Item with undefined length)\n"
            "(0040,0275) SQ (Sequence with undefined length)\n"
            "(fffe,e000) na (Item with undefined length)\n"
            "(0032,1060) LO [DEEP VALUE]\n"
            "(fffe,e00d) na (ItemDelimitationItem)\n"
            "(fffe,e0dd) na (SequenceDelimitationItem)\n"
            "(fffe,e00d) na (ItemDelimitationItem)\n"
            "(fffe,e0dd) na (SequenceDelimitationItem)\n"
            "(0010,0010) PN [Doe^Jane]\n"
            "(0010,0020) LO [PID-4711]\n"
            "(0028,0002) US 1\n(0028,0004) CS [%s]\n(0028,0010) US 8\n(0028,0011) US 8\n"
            "(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n"
            "(7fe0,0010) OB ", photometric);
    for (int i = 0; i < 64; i++)
        fprintf(fp, "%s%02x", i ? "\\" : "", 10 + i);
    fprintf(fp, "\n");
    fclose(fp);
    tu_sh("dump2dcm -q '%s' '%s'", dump, out);
    return out;
}

static dcm_file *open_ok(const char *path)
{
    dcm_file *f = NULL;
    int rc = dcm_open(path, &f, err, sizeof err);
    if (rc != DCM_OK)
        fail_msg("%s", err);
    return f;
}

static char *get(dcm_file *f, const char *path)
{
    char *v = NULL;
    if (dcm_get(f, path, &v, err, sizeof err) != DCM_OK)
        return NULL;
    return v;
}

static void assert_value(dcm_file *f, const char *path, const char *expect)
{
    char *v = get(f, path);
    if (!v)
        fail_msg("no value at %s: %s", path, err);
    assert_string_equal(v, expect);
    free(v);
}

/* ---- reading in every transfer syntax ---------------------------------------------- */

static void test_read_transfer_syntaxes(void **state)
{
    (void)state;
    static const char *const files[][2] = {
        {"MR_small.dcm", "1.2.840.10008.1.2.1"},
        {"MR_small_implicit.dcm", "1.2.840.10008.1.2"},
        {"MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"},
        {"MR_small_RLE.dcm", "1.2.840.10008.1.2.5"},
        {"MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"},
        {"MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dcm_file *f = open_ok(tu_pydicom(files[i][0], buf, sizeof buf));
        assert_string_equal(dcm_transfer_syntax(f), files[i][1]);
        assert_value(f, "(0010,0010)", "CompressedSamples^MR1");
        assert_value(f, "(0008,0060)", "MR");
        assert_value(f, "(0028,0010)", "64");
        dcm_close(f);
    }
    dcm_file *f = open_ok(tu_pydicom("image_dfl.dcm", buf, sizeof buf));
    assert_string_equal(dcm_transfer_syntax(f), "1.2.840.10008.1.2.1.99");
    char *v = get(f, "(0008,0060)");
    assert_non_null(v);
    free(v);
    dcm_close(f);
}

static void test_read_charsets_as_utf8(void **state)
{
    (void)state;
    char buf[512];
    dcm_file *f = open_ok(tu_pydicom("../charset_files/chrGerm.dcm", buf, sizeof buf));
    assert_value(f, "(0010,0010)", "Äneas^Rüdiger");
    dcm_close(f);
    f = open_ok(tu_pydicom("../charset_files/chrRuss.dcm", buf, sizeof buf));
    assert_value(f, "(0010,0010)", "Люкceмбypг");
    dcm_close(f);
    f = open_ok(tu_pydicom("../charset_files/chrJapMulti.dcm", buf, sizeof buf));
    char *v = get(f, "(0010,0010)");
    assert_non_null(v);
    assert_non_null(strstr(v, "やまだ"));
    free(v);
    dcm_close(f);
}

/* ---- walking ----------------------------------------------------------------------- */

struct seen {
    int n, meta, deep_private, creator_ok, pixel_bulk;
    char deep_path[128];
};

static int collect(const dcm_elem *e, void *ud)
{
    struct seen *s = ud;
    s->n++;
    if (e->is_meta)
        s->meta++;
    if (e->group == 0x0032 && e->element == 0x1060) {
        snprintf(s->deep_path, sizeof s->deep_path, "%s", e->path);
        s->deep_private = e->depth == 2 && e->parents[0] == 0x00091002u &&
                          e->parents[1] == 0x00400275u && strcmp(e->value, "DEEP VALUE") == 0;
    }
    if (e->group == 0x0009 && e->element == 0x1001)
        s->creator_ok = e->creator && strcmp(e->creator, "TEST CREATOR") == 0;
    if (e->group == 0x7fe0 && e->element == 0x0010)
        s->pixel_bulk = e->is_bulk && !e->value && !e->bytes && e->length == 64;
    return 0;
}

static void test_walk_nested_private(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    dcm_file *f = open_ok(make_fixture(dir, "fx", "MONOCHROME2"));
    struct seen s = {0};
    assert_int_equal(dcm_walk(f, collect, &s, err, sizeof err), DCM_OK);
    assert_true(s.meta >= 5);
    assert_string_equal(s.deep_path, "(0009,1002)[0].(0040,0275)[0].(0032,1060)");
    assert_true(s.deep_private);
    assert_true(s.creator_ok);
    assert_true(s.pixel_bulk);
    assert_value(f, "(0009,1002)[0].(0040,0275)[0].(0032,1060)", "DEEP VALUE");
    dcm_close(f);
    tu_cleanup();
}

static int stop_at_third(const dcm_elem *e, void *ud)
{
    (void)e;
    return ++*(int *)ud == 3 ? 42 : 0;
}

static void test_walk_stops(void **state)
{
    (void)state;
    char buf[512];
    dcm_file *f = open_ok(tu_pydicom("rtplan.dcm", buf, sizeof buf));
    int n = 0;
    assert_int_equal(dcm_walk(f, stop_at_third, &n, err, sizeof err), 42);
    assert_int_equal(n, 3);
    dcm_close(f);
}

/* ---- editing and saving ------------------------------------------------------------ */

struct lines {
    char **v;
    size_t n;
};

static int to_lines(const dcm_elem *e, void *ud)
{
    struct lines *l = ud;
    if (e->is_meta)
        return 0;
    char line[4096];
    int k = snprintf(line, sizeof line, "%s %s %zu ", e->path, e->vr, e->length);
    if (e->value)
        snprintf(line + k, sizeof line - k, "%s", e->value);
    else if (e->bytes)
        for (size_t i = 0; i < e->length && k < (int)sizeof line - 3; i++)
            k += snprintf(line + k, sizeof line - k, "%02x", e->bytes[i]);
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = strdup(line);
    return 0;
}

static struct lines snapshot(dcm_file *f)
{
    struct lines l = {0};
    assert_int_equal(dcm_walk(f, to_lines, &l, err, sizeof err), DCM_OK);
    return l;
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Both walks listed the same lines, except those starting with `skip` (NULL: none); frees
 * both. */
static void assert_same_lines(struct lines *a, struct lines *b, const char *skip)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (!skip || strncmp(a->v[i], skip, strlen(skip)) != 0)
            assert_string_equal(a->v[i], b->v[i]);
    free_lines(a);
    free_lines(b);
}

/* Pixel Data's value must be kept byte-identical: compare the bytes after the Pixel
 * Data header in both files (the header's VR may be corrected from OW to OB). */
static const unsigned char *pixel_value(const unsigned char *tag)
{
    int explicit_vr = tag[4] >= 'A' && tag[4] <= 'Z' && tag[5] >= 'A' && tag[5] <= 'Z';
    return tag + (explicit_vr ? 12 : 8);
}

static void assert_same_pixel_bytes(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *da = tu_read(a, &na), *db = tu_read(b, &nb);
    static const unsigned char tag_le[4] = {0xe0, 0x7f, 0x10, 0x00};
    static const unsigned char tag_be[4] = {0x7f, 0xe0, 0x00, 0x10};
    const unsigned char *pa = NULL, *pb = NULL;
    for (size_t i = na >= 4 ? na - 4 : 0; i > 0 && !pa; i--)
        if (!memcmp(da + i, tag_le, 4) || !memcmp(da + i, tag_be, 4))
            pa = da + i;
    for (size_t i = nb >= 4 ? nb - 4 : 0; i > 0 && !pb; i--)
        if (!memcmp(db + i, tag_le, 4) || !memcmp(db + i, tag_be, 4))
            pb = db + i;
    assert_non_null(pa);
    assert_non_null(pb);
    pa = pixel_value(pa);
    pb = pixel_value(pb);
    assert_int_equal(na - (size_t)(pa - da), nb - (size_t)(pb - db));
    assert_memory_equal(pa, pb, na - (size_t)(pa - da));
    free(da);
    free(db);
}

static void round_trip(const char *in, const char *out_dir, const char *out_name)
{
    char out[600];
    snprintf(out, sizeof out, "%s/%s", out_dir, out_name);
    dcm_file *f = open_ok(in);
    const char *xfer = strdup(dcm_transfer_syntax(f));
    struct lines before = snapshot(f);
    assert_int_equal(dcm_set(f, "(0010,0010)", "Anon^Ymous", err, sizeof err), DCM_OK);
    assert_int_equal(dcm_save(f, out, err, sizeof err), DCM_OK);
    dcm_close(f);

    dcm_file *g = open_ok(out);
    assert_string_equal(dcm_transfer_syntax(g), xfer);
    assert_value(g, "(0010,0010)", "Anon^Ymous");
    struct lines after = snapshot(g);
    assert_same_lines(&before, &after, "(0010,0010) ");
    dcm_close(g);
    assert_same_pixel_bytes(in, out);
    free((void *)xfer);
}

static void test_round_trip_keeps_everything_else(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char buf[512];
    static const char *const files[] = {"CT_small.dcm", "MR_small_implicit.dcm",
                                        "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                                        "MR_small_jp2klossless.dcm", "JPGExtended.dcm",
                                        "nested_priv_SQ.dcm", "rtplan.dcm", "image_dfl.dcm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(files[i], "image_dfl.dcm") == 0 || strcmp(files[i], "rtplan.dcm") == 0 ||
            strcmp(files[i], "nested_priv_SQ.dcm") == 0) {
            /* no Pixel Data to compare, or deflated (compressed as a whole) */
            char out[600];
            snprintf(out, sizeof out, "%s/%s", dir, files[i]);
            dcm_file *f = open_ok(tu_pydicom(files[i], buf, sizeof buf));
            struct lines before = snapshot(f);
            assert_int_equal(dcm_save(f, out, err, sizeof err), DCM_OK);
            dcm_close(f);
            dcm_file *g = open_ok(out);
            struct lines after = snapshot(g);
            assert_same_lines(&before, &after, NULL);
            dcm_close(g);
            continue;
        }
        round_trip(tu_pydicom(files[i], buf, sizeof buf), dir, files[i]);
    }
    tu_cleanup();
}

/* Parsing a file's bytes reads what dcm_open reads; dcm_save_bytes hands back exactly the
 * bytes of the file it wrote, or none past its limit. */
static void test_bytes_match_the_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char buf[512], out[600];
    static const char *const files[] = {"CT_small.dcm", "MR_small_implicit.dcm",
                                        "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                                        "nested_priv_SQ.dcm", "image_dfl.dcm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *in = tu_pydicom(files[i], buf, sizeof buf);
        size_t n;
        unsigned char *bytes = tu_read(in, &n);
        dcm_file *f = open_ok(in), *g;
        assert_int_equal(dcm_open_bytes(in, bytes, n, &g, err, sizeof err), DCM_OK);
        assert_string_equal(dcm_path(g), in);
        assert_string_equal(dcm_transfer_syntax(g), dcm_transfer_syntax(f));
        struct lines a = snapshot(f), b = snapshot(g);
        assert_same_lines(&a, &b, NULL);
        dcm_close(f);

        snprintf(out, sizeof out, "%s/%s", dir, files[i]);
        unsigned char *written;
        size_t nw;
        assert_int_equal(dcm_save_bytes(g, out, 1 << 26, &written, &nw, err, sizeof err),
                         DCM_OK);
        assert_non_null(written);
        unsigned char *data = tu_read(out, &n);
        assert_int_equal(nw, n);
        assert_memory_equal(written, data, n);
        free(written);
        assert_int_equal(dcm_save_bytes(g, out, 64, &written, &nw, err, sizeof err), DCM_OK);
        assert_null(written);
        assert_int_equal(nw, 0);
        free(data);
        dcm_close(open_ok(out));
        dcm_close(g);
        free(bytes);
    }
    static const char junk[] = "not DICOM at all";
    dcm_file *f;
    assert_int_equal(dcm_open_bytes("junk", junk, sizeof junk, &f, err, sizeof err),
                     DCM_EFORMAT);
    assert_null(f);
    assert_int_equal(dcm_open_bytes("empty", junk, 0, &f, err, sizeof err), DCM_EFORMAT);
    tu_cleanup();
}

/* Counts what it is handed in ud: the nested Procedure Code Sequence's elements must not
 * be handed out once their private sequence is removed. */
static int edit_fixture(const dcm_elem *e, dcm_verdict *v, void *ud)
{
    int *deep = ud;
    if (e->depth > 0 && e->parents[0] == 0x00091002u)
        ++*deep;
    if (e->group == 0x0010 && e->element == 0x0010) {
        v->kind = DCM_REPLACE;
        v->value = strdup("SUBJ-1");
    } else if (e->group == 0x0010 && e->element == 0x0020) {
        v->kind = DCM_EMPTY;
    } else if (e->group == 0x0009) {
        v->kind = DCM_REMOVE;
    }
    return 0;
}

static void test_edit_verdicts(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char out[600];
    dcm_file *f = open_ok(make_fixture(dir, "fx", "MONOCHROME2"));
    dcm_list *l;
    int deep = 0;
    assert_int_equal(dcm_list_new(f, &l, err, sizeof err), DCM_OK);
    assert_int_equal(dcm_list_edit(l, edit_fixture, &deep, err, sizeof err), DCM_OK);
    assert_int_equal(deep, 0);
    /* the removed elements were listed: the listing is spent */
    assert_int_equal(dcm_list_edit(l, edit_fixture, &deep, err, sizeof err), DCM_EARG);
    assert_int_equal(dcm_list_walk(l, stop_at_third, &deep, err, sizeof err), DCM_EARG);
    dcm_list_free(l);
    snprintf(out, sizeof out, "%s/edited.dcm", dir);
    assert_int_equal(dcm_save(f, out, err, sizeof err), DCM_OK);
    dcm_close(f);
    dcm_file *g = open_ok(out);
    assert_value(g, "(0010,0010)", "SUBJ-1");
    assert_value(g, "(0010,0020)", "");
    char *v = NULL;
    assert_int_equal(dcm_get(g, "(0009,1001)", &v, err, sizeof err), DCM_ENOTFOUND);
    assert_int_equal(dcm_get(g, "(0009,1002)[0].(0040,0275)[0].(0032,1060)", &v, err,
                             sizeof err), DCM_ENOTFOUND);
    assert_value(g, "(0008,0060)", "OT");
    /* the meta header was made anew and follows the dataset */
    assert_value(g, "meta.(0002,0003)", "1.2.826.0.1.3680043.10.9999.1");
    dcm_close(g);
    tu_cleanup();
}

/* Empties the sequence at ud's path and replaces what it is handed below it. */
static int empty_then_replace(const dcm_elem *e, dcm_verdict *v, void *ud)
{
    if (strcmp(e->path, (const char *)ud) == 0) {
        v->kind = DCM_EMPTY;
    } else if (e->vr[0] == 'L' && e->vr[1] == 'O') {
        v->kind = DCM_REPLACE;
        v->value = strdup("X");
    }
    return 0;
}

static int keep_whole_private(const dcm_elem *e, dcm_verdict *v, void *ud)
{
    if (e->group == 0x0009 && e->element == 0x1002)
        v->kind = DCM_KEEP_WHOLE;
    else if (e->depth > 0)
        v->kind = DCM_REMOVE;
    ++*(int *)ud;
    return 0;
}

struct every_other {
    int n;
    struct lines removed;  /* "path " of each removed element */
};

/* Removes every other element that is not a sequence, at every depth. */
static int remove_every_other(const dcm_elem *e, dcm_verdict *v, void *ud)
{
    struct every_other *eo = ud;
    if (e->vr[0] == 'S' && e->vr[1] == 'Q')
        return 0;
    if (eo->n++ % 2 == 0) {
        v->kind = DCM_REMOVE;
        eo->removed.v = realloc(eo->removed.v, (eo->removed.n + 1) * sizeof *eo->removed.v);
        char *line = malloc(strlen(e->path) + 2);
        assert_non_null(line);
        sprintf(line, "%s ", e->path);
        eo->removed.v[eo->removed.n++] = line;
    }
    return 0;
}

/* Removing many elements of many items leaves the others as they were, in their order
 * (sequences aside: their lengths change). */
static void test_list_edit_removes_many(void **state)
{
    (void)state;
    char buf[512];
    static const char *const files[] = {"rtplan.dcm", "nested_priv_SQ.dcm", "CT_small.dcm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dcm_file *f = open_ok(tu_pydicom(files[i], buf, sizeof buf));
        struct lines before = snapshot(f);
        struct every_other eo = {0};
        dcm_list *l;
        assert_int_equal(dcm_list_new(f, &l, err, sizeof err), DCM_OK);
        assert_int_equal(dcm_list_edit(l, remove_every_other, &eo, err, sizeof err), DCM_OK);
        dcm_list_free(l);
        assert_true(eo.removed.n >= 2);
        struct lines after = snapshot(f);
        size_t k = 0, gone = 0;
        for (size_t j = 0; j < before.n; j++) {
            if (gone < eo.removed.n && strncmp(before.v[j], eo.removed.v[gone],
                                               strlen(eo.removed.v[gone])) == 0) {
                gone++;
                continue;
            }
            assert_true(k < after.n);
            if (!strstr(before.v[j], " SQ "))
                assert_string_equal(before.v[j], after.v[k]);
            k++;
        }
        assert_int_equal(gone, eo.removed.n);
        assert_int_equal(k, after.n);
        free_lines(&before);
        free_lines(&after);
        free_lines(&eo.removed);
        dcm_close(f);
    }
}

/* A listing hands its passes what a live walk hands out, and its edit visits what a live
 * edit would: a kept sequence's items, not those of one emptied or kept whole. */
static void test_list_passes(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char buf[512];
    static const char *const files[] = {"nested_priv_SQ.dcm", "rtplan.dcm", "CT_small.dcm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dcm_file *f = open_ok(tu_pydicom(files[i], buf, sizeof buf));
        struct lines live = snapshot(f), listed = {0};
        dcm_list *l;
        assert_int_equal(dcm_list_new(f, &l, err, sizeof err), DCM_OK);
        assert_int_equal(dcm_list_walk(l, to_lines, &listed, err, sizeof err), DCM_OK);
        assert_same_lines(&live, &listed, NULL);
        int n = 0;
        assert_int_equal(dcm_list_walk(l, stop_at_third, &n, err, sizeof err), 42);
        assert_int_equal(n, 3);
        dcm_list_free(l);
        dcm_close(f);
    }

    dcm_file *f = open_ok(make_fixture(dir, "fx", "MONOCHROME2"));
    dcm_list *l;
    assert_int_equal(dcm_list_new(f, &l, err, sizeof err), DCM_OK);
    assert_int_equal(dcm_list_edit(l, empty_then_replace, "(0009,1002)[0].(0040,0275)", err,
                                   sizeof err), DCM_OK);
    dcm_list_free(l);
    assert_value(f, "(0009,1001)", "X");
    char *v = NULL;
    assert_int_equal(dcm_get(f, "(0009,1002)[0].(0040,0275)[0].(0032,1060)", &v, err,
                             sizeof err), DCM_ENOTFOUND);
    dcm_close(f);

    f = open_ok(make_fixture(dir, "fx", "MONOCHROME2"));
    int handed = 0;
    assert_int_equal(dcm_list_new(f, &l, err, sizeof err), DCM_OK);
    assert_int_equal(dcm_list_edit(l, keep_whole_private, &handed, err, sizeof err), DCM_OK);
    dcm_list_free(l);
    assert_value(f, "(0009,1002)[0].(0040,0275)[0].(0032,1060)", "DEEP VALUE");
    /* 19 dataset elements, two of them below the private sequence */
    assert_int_equal(handed, 17);
    dcm_close(f);
    tu_cleanup();
}

/* Integer values are listed as DCMTK writes them for dcm_get: decimal, joined by '\'. */
struct int_seen {
    dcm_file *f;
    int checked;
};

static int check_int_value(const dcm_elem *e, void *ud)
{
    struct int_seen *s = ud;
    if (e->is_meta || e->group != 0x0019 || e->element < 0x1000)
        return 0;
    static const char *const want[] = {"8\\65535\\0", "-32768\\7", "4294967295",
                                       "-5\\2147483647", ""};
    assert_in_range(e->element, 0x1001, 0x1005);
    assert_non_null(e->value);
    assert_string_equal(e->value, want[e->element - 0x1001]);
    char *v = get(s->f, e->path);
    assert_non_null(v);
    assert_string_equal(e->value, v);
    free(v);
    s->checked++;
    return 0;
}

static void test_integer_values_as_text(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char dump[512], out[512];
    snprintf(dump, sizeof dump, "%s/ints.dump", dir);
    snprintf(out, sizeof out, "%s/ints.dcm", dir);
    FILE *fp = fopen(dump, "w");
    assert_non_null(fp);
    fprintf(fp, "(0002,0010) UI =LittleEndianExplicit\n(0008,0016) UI [1.2.3]\n"
                "(0008,0018) UI [1.2.3.4]\n(0019,0010) LO [INT TEST]\n"
                "(0019,1001) US 8\\65535\\0\n(0019,1002) SS -32768\\7\n"
                "(0019,1003) UL 4294967295\n(0019,1004) SL -5\\2147483647\n"
                "(0019,1005) US (no value available)\n");
    fclose(fp);
    tu_sh("dump2dcm -q '%s' '%s'", dump, out);
    struct int_seen s = {open_ok(out), 0};
    assert_int_equal(dcm_walk(s.f, check_int_value, &s, err, sizeof err), DCM_OK);
    assert_int_equal(s.checked, 5);
    dcm_close(s.f);
    tu_cleanup();
}

static void test_set_creates_nested_and_items(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    dcm_file *f = open_ok(make_fixture(dir, "fx", "MONOCHROME2"));
    int idx = -1;
    static const uint32_t tags[] = {0x00080100, 0x00080102, 0x00080104};
    const char *first[] = {"113100", "DCM", "Basic Application Confidentiality Profile"};
    const char *second[] = {"113101", "DCM", "Clean Pixel Data Option"};
    assert_int_equal(dcm_add_item(f, "(0012,0064)", tags, first, 3, &idx, err, sizeof err),
                     DCM_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(dcm_add_item(f, "(0012,0064)", tags, second, 2, &idx, err, sizeof err),
                     DCM_OK);
    assert_int_equal(idx, 1);
    assert_value(f, "(0012,0064)[0].(0008,0100)", "113100");
    assert_value(f, "(0012,0064)[0].(0008,0104)", "Basic Application Confidentiality Profile");
    assert_value(f, "(0012,0064)[1].(0008,0100)", "113101");
    assert_value(f, "(0012,0064)[1].(0008,0102)", "DCM");
    char *absent;
    assert_int_equal(dcm_get(f, "(0012,0064)[1].(0008,0104)", &absent, err, sizeof err),
                     DCM_ENOTFOUND);
    assert_int_equal(dcm_set(f, "(0012,0064)[1].(0008,0100)", "113100", err, sizeof err),
                     DCM_OK);
    assert_value(f, "(0012,0064)[1].(0008,0100)", "113100");
    assert_int_equal(dcm_remove(f, "(0010,0020)", err, sizeof err), DCM_OK);
    char *v;
    assert_int_equal(dcm_get(f, "(0010,0020)", &v, err, sizeof err), DCM_ENOTFOUND);
    assert_int_equal(dcm_get(f, "(0010,0020", &v, err, sizeof err), DCM_EARG);
    assert_int_equal(dcm_get(f, "(0010,0010)[0]", &v, err, sizeof err), DCM_EARG);
    dcm_close(f);
    tu_cleanup();
}

/* ---- frames ------------------------------------------------------------------------ */

static void decode_ok(dcm_file *f, int n, dcm_image *img)
{
    if (dcm_decode_frame(f, n, img, err, sizeof err) != DCM_OK)
        fail_msg("%s", err);
}

/* Fixture pixels are 10..73 with no VOI window: min-max maps them to 0..255 in order. */
static void assert_fixture_ramp(const dcm_image *img, int inverted)
{
    assert_int_equal(img->width, 8);
    assert_int_equal(img->height, 8);
    assert_int_equal(img->channels, 1);
    assert_int_equal(img->pixels[0], inverted ? 255 : 0);
    assert_int_equal(img->pixels[63], inverted ? 0 : 255);
    for (int i = 1; i < 64; i++)
        if (inverted)
            assert_true(img->pixels[i] < img->pixels[i - 1]);
        else
            assert_true(img->pixels[i] > img->pixels[i - 1]);
}

static void test_decode_codecs_agree(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *plain = make_fixture(dir, "fx", "MONOCHROME2");
    tu_sh("cd '%s' && dcmcjpeg +e1 fx.dcm jpeg.dcm && dcmcrle fx.dcm rle.dcm && "
          "dcmcjpls fx.dcm jpls.dcm", dir);
    dcm_image ref;
    dcm_file *f = open_ok(plain);
    decode_ok(f, 0, &ref);
    dcm_close(f);
    assert_fixture_ramp(&ref, 0);
    static const char *const variants[] = {"jpeg.dcm", "rle.dcm", "jpls.dcm"};
    for (size_t i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, variants[i]);
        dcm_file *g = open_ok(p);
        dcm_image img;
        decode_ok(g, 0, &img);
        assert_memory_equal(img.pixels, ref.pixels, 64);
        dcm_image_free(&img);
        dcm_close(g);
    }
    dcm_image_free(&ref);
    tu_cleanup();
}

static void test_decode_monochrome1_inverted(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    dcm_file *f = open_ok(make_fixture(dir, "m1", "MONOCHROME1"));
    dcm_image img;
    decode_ok(f, 0, &img);
    assert_fixture_ramp(&img, 1);
    dcm_image_free(&img);
    dcm_close(f);
    tu_cleanup();
}

/* Uncompressed greyscale is windowed by dicom/ itself, everything else by DCMTK's
 * DicomImage; an RLE copy of a file takes the second path. Real CT and MR (signed, rescaled,
 * windowed; unsigned with a min-max window), also as MONOCHROME1, must come out the same
 * both ways; an overlay plane must be drawn into the frame as DicomImage draws it. */
static void test_decode_native_matches_dicomimage(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char src[5][512];
    tu_sample("IM0002.dcm", src[0], sizeof src[0]);
    tu_sample("IM0022.dcm", src[1], sizeof src[1]);
    tu_sample("IM0031.dcm", src[2], sizeof src[2]);
    tu_pydicom("CT_small.dcm", src[3], sizeof src[3]);
    tu_pydicom("MR_small.dcm", src[4], sizeof src[4]);
    for (int i = 0; i < 10; i++) {
        tu_sh("dcmdjpeg '%s' '%s/n.dcm'", src[i / 2], dir);
        if (i % 2)
            tu_sh("dcmodify -nb -m PhotometricInterpretation=MONOCHROME1 '%s/n.dcm'", dir);
        tu_sh("dcmcrle '%s/n.dcm' '%s/r.dcm'", dir, dir);
        char n[600], r[600];
        snprintf(n, sizeof n, "%s/n.dcm", dir);
        snprintf(r, sizeof r, "%s/r.dcm", dir);
        dcm_file *f = open_ok(n), *g = open_ok(r);
        dcm_image a, b;
        decode_ok(f, 0, &a);
        decode_ok(g, 0, &b);
        assert_int_equal(a.width, b.width);
        assert_int_equal(a.height, b.height);
        assert_memory_equal(a.pixels, b.pixels, (size_t)a.width * a.height);
        dcm_image_free(&a);
        dcm_image_free(&b);
        dcm_close(f);
        dcm_close(g);
    }
    /* An 8x8 overlay at the top left corner of IM0031, all bits set: it is a plane of its
     * own, and the frame is the pixel data alone, as without it. */
    tu_sh("dcmdjpeg '%s' '%s/p.dcm' && cp '%s/p.dcm' '%s/o.dcm' && "
          "printf '\\377\\377\\377\\377\\377\\377\\377\\377' "
          "> '%s/ov.raw' && dcmodify -nb -i '(6000,0010)=8' -i '(6000,0011)=8' "
          "-i '(6000,0040)=G' -i '(6000,0050)=1\\1' -i '(6000,0100)=1' -i '(6000,0102)=0' "
          "-if '(6000,3000)=%s/ov.raw' '%s/o.dcm'", src[2], dir, dir, dir, dir, dir, dir);
    char o[600], plain[600];
    snprintf(o, sizeof o, "%s/o.dcm", dir);
    snprintf(plain, sizeof plain, "%s/p.dcm", dir);
    dcm_file *f = open_ok(o), *g = open_ok(plain);
    dcm_image a, b, ov;
    decode_ok(f, 0, &a);
    decode_ok(g, 0, &b);
    assert_int_equal(a.width, b.width);
    assert_memory_equal(a.pixels, b.pixels, (size_t)a.width * a.height);
    dcm_overlay planes[DCM_MAX_OVERLAYS];
    int np = 0;
    dcm_overlays(f, planes, &np);
    assert_int_equal(np, 1);
    assert_int_equal(planes[0].group, 0x6000);
    assert_int_equal(dcm_decode_overlay(f, &planes[0], 0, &ov, err, sizeof err), DCM_OK);
    assert_int_equal(ov.width, 8);
    assert_int_equal(ov.height, 8);
    for (int i = 0; i < 64; i++)
        assert_int_equal(ov.pixels[i], 255);
    dcm_image_free(&ov);
    dcm_image_free(&a);
    dcm_image_free(&b);
    dcm_close(f);
    dcm_close(g);
    tu_cleanup();
}

/* JPEG 2000 (OpenJPEG) must decode to what the uncompressed original decodes to. */
static void test_decode_jpeg2000_matches_original(void **state)
{
    (void)state;
    char a[512], b[512];
    dcm_file *f = open_ok(tu_pydicom("MR_small.dcm", a, sizeof a));
    dcm_file *g = open_ok(tu_pydicom("MR_small_jp2klossless.dcm", b, sizeof b));
    dcm_image x, y;
    decode_ok(f, 0, &x);
    decode_ok(g, 0, &y);
    assert_int_equal(x.width, y.width);
    assert_int_equal(x.height, y.height);
    int worst = 0;
    for (int i = 0; i < x.width * x.height; i++) {
        int d = abs((int)x.pixels[i] - (int)y.pixels[i]);
        worst = d > worst ? d : worst;
    }
    assert_true(worst <= 1);
    dcm_image_free(&x);
    dcm_image_free(&y);
    dcm_close(f);
    dcm_close(g);
}

/* RGB: pydicom's SC_rgb images are bands of known colours; the first row is red. */
static void test_decode_rgb_and_multiframe(void **state)
{
    (void)state;
    char buf[512];
    static const char *const files[] = {"SC_rgb_rle.dcm", "SC_rgb_jpeg_dcmtk.dcm",
                                        "SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_rle_2frame.dcm"};
    for (size_t i = 0; i < 4; i++) {
        dcm_file *f = open_ok(tu_pydicom(files[i], buf, sizeof buf));
        dcm_image img;
        decode_ok(f, 0, &img);
        assert_int_equal(img.channels, 3);
        assert_int_equal(img.width, 100);
        const unsigned char *p = img.pixels + (5 * 100 + 50) * 3;
        assert_true(p[0] > 240 && p[1] < 15 && p[2] < 15);
        dcm_image_free(&img);
        dcm_close(f);
    }
    dcm_file *f = open_ok(tu_pydicom("SC_rgb_rle_2frame.dcm", buf, sizeof buf));
    int n;
    assert_int_equal(dcm_frame_count(f, &n, err, sizeof err), DCM_OK);
    assert_int_equal(n, 2);
    dcm_image a, b;
    decode_ok(f, 0, &a);
    decode_ok(f, 1, &b);
    /* the second frame is the first one's complement */
    assert_int_equal(a.pixels[0] + b.pixels[0], 255);
    dcm_image_free(&a);
    assert_int_equal(dcm_decode_frame(f, 2, &a, err, sizeof err), DCM_EARG);
    dcm_image_free(&b);
    dcm_close(f);
}

static void test_blank_rects_only_inside(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *plain = make_fixture(dir, "fx", "MONOCHROME2");
    tu_sh("cd '%s' && dcmcrle fx.dcm rle.dcm", dir);
    static const char *const names[] = {"fx.dcm", "rle.dcm"};
    for (int k = 0; k < 2; k++) {
        char in[600], out[600];
        snprintf(in, sizeof in, "%s/%s", dir, names[k]);
        snprintf(out, sizeof out, "%s/blank-%s", dir, names[k]);
        dcm_file *f = open_ok(k ? in : plain);
        dcm_rect r = {0, 2, 3, 3, 2};
        assert_int_equal(dcm_blank_rects(f, &r, 1, err, sizeof err), DCM_OK);
        assert_int_equal(dcm_save(f, out, err, sizeof err), DCM_OK);
        dcm_close(f);
        dcm_file *g = open_ok(out);
        assert_string_equal(dcm_transfer_syntax(g), "1.2.840.10008.1.2.1");
        dcm_image img, ref;
        decode_ok(g, 0, &img);
        dcm_file *h = open_ok(plain);
        decode_ok(h, 0, &ref);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int inside = x >= 2 && x < 5 && y >= 3 && y < 5;
                if (inside)
                    assert_int_not_equal(img.pixels[y * 8 + x], ref.pixels[y * 8 + x]);
                else
                    assert_int_equal(img.pixels[y * 8 + x], ref.pixels[y * 8 + x]);
            }
        dcm_image_free(&img);
        dcm_image_free(&ref);
        dcm_close(g);
        dcm_close(h);
    }
    tu_cleanup();
}

/* JPEG 2000 has no encoder here: cleaning writes the decoded stored values uncompressed,
 * equal to the lossless original outside the rectangle. */
static void test_blank_jpeg2000(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char a[512], b[512], out[600];
    dcm_file *f = open_ok(tu_pydicom("MR_small_jp2klossless.dcm", a, sizeof a));
    dcm_rect r = {0, 10, 10, 8, 6};
    assert_int_equal(dcm_blank_rects(f, &r, 1, err, sizeof err), DCM_OK);
    snprintf(out, sizeof out, "%s/j2k-blank.dcm", dir);
    assert_int_equal(dcm_save(f, out, err, sizeof err), DCM_OK);
    dcm_close(f);
    dcm_file *g = open_ok(out), *ref = open_ok(tu_pydicom("MR_small.dcm", b, sizeof b));
    assert_string_equal(dcm_transfer_syntax(g), "1.2.840.10008.1.2.1");
    dcm_image x, y;
    decode_ok(g, 0, &x);
    decode_ok(ref, 0, &y);
    int outside_same = 1, inside_changed = 0;
    for (int j = 0; j < 64; j++)
        for (int i = 0; i < 64; i++) {
            int in = i >= 10 && i < 18 && j >= 10 && j < 16;
            int same = x.pixels[j * 64 + i] == y.pixels[j * 64 + i];
            if (!in && !same)
                outside_same = 0;
            if (in && !same)
                inside_changed = 1;
        }
    assert_true(outside_same);
    assert_true(inside_changed);
    dcm_image_free(&x);
    dcm_image_free(&y);
    dcm_close(g);
    dcm_close(ref);
    tu_cleanup();
}

/* ---- errors ------------------------------------------------------------------------ */

static void expect_open_error(const char *path, int code, const char *needle)
{
    dcm_file *f = NULL;
    err[0] = 0;
    assert_int_equal(dcm_open(path, &f, err, sizeof err), code);
    assert_null(f);
    assert_non_null(strstr(err, path));
    assert_null(strchr(err, '\n'));
    if (needle && !strstr(err, needle))
        fail_msg("'%s' not in '%s'", needle, err);
}

static void test_open_errors(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char p[600], buf[512];
    snprintf(p, sizeof p, "%s/zero.dcm", dir);
    tu_write(p, "", 0);
    expect_open_error(p, DCM_EFORMAT, "empty");

    snprintf(p, sizeof p, "%s/page.dcm", dir);
    const char *html = "<!DOCTYPE html><html><body>Patient: Doe</body></html>\n";
    tu_write(p, html, strlen(html));
    expect_open_error(p, DCM_EFORMAT, "DICOM");

    snprintf(p, sizeof p, "%s/missing.dcm", dir);
    expect_open_error(p, DCM_EIO, NULL);

    /* a real file cut inside its dataset */
    size_t n;
    unsigned char *ct = tu_read(tu_pydicom("CT_small.dcm", buf, sizeof buf), &n);
    snprintf(p, sizeof p, "%s/truncated.dcm", dir);
    tu_write(p, ct, 1200);
    expect_open_error(p, DCM_EFORMAT, "DICOM");

    /* a value length past the end of the file: Patient's Name declares 0xFFF0 bytes */
    unsigned char *pn = NULL;
    for (size_t i = 0; i + 8 < n && !pn; i++)
        if (ct[i] == 0x10 && ct[i + 1] == 0 && ct[i + 2] == 0x10 && ct[i + 3] == 0 &&
            ct[i + 4] == 'P' && ct[i + 5] == 'N')
            pn = ct + i;
    assert_non_null(pn);
    pn[6] = 0xf0;
    pn[7] = 0xff;
    snprintf(p, sizeof p, "%s/pastend.dcm", dir);
    tu_write(p, ct, (size_t)(pn - ct) + 20);
    expect_open_error(p, DCM_EFORMAT, "past the end");
    free(ct);
    tu_cleanup();
}

/* 100 nested sequences of undefined length, written by hand: too deep to accept. */
static void test_open_rejects_deep_nesting(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    unsigned char *b = calloc(1, 8192);
    size_t k = 128;
    memcpy(b + k, "DICM", 4);
    k += 4;
    static const unsigned char meta[] = {
        0x02, 0x00, 0x10, 0x00, 'U', 'I', 20, 0, '1', '.', '2', '.', '8', '4', '0', '.', '1',
        '0', '0', '0', '8', '.', '1', '.', '2', '.', '1', 0};
    memcpy(b + k, meta, sizeof meta);
    k += sizeof meta;
    static const unsigned char sop[] = {0x08, 0x00, 0x16, 0x00, 'U', 'I', 4, 0, '1', '.', '2', 0};
    memcpy(b + k, sop, sizeof sop);
    k += sizeof sop;
    for (int d = 0; d < 100; d++) {
        static const unsigned char sq[] = {0x40, 0x00, 0x30, 0xa7, 'S', 'Q', 0, 0,
                                           0xff, 0xff, 0xff, 0xff,
                                           0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff};
        memcpy(b + k, sq, sizeof sq);
        k += sizeof sq;
    }
    for (int d = 0; d < 100; d++) {
        static const unsigned char end[] = {0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0,
                                            0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0};
        memcpy(b + k, end, sizeof end);
        k += sizeof end;
    }
    char p[600];
    snprintf(p, sizeof p, "%s/deep.dcm", dir);
    tu_write(p, b, k);
    free(b);
    expect_open_error(p, DCM_EFORMAT, "nested");
    tu_cleanup();
}

/* pydicom's file `name` with its bytes changed by patch (which returns 0 once it has found
 * what to change), written into the temporary folder as `out`; its path into p. */
static void write_damaged(const char *name, int (*patch)(unsigned char *, size_t),
                          const char *out, char *p, size_t plen)
{
    char buf[512];
    size_t n;
    unsigned char *d = tu_read(tu_pydicom(name, buf, sizeof buf), &n);
    assert_int_equal(patch(d, n), 0);
    snprintf(p, plen, "%s/%s", tu_tmpdir(), out);
    tu_write(p, d, n);
    free(d);
}

/* path's first frame is refused, with `decoding` in the message, and so is cleaning it,
 * with `cleaning` in the message. */
static void expect_frame_refused(const char *path, const char *decoding, const char *cleaning)
{
    dcm_file *f = open_ok(path);
    dcm_image img;
    assert_int_equal(dcm_decode_frame(f, 0, &img, err, sizeof err), DCM_EFORMAT);
    assert_non_null(strstr(err, decoding));
    dcm_rect r = {0, 0, 0, 4, 4};
    assert_int_equal(dcm_blank_rects(f, &r, 1, err, sizeof err), DCM_EFORMAT);
    assert_non_null(strstr(err, cleaning));
    dcm_close(f);
}

/* The third segment offset of the first RLE header (after the empty offset table: item
 * tag, length, then the header) moved about 4 GB on. */
static int far_rle_offset(unsigned char *d, size_t n)
{
    for (size_t i = 0; i + 24 < n; i++)
        if (d[i] == 0xfe && d[i + 1] == 0xff && d[i + 2] == 0x00 && d[i + 3] == 0xe0 &&
            (d[i + 4] | d[i + 5] | d[i + 6] | d[i + 7]) != 0 && d[i + 8] == 3) {
            d[i + 20] = d[i + 21] = d[i + 22] = 0xf0;
            return 0;
        }
    return -1;
}

/* An RLE header whose segment offset points far past its fragment (found by fuzzing) made
 * DCMTK's decoder read wild memory: it must be a clean error. */
static void test_decode_rejects_bad_rle_offsets(void **state)
{
    (void)state;
    char p[600];
    write_damaged("SC_rgb_rle.dcm", far_rle_offset, "bad-rle.dcm", p, sizeof p);
    expect_frame_refused(p, "RLE", "RLE");
    tu_cleanup();
}

/* The JPEG 2000 image and its one tile said to be 65000x65000: after SOC, SIZ holds the
 * marker, length, capabilities, the image's width and height, its offset, and the tiles'
 * width and height (with 64x64 tiles OpenJPEG would refuse the header itself). */
static int huge_j2k_siz(unsigned char *d, size_t n)
{
    for (size_t i = 0; i + 32 < n; i++)
        if (d[i] == 0xff && d[i + 1] == 0x4f && d[i + 2] == 0xff && d[i + 3] == 0x51) {
            const int at[] = {8, 12, 24, 28};  /* Xsiz, Ysiz, XTsiz, YTsiz, big-endian */
            for (int k = 0; k < 4; k++) {
                d[i + at[k]] = d[i + at[k] + 1] = 0;
                d[i + at[k] + 2] = 0xfd;
                d[i + at[k] + 3] = 0xe8;
            }
            return 0;
        }
    return -1;
}

/* A JPEG 2000 codestream whose header gives another size than Rows and Columns (found by
 * fuzzing: 65000x65000, which OpenJPEG would allocate before decoding anything) is refused
 * with the two sizes, both for inspection and for cleaning. */
static void test_decode_rejects_j2k_size_mismatch(void **state)
{
    (void)state;
    char p[600];
    write_damaged("MR_small_jp2klossless.dcm", huge_j2k_siz, "j2k-size.dcm", p, sizeof p);
    expect_frame_refused(p, "codestream is 65000x65000, the header says 64x64",
                         "the header says 64x64");
    tu_cleanup();
}

/* A header that says 65535x65535 over a 128x128 frame (uncompressed, and RLE) is refused
 * with DCMTK's reason and the transfer syntax named, without allocating what it says. */
static void test_decode_rejects_absurd_rows(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *names[] = {"CT_small.dcm", "MR_small_RLE.dcm"};
    const char *syntax[] = {"Little Endian Explicit", "RLE Lossless"};
    for (int i = 0; i < 2; i++) {
        char buf[512], p[600];
        snprintf(p, sizeof p, "%s/absurd-%d.dcm", dir, i);
        tu_sh("cp '%s' '%s' && dcmodify -q -nb -m '(0028,0010)=65535' -m '(0028,0011)=65535' '%s'",
              tu_pydicom(names[i], buf, sizeof buf), p, p);
        dcm_file *f = open_ok(p);
        dcm_image img;
        assert_int_not_equal(dcm_decode_frame(f, 0, &img, err, sizeof err), DCM_OK);
        assert_non_null(strstr(err, "cannot decode frame 0 (DCMTK: "));
        assert_non_null(strstr(err, syntax[i]));
        dcm_close(f);
    }
    tu_cleanup();
}

static void test_save_is_atomic_on_error(void **state)
{
    (void)state;
    char buf[512];
    dcm_file *f = open_ok(tu_pydicom("CT_small.dcm", buf, sizeof buf));
    assert_int_equal(dcm_save(f, "/nonexistent-dir/out.dcm", err, sizeof err), DCM_EIO);
    assert_non_null(strstr(err, "nonexistent-dir"));
    dcm_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_transfer_syntaxes),
        cmocka_unit_test(test_read_charsets_as_utf8),
        cmocka_unit_test(test_walk_nested_private),
        cmocka_unit_test(test_walk_stops),
        cmocka_unit_test(test_round_trip_keeps_everything_else),
        cmocka_unit_test(test_bytes_match_the_file),
        cmocka_unit_test(test_edit_verdicts),
        cmocka_unit_test(test_list_passes),
        cmocka_unit_test(test_list_edit_removes_many),
        cmocka_unit_test(test_integer_values_as_text),
        cmocka_unit_test(test_set_creates_nested_and_items),
        cmocka_unit_test(test_decode_codecs_agree),
        cmocka_unit_test(test_decode_monochrome1_inverted),
        cmocka_unit_test(test_decode_native_matches_dicomimage),
        cmocka_unit_test(test_decode_jpeg2000_matches_original),
        cmocka_unit_test(test_decode_rgb_and_multiframe),
        cmocka_unit_test(test_blank_rects_only_inside),
        cmocka_unit_test(test_blank_jpeg2000),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_rejects_deep_nesting),
        cmocka_unit_test(test_decode_rejects_bad_rle_offsets),
        cmocka_unit_test(test_decode_rejects_j2k_size_mismatch),
        cmocka_unit_test(test_decode_rejects_absurd_rows),
        cmocka_unit_test(test_save_is_atomic_on_error),
    };
    return cmocka_run_group_tests_name("dicom", tests, NULL, NULL);
}
