/* deid/policy.h — the de-identification policy: what happens to each attribute.
 *
 * Owns: PS3.15 Table E.1-1 (generated from data/table_e1_1.tsv) and its options, the
 * presets, the list of unlisted public attributes known to be safe (data/safe_public.tsv),
 * the safe private attributes (PS3.15 Table E.3.10-1, data/safe_private.tsv), site
 * overrides read from a JSON policy file (deidtk-policy(5)), the CID 7050 method codes
 * and the canonical text + SHA-256 of a policy for the audit trail.
 * It decides; deid/engine applies. Nothing here touches a dataset.
 *
 * Resolution of a public attribute (deidtk-policy(5), RESOLUTION), first match wins:
 *   1. a site override in the policy file;
 *   2. Table E.1-1 with the selected options: an option K (retain) wins; else an
 *      option C from a retain option (Retain Longitudinal Modified Dates: shift the
 *      date; Retain Device Identity / Patient Characteristics: clean); else a C from a
 *      clean option (Clean Descriptors, Structured Content, Graphics); else the Basic
 *      Profile action;
 *   3. data/safe_public.tsv: keep (DEID_ACT_KEEP_SAFE);
 *   4. anything else: remove (DEID_ACT_REMOVE_UNLISTED).
 * A policy is read-only once set up: concurrent lookups from several threads are safe.
 */
#ifndef DEIDTK_DEID_POLICY_H
#define DEIDTK_DEID_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* The options, in Table E.1-1 column order, then Clean Pixel Data (no table column). */
typedef enum deid_option {
    DEID_OPT_RETAIN_SAFE_PRIVATE,
    DEID_OPT_RETAIN_UIDS,
    DEID_OPT_RETAIN_DEVICE_IDENTITY,
    DEID_OPT_RETAIN_INSTITUTION_IDENTITY,
    DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS,
    DEID_OPT_RETAIN_LONG_FULL_DATES,
    DEID_OPT_RETAIN_LONG_MODIFIED_DATES,
    DEID_OPT_CLEAN_DESCRIPTORS,
    DEID_OPT_CLEAN_STRUCTURED_CONTENT,
    DEID_OPT_CLEAN_GRAPHICS,
    DEID_OPT_CLEAN_PIXEL_DATA,
    DEID_OPT_COUNT
} deid_option;

/* A set of options: bit (1u << option). */
typedef unsigned deid_options;
#define DEID_OPTION_BIT(o) (1u << (o))

/* Command-line name ("retain-uids"), or NULL for an out-of-range value. */
const char *deid_option_name(deid_option o);
/* One-line description for --list. */
const char *deid_option_description(deid_option o);
/* The option named `name` (command-line name), or -1 if there is none. */
int deid_option_parse(const char *name);
/* 0 when the set makes sense; -1 with a message otherwise (the two longitudinal
 * options exclude each other). */
int deid_options_check(deid_options opts, char *err, size_t errlen);

/* Presets: "basic" (no option) and "tcia" (the default). */
#define DEID_DEFAULT_PRESET "tcia"
size_t deid_preset_count(void);
/* Name, description and options of preset i (< deid_preset_count()); NULL past the end. */
const char *deid_preset_name(size_t i, const char **description, deid_options *opts);
/* The options of the named preset; -1 if there is no such preset. */
int deid_preset_parse(const char *name, deid_options *opts);

typedef enum deid_action {
    /* PS3.15 Table E.1-1a. The engine picks between alternatives (Z/D...) from the
     * attribute's type in the IOD. */
    DEID_ACT_D, DEID_ACT_Z, DEID_ACT_X, DEID_ACT_K, DEID_ACT_C, DEID_ACT_U,
    DEID_ACT_ZD, DEID_ACT_XZ, DEID_ACT_XD, DEID_ACT_XZD, DEID_ACT_XZU,
    DEID_ACT_KEEP_SAFE,        /* not in the table, on the safe public list */
    DEID_ACT_REMOVE_UNLISTED,  /* not in the table, not known safe */
    /* Site overrides (policy file "attributes"). */
    DEID_ACT_OVR_KEEP, DEID_ACT_OVR_REMOVE, DEID_ACT_OVR_EMPTY,
    DEID_ACT_OVR_REPLACE,      /* with deid_decision.value */
    DEID_ACT_OVR_HASH,         /* with a keyed hash of the value (the engine's key) */
    DEID_ACT_COUNT
} deid_action;

/* "X", "Z/D", "X/Z/U*", "keep-safe", "remove-unlisted", "keep", "replace", ... */
const char *deid_action_name(deid_action a);

/* What an action does to a value, whatever the value and the attribute's type. */
typedef enum deid_drop {
    DEID_DROP_NONE,    /* kept, replaced or cleaned: it depends on the attribute */
    DEID_DROP_REMOVE,  /* X, remove-unlisted, a policy's remove */
    DEID_DROP_EMPTY    /* Z, X/Z, a policy's empty */
} deid_drop;
deid_drop deid_action_drop(deid_action a);

typedef enum deid_source {
    DEID_SRC_TABLE,        /* Table E.1-1, Basic Profile column */
    DEID_SRC_OPTION,       /* Table E.1-1, the column of deid_decision.option */
    DEID_SRC_OVERRIDE,     /* the policy file */
    DEID_SRC_SAFE_PUBLIC,  /* data/safe_public.tsv */
    DEID_SRC_UNLISTED
} deid_source;

