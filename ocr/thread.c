/* ocr/thread.c — one Tesseract reader per thread, made on first use and freed when the
 * thread ends: Tesseract is costly to initialise and not safe to share. */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <leptonica/allheaders.h>
#include "ocr/ocr.h"
#include "ocr/ocr-internal.h"

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_destroy(void *r)
{
    ocr_reader_free(r);
}

static void reader_key_init(void)
{
    pthread_key_create(&reader_key, reader_destroy);
}

ocr_reader *ocr_thread_reader(const char *datapath, char *err, size_t errlen)
{
    pthread_once(&reader_once, reader_key_init);
    ocr_reader *r = pthread_getspecific(reader_key);
    if (!r) {
        r = ocr_reader_deferred(datapath);
        if (r)
            pthread_setspecific(reader_key, r);
        else
            snprintf(err, errlen, "out of memory");
    }
    return r;
}

void ocr_thread_reader_release(void)
{
    pthread_once(&reader_once, reader_key_init);
    ocr_reader *r = pthread_getspecific(reader_key);
    if (r) {
        pthread_setspecific(reader_key, NULL);
        ocr_reader_free(r);
    }
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet(void)
{
    setMsgSeverity(L_SEVERITY_NONE);
}

void ocr_global_init(void)
{
    pthread_once(&quiet_once, quiet);
}
