/* verify/pair.h — the paired leak check: the identifying values of one input dataset,
 * normalised once, searched for in the values of its output. Matching ignores case, spacing
 * and punctuation ("John Smith" finds "SMITH^JOHN" once both orders are added, "19610314"
 * finds "1961-03-14") and only counts whole words of the searched text. */
#ifndef DEIDTK_PAIR_H
#define DEIDTK_PAIR_H

#include <stddef.h>

typedef enum {
    VERIFY_PAIR_NAME = 0, /* PN value: every component of >= 3 letters, plus the whole name
                           * as "Given Family", "Given M Family", "Family Given" */
    VERIFY_PAIR_DATE,     /* DA/DT value: its YYYYMMDD, MMDDYYYY and DDMMYYYY forms */
    VERIFY_PAIR_ID,       /* identifier: the value without separators */
    VERIFY_PAIR_TEXT      /* free text (institution, address...): the whole value and each
                           * comma-separated part of >= 4 characters */
} verify_pair_kind;

typedef struct verify_pair_set verify_pair_set;

typedef struct verify_pair_hit {
    size_t off, len;        /* byte span in the searched text */
    verify_pair_kind kind;  /* kind of the value it came from */
    size_t value;           /* index of that value, for verify_pair_value() */
} verify_pair_hit;

/* Returns an empty set, or NULL when out of memory. Free with verify_pair_free. */
verify_pair_set *verify_pair_new(void);
void verify_pair_free(verify_pair_set *set);

/* Adds one input value (copied). Values too short or too plain to search safely (tokens of
 * fewer than 3 characters, numbers of fewer than 5 digits) add nothing. Returns 0, or -1
 * when out of memory. */
int verify_pair_add(verify_pair_set *set, verify_pair_kind kind, const char *value);

/* What the dataset keeps: its kept values, normalised as the paired check compares them
 * (lower case, dots, hyphens and apostrophes dropped, one space between words) and joined
 * by newlines (copied). Set it before adding values: a comma-separated part of a text
 * value that is a whole word, or words, of it adds no needle of its own, since a part the
 * dataset keeps elsewhere ("uncompressed" of an image comment, beside the code meaning
 * "Uncompressed predecessor") cannot leak. Returns 0, or -1 when out of memory. */
int verify_pair_set_kept(verify_pair_set *set, const char *kept);

/* Whether needle (normalised) is a whole word, or words, of text (normalised values). */
int verify_pair_in_words(const char *text, const char *needle);

/* Number of values added, and the value at index i as given to verify_pair_add (owned by
 * the set). */
size_t verify_pair_count(const verify_pair_set *set);
const char *verify_pair_value(const verify_pair_set *set, size_t i);

/* Finds every occurrence of the set's values in text. Writes at most max hits sorted by
 * offset (overlapping hits are all reported; for one start the longest comes first) and
 * returns how many it wrote, or (size_t)-1 when out of memory. */
size_t verify_pair_search(const verify_pair_set *set, const char *text,
                          verify_pair_hit *hits, size_t max);

/* verify_pair_search for text read from pixels by OCR, which misreads characters. Only
 * letters and digits count, case-folded, and characters OCR confuses are one class (0 O Q
 * o, 1 l I i | !, 5 S s $, 8 B b, 2 Z z, 6 G g, J j [ ]). Forms of 5 or more such
 * characters match with up to one edit (insertion, deletion, substitution) per 5
 * characters and must begin or end on a word edge; shorter forms match exactly and on word
 * edges at both ends, except that the components of one name may run into one another
 * ("DOEAJANE": a caret read as a letter). Numbers get one edit from 8 digits on and never
 * an extra digit. The distinctive words of free-text values (5 letters or more, not
 * generic words of institutions and addresses such as "Clinic" or "Street") match alone,
 * on word edges. Hits as verify_pair_search: spans of text, sorted by offset; returns how
 * many, or (size_t)-1 when out of memory. */
size_t verify_pair_search_fuzzy(const verify_pair_set *set, const char *text,
                                verify_pair_hit *hits, size_t max);

#endif