/* "table", "option", "override", "safe-public", "unlisted". */
const char *deid_source_name(deid_source s);

typedef struct deid_decision {
    deid_action action;
    deid_source source;
    deid_option option;    /* meaningful when source == DEID_SRC_OPTION. A C from
                              DEID_OPT_RETAIN_LONG_MODIFIED_DATES means "shift the date". */
    deid_action basic;     /* the Basic Profile action (table rows); else == action
                              without the override */
    const char *keyword;   /* DICOM keyword when known, else "" */
    const char *value;     /* DEID_ACT_OVR_REPLACE: the replacement; else NULL */
    const char *note;      /* DEID_SRC_SAFE_PUBLIC: why it is safe; else NULL */
} deid_decision;
/* Strings in a decision point into the policy or static tables: valid while the
 * policy lives. */

typedef struct deid_policy deid_policy;

/* A policy with the default preset and no overrides. NULL only when out of memory.
 * Free with deid_policy_free(). */
deid_policy *deid_policy_new(void);
void deid_policy_free(deid_policy *p);

/* Reads a JSON policy file (deidtk-policy(5)) into p: its "preset"/"options", when
 * given, replace p's selection (as deid_policy_select); its overrides, extra safe
 * private attributes and pixel regions replace p's. On error returns -1, leaves p
 * unchanged and writes "PATH:LINE: message" into err. */
int deid_policy_load_file(deid_policy *p, const char *path, char *err, size_t errlen);
/* The same from text in memory; `name` stands for the path in messages. */
int deid_policy_load_text(deid_policy *p, const char *text, const char *name,
                          char *err, size_t errlen);

/* Selects the options the way --preset/--option do: the preset's options plus opts;
 * preset NULL means "basic" when opts is non-empty, else DEID_DEFAULT_PRESET.
 * Returns -1 with a message for an unknown preset or a bad combination. */
int deid_policy_select(deid_policy *p, const char *preset, deid_options opts,
                       char *err, size_t errlen);
deid_options deid_policy_options(const deid_policy *p);
/* The preset named when selecting ("tcia", "basic"), or NULL. */
const char *deid_policy_preset(const deid_policy *p);

/* The effective action for the public attribute (group,element) (even group; for a
 * private attribute use deid_policy_private_safe). Always fills *out; returns 0. */
int deid_policy_action(const deid_policy *p, uint16_t group, uint16_t element,
                       deid_decision *out);

/* 1 when the attribute is removed by the table but must stay in a kept structure, where
 * the policy cleans its text instead: Text Value (0040,A160), type 1 in the content items
 * of a report, under Clean Structured Content. */
int deid_policy_cleaned_in_place(const deid_policy *p, uint16_t group, uint16_t element);

/* 1 when the private element (group odd, element the full element number, e.g. 0x1010
 * in the block reserved by `creator` at 0x0010) is on the safe private list and Retain
 * Safe Private is selected, or on the policy's own safe_private list; else 0.
 * `creator` is compared exactly, after dropping trailing spaces (DICOM padding). */
int deid_policy_private_safe(const deid_policy *p, const char *creator,
                             uint16_t group, uint16_t element);

/* A CID 7050 code. */
typedef struct deid_code {
    const char *value, *scheme, *meaning;
} deid_code;

/* The De-identification Method Code Sequence items: Basic Profile then each selected
 * option, at most max of them into out (static storage). Returns how many there are. */
size_t deid_policy_method_codes(const deid_policy *p, const deid_code **out, size_t max);
/* The De-identification Method (0012,0063) value: LO values of at most 64 characters
 * joined by '\', e.g. "deidtk 0.1.0\PS3.15 E.1-1 Basic Profile\preset tcia\
 * retain-safe-private\...\policy sha256 1a2b3c4d5e6f7a8b". Returns -1 if buf is too small. */
int deid_policy_method_text(const deid_policy *p, char *buf, size_t len);

/* The canonical JSON text of the policy (options, preset, overrides, extra safe private
 * attributes, pixel regions, and the tables' edition checksum): equal policies give
 * equal text whatever the file's layout or key order. Owned by p; valid until p changes. */
const char *deid_policy_text(const deid_policy *p);
/* SHA-256 of deid_policy_text(): 64 hex digits. Owned by p; valid until p changes. */
const char *deid_policy_hash(const deid_policy *p);

/* At most this many pixel regions in a policy file. */
#define DEID_POLICY_MAX_REGIONS 512

/* The policy file's "pixel_regions" as JSON text, an array of "x,y,w,h" strings (objects
 * given as {"x", "y", "w", "h"} are written so), or NULL. Owned by p. */
const char *deid_policy_pixel_regions(const deid_policy *p);

/* One row of the profile: the attributes of Table E.1-1 (in tag order, repeating groups
 * last), then the safe public list, then overridden attributes in neither. */
typedef struct deid_row {
    const char *tag;       /* "(0010,0010)", "(60xx,3000)" */
    const char *name;      /* attribute name ("" when not known) */
    int in_table;          /* 1 for Table E.1-1 rows */
    int retired;           /* 1 when the table marks it retired */
    deid_decision d;       /* the effective action, as deid_policy_action() */
} deid_row;

/* Fills row i; returns 0, or -1 when i is past the last row. */
int deid_policy_row(const deid_policy *p, size_t i, deid_row *out);

#endif
