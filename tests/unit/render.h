/* tests/unit/render.h — text for OCR tests: Leptonica's built-in 10 pt bitmap font, drawn
 * large and reduced by area mapping so its ink is `height` px tall and anti-aliased as a
 * scanner's renderer would draw it, regular or bold. Include after testutil.h and
 * leptonica/allheaders.h. */
#ifndef DEIDTK_TEST_RENDER_H
#define DEIDTK_TEST_RENDER_H

/* An 8-bit PIX of the text (255 = ink); the caller destroys it. bold > 0: the font is
 * drawn eight times larger first and its strokes widened there by `bold` pixels (odd), as
 * bold type. */
static inline PIX *tu_render_weighted(const char *text, int height, int bold)
{
    L_BMF *bmf = bmfCreate(NULL, 10);
    assert_non_null(bmf);
    PIX *mask = pixCreate(2000, 120, 1);
    assert_non_null(mask);
    l_int32 width = 0, overflow = 0;
    assert_int_equal(pixSetTextline(mask, bmf, text, 1, 10, 80, &width, &overflow), 0);
    assert_int_equal(overflow, 0);
    PIX *tight = NULL;
    assert_int_equal(pixClipToForeground(mask, &tight, NULL), 0);
    if (bold > 0) {
        PIX *big = pixExpandReplicate(tight, 8);
        assert_non_null(big);
        pixDestroy(&tight);
        tight = pixDilateBrick(NULL, big, bold, bold);
        assert_non_null(tight);
        pixDestroy(&big);
    }
    PIX *grey8 = pixConvert1To8(NULL, tight, 0, 255);
    float scale = (float)height / (float)pixGetHeight(tight);
    PIX *small = pixScaleAreaMap(grey8, scale, scale);
    assert_non_null(small);
    pixDestroy(&grey8);
    pixDestroy(&tight);
    pixDestroy(&mask);
    bmfDestroy(&bmf);
    return small;
}

static inline PIX *tu_render_text(const char *text, int height)
{
    return tu_render_weighted(text, height, 0);
}

#endif
