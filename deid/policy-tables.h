/* deid/policy-tables.h — the tables deid/gen-tables generates from the data/ TSV files;
 * private to deid/policy.c (use deid/policy.h). */
#ifndef DEIDTK_DEID_POLICY_TABLES_H
#define DEIDTK_DEID_POLICY_TABLES_H

#include <stddef.h>
#include <stdint.h>
#include "deid/policy.h"

/* Number of option columns of Table E.1-1 (deid_option values below it). */
#define DEID_TABLE_OPTIONS 10

/* A Table E.1-1 row: it matches a tag t when (t & mask) == tag. */
struct deid_trow {
    uint32_t tag, mask;
    const char *tagstr, *keyword, *name;
    unsigned char retired;
    unsigned char basic;                     /* deid_action */
    char opt[DEID_TABLE_OPTIONS];            /* 'K', 'C' or 0, by deid_option */
};

/* A safe public attribute: matches t when (t & mask) == tag. */
struct deid_safe_public {
    uint32_t tag, mask;
    const char *tagstr, *keyword, *reason;
};

struct deid_safe_private {
    const char *creator;
    uint16_t group;
    uint8_t element;                         /* low byte of the element number */
    const char *vr, *name;
};

/* Rows sorted by tag: the exact tags first (deid_table_nexact), then repeating groups. */
extern const struct deid_trow deid_table_rows[];
extern const size_t deid_table_nrows, deid_table_nexact;
/* Sorted by tag, exact tags first (deid_safe_public_nexact), then repeating groups. */
extern const struct deid_safe_public deid_safe_public_rows[];
extern const size_t deid_safe_public_nrows, deid_safe_public_nexact;
/* Sorted by group then element byte. */
extern const struct deid_safe_private deid_safe_private_rows[];
extern const size_t deid_safe_private_nrows;
extern const struct deid_code deid_method_code_rows[];
extern const size_t deid_method_code_nrows;
/* cksum of the four tables: identifies the edition in the policy text. */
extern const char deid_tables_cksum[];

#endif
