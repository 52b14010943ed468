/* deid/policy.c — Table E.1-1 + options + site overrides -> one action per attribute. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "deid/pixsig.h"
#include "deid/policy.h"
#include "deid/policy-tables.h"

struct option_def {
    const char *name, *code, *description;
};

/* Indexed by deid_option. */
static const struct option_def option_defs[DEID_OPT_COUNT] = {
    { "retain-safe-private", "113111",
      "keep the private attributes of PS3.15 Table E.3.10-1 (vendor data known to be safe)" },
    { "retain-uids", "113110", "keep the original UIDs instead of replacing them" },
    { "retain-device-identity", "113109",
      "keep device serial numbers, station names and other device identifiers" },
    { "retain-institution-identity", "113112",
      "keep institution names, addresses and departments" },
    { "retain-patient-characteristics", "113108",
      "keep sex, age, size, weight and other physical characteristics" },
    { "retain-long-full-dates", "113106", "keep dates and times unchanged" },
    { "retain-long-modified-dates", "113107",
      "shift dates and times by a per-patient offset (intervals preserved)" },
    { "clean-descriptors", "113105",
      "keep descriptions and comments after cleaning identifying text out of them" },
    { "clean-structured-content", "113104",
      "keep structured report content after cleaning identifying values" },
    { "clean-graphics", "113103", "keep overlays, curves and graphics after cleaning text" },
    { "clean-pixel-data", "113101", "blank burned-in text in the pixel data" },
};

#define BIT DEID_OPTION_BIT
static const struct {
    const char *name, *description;
    deid_options opts;
} presets[] = {
    { "basic", "the Basic Profile alone: the most aggressive, no option", 0 },
    { "tcia", "Basic + clean-descriptors + retain-long-modified-dates + "
              "retain-patient-characteristics + retain-device-identity + retain-safe-private "
              "(the public archive practice; the default)",
      BIT(DEID_OPT_CLEAN_DESCRIPTORS) | BIT(DEID_OPT_RETAIN_LONG_MODIFIED_DATES) |
          BIT(DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS) |
          BIT(DEID_OPT_RETAIN_DEVICE_IDENTITY) | BIT(DEID_OPT_RETAIN_SAFE_PRIVATE) },
};
#define NPRESETS (sizeof presets / sizeof presets[0])

static const char *const action_names[DEID_ACT_COUNT] = {
    "D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*",
    "keep-safe", "remove-unlisted", "keep", "remove", "empty", "replace", "hash",
};

static const char *const source_names[] = {
    "table", "option", "override", "safe-public", "unlisted",
};

struct override {
    uint32_t tag;
    char tagstr[12];
    deid_action action;
    char *value;
    const char *keyword;   /* from the tables, or "" */
    int listed;            /* in Table E.1-1 or the safe public list */
};

struct extra_private {
    char *creator;
    uint16_t group;
    uint8_t element;
};

struct deid_policy {
    deid_options opts;
    const char *preset;             /* static preset name or NULL */
    struct override *ovr;           /* sorted by tag */
    size_t novr;
    struct extra_private *priv;     /* sorted by group, element, creator */
    size_t npriv;
    char *pixel_regions;
    char *text;
    char hash[65];
};

const char *deid_option_name(deid_option o)
{
    return (unsigned)o < DEID_OPT_COUNT ? option_defs[o].name : NULL;
}

const char *deid_option_description(deid_option o)
{
    return (unsigned)o < DEID_OPT_COUNT ? option_defs[o].description : NULL;
}

int deid_option_parse(const char *name)
{
    for (int i = 0; i < DEID_OPT_COUNT; i++)
        if (strcmp(option_defs[i].name, name) == 0)
            return i;
    return -1;
}

int deid_options_check(deid_options opts, char *err, size_t errlen)
{
    deid_options both = BIT(DEID_OPT_RETAIN_LONG_FULL_DATES) |
                        BIT(DEID_OPT_RETAIN_LONG_MODIFIED_DATES);
    if ((opts & both) == both) {
        snprintf(err, errlen, "%s and %s exclude each other",
                 option_defs[DEID_OPT_RETAIN_LONG_FULL_DATES].name,
                 option_defs[DEID_OPT_RETAIN_LONG_MODIFIED_DATES].name);
        return -1;
    }
    if (opts >> DEID_OPT_COUNT) {
        snprintf(err, errlen, "unknown option bits 0x%x", opts);
        return -1;
    }
    return 0;
}

size_t deid_preset_count(void)
{
    return NPRESETS;
}

const char *deid_preset_name(size_t i, const char **description, deid_options *opts)
{
    if (i >= NPRESETS)
        return NULL;
    if (description)
        *description = presets[i].description;
    if (opts)
        *opts = presets[i].opts;
    return presets[i].name;
}

static int preset_index(const char *name)
{
    for (size_t i = 0; i < NPRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return (int)i;
    return -1;
}

int deid_preset_parse(const char *name, deid_options *opts)
{
    int i = preset_index(name);
    if (i < 0)
        return -1;
    *opts = presets[i].opts;
    return 0;
}

const char *deid_action_name(deid_action a)
{
    return (unsigned)a < DEID_ACT_COUNT ? action_names[a] : "?";
}

deid_drop deid_action_drop(deid_action a)
{
    switch (a) {
    case DEID_ACT_X:
    case DEID_ACT_REMOVE_UNLISTED:
    case DEID_ACT_OVR_REMOVE:
        return DEID_DROP_REMOVE;
    case DEID_ACT_Z:
    case DEID_ACT_XZ:
    case DEID_ACT_OVR_EMPTY:
        return DEID_DROP_EMPTY;
    default:
        return DEID_DROP_NONE;
    }
}

const char *deid_source_name(deid_source s)
{
    return (unsigned)s <= DEID_SRC_UNLISTED ? source_names[s] : "?";
}

/* ---- lookups in the generated tables ---- */

static const struct deid_trow *table_find(uint32_t tag)
{
    size_t lo = 0, hi = deid_table_nexact;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t t = deid_table_rows[mid].tag;
        if (t == tag)
            return &deid_table_rows[mid];
        if (t < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = deid_table_nexact; i < deid_table_nrows; i++)
        if ((tag & deid_table_rows[i].mask) == deid_table_rows[i].tag)
            return &deid_table_rows[i];
    return NULL;
}

static const struct deid_safe_public *safe_public_find(uint32_t tag)
{
    size_t lo = 0, hi = deid_safe_public_nexact;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t t = deid_safe_public_rows[mid].tag;
        if (t == tag)
            return &deid_safe_public_rows[mid];
        if (t < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = deid_safe_public_nexact; i < deid_safe_public_nrows; i++)
        if ((tag & deid_safe_public_rows[i].mask) == deid_safe_public_rows[i].tag)
            return &deid_safe_public_rows[i];
    return NULL;
}

static const struct override *override_find(const deid_policy *p, uint32_t tag)
{
    size_t lo = 0, hi = p->novr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ovr[mid].tag == tag)
            return &p->ovr[mid];
        if (p->ovr[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Table E.1-1 with the selected options (the rule in policy.h and deidtk-policy(5)). */
static void table_decide(deid_options opts, const struct deid_trow *r, deid_decision *d)
{
    static const deid_option retain_c_order[] = {
        DEID_OPT_RETAIN_LONG_MODIFIED_DATES, DEID_OPT_RETAIN_SAFE_PRIVATE,
        DEID_OPT_RETAIN_UIDS, DEID_OPT_RETAIN_DEVICE_IDENTITY,
        DEID_OPT_RETAIN_INSTITUTION_IDENTITY, DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS,
        DEID_OPT_RETAIN_LONG_FULL_DATES,
        DEID_OPT_CLEAN_DESCRIPTORS, DEID_OPT_CLEAN_STRUCTURED_CONTENT,
        DEID_OPT_CLEAN_GRAPHICS,
    };
    d->basic = (deid_action)r->basic;
    d->keyword = r->keyword;
    d->value = NULL;
    d->note = NULL;
    d->option = DEID_OPT_COUNT;
    for (int o = 0; o < DEID_TABLE_OPTIONS; o++)
        if ((opts & BIT(o)) && r->opt[o] == 'K') {
            d->action = DEID_ACT_K;
            d->source = DEID_SRC_OPTION;
            d->option = (deid_option)o;
            return;
        }
    for (size_t i = 0; i < sizeof retain_c_order / sizeof retain_c_order[0]; i++) {
        deid_option o = retain_c_order[i];
        if ((opts & BIT(o)) && r->opt[o] == 'C') {
            d->action = DEID_ACT_C;
            d->source = DEID_SRC_OPTION;
            d->option = o;
            return;
        }
    }
    d->action = d->basic;
    d->source = DEID_SRC_TABLE;
}

static void override_decide(const struct override *o, deid_decision *d)
{
    d->action = o->action;
    d->source = DEID_SRC_OVERRIDE;
    d->value = o->value;
    d->note = NULL;
    d->option = DEID_OPT_COUNT;
}

int deid_policy_cleaned_in_place(const deid_policy *p, uint16_t group, uint16_t element)
{
    return group == 0x0040 && element == 0xA160 &&
           (deid_policy_options(p) & DEID_OPTION_BIT(DEID_OPT_CLEAN_STRUCTURED_CONTENT));
}

/* The Graphic Annotation and Graphic Layer modules (PS3.3 C.10.5, C.10.7), absent from
 * Table E.1-1: under Clean Graphics an annotation keeps its geometry and layers, and its
 * text is cleaned (clean 1), where otherwise its items lose everything. Sorted by tag. */
static const struct { uint32_t tag; const char *keyword; int clean; } graphics[] = {
    {0x00700002, "GraphicLayer", 0},
    {0x00700003, "BoundingBoxAnnotationUnits", 0},
    {0x00700004, "AnchorPointAnnotationUnits", 0},
    {0x00700005, "GraphicAnnotationUnits", 0},
    {0x00700006, "UnformattedTextValue", 1},
    {0x00700008, "TextObjectSequence", 0},
    {0x00700009, "GraphicObjectSequence", 0},
    {0x00700010, "BoundingBoxTopLeftHandCorner", 0},
    {0x00700011, "BoundingBoxBottomRightHandCorner", 0},
    {0x00700012, "BoundingBoxTextHorizontalJustification", 0},
    {0x00700014, "AnchorPoint", 0},
    {0x00700015, "AnchorPointVisibility", 0},
    {0x00700020, "GraphicDimensions", 0},
    {0x00700021, "NumberOfGraphicPoints", 0},
    {0x00700024, "GraphicFilled", 0},
    {0x00700060, "GraphicLayerSequence", 0},
    {0x00700062, "GraphicLayerOrder", 0},
    {0x00700066, "GraphicLayerRecommendedDisplayGrayscaleValue", 0},
    {0x00700068, "GraphicLayerDescription", 1},
    {0x00700401, "GraphicLayerRecommendedDisplayCIELabValue", 0},
};

static int graphics_find(uint32_t tag)
{
    for (size_t i = 0; i < sizeof graphics / sizeof graphics[0]; i++)
        if (graphics[i].tag == tag)
            return (int)i;
    return -1;
}

int deid_policy_action(const deid_policy *p, uint16_t group, uint16_t element,
                       deid_decision *out)
{
    uint32_t tag = (uint32_t)group << 16 | element;
    const struct deid_trow *r = (group & 1) ? NULL : table_find(tag);
    const struct deid_safe_public *s = NULL;
    const struct override *o = (group & 1) ? NULL : override_find(p, tag);

    if (r) {
        table_decide(p->opts, r, out);
    } else if (!(group & 1) && (s = safe_public_find(tag)) != NULL) {
        out->action = out->basic = DEID_ACT_KEEP_SAFE;
        out->source = DEID_SRC_SAFE_PUBLIC;
        out->option = DEID_OPT_COUNT;
        out->keyword = s->keyword;
        out->value = NULL;
        out->note = s->reason;
    } else {
        int g = (p->opts & BIT(DEID_OPT_CLEAN_GRAPHICS)) ? graphics_find(tag) : -1;
        out->action = out->basic = DEID_ACT_REMOVE_UNLISTED;
        out->source = DEID_SRC_UNLISTED;
        out->option = DEID_OPT_COUNT;
        out->keyword = "";
        out->value = NULL;
        out->note = NULL;
        if (g >= 0) {
            out->action = graphics[g].clean ? DEID_ACT_C : DEID_ACT_KEEP_SAFE;
            out->source = DEID_SRC_OPTION;
            out->option = DEID_OPT_CLEAN_GRAPHICS;
            out->keyword = graphics[g].keyword;
            out->note = "a graphic annotation Clean Graphics keeps";
        }
    }
    if (o)
        override_decide(o, out);
    return 0;
}

static int private_cmp(uint16_t g1, uint8_t e1, const char *c1, size_t c1len,
                       uint16_t g2, uint8_t e2, const char *c2)
{
    if (g1 != g2)
        return g1 < g2 ? -1 : 1;
    if (e1 != e2)
        return e1 < e2 ? -1 : 1;
    int c = strncmp(c1, c2, c1len);
    if (c == 0 && c2[c1len] != '\0')
        c = -1;
    return c;
}

int deid_policy_private_safe(const deid_policy *p, const char *creator,
                             uint16_t group, uint16_t element)
{
    if (!creator || !(group & 1))
        return 0;
    size_t clen = strlen(creator);
    while (clen > 0 && creator[clen - 1] == ' ')
        clen--;
    uint8_t byte = (uint8_t)(element & 0xFF);

    for (size_t i = 0; i < p->npriv; i++)
        if (private_cmp(group, byte, creator, clen, p->priv[i].group, p->priv[i].element,
                        p->priv[i].creator) == 0)
            return 1;
    if (!(p->opts & BIT(DEID_OPT_RETAIN_SAFE_PRIVATE)))
        return 0;
    /* Find the first row of (group, byte), then compare creators along the run. */
    size_t lo = 0, hi = deid_safe_private_nrows;
    uint32_t key = (uint32_t)group << 8 | byte;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct deid_safe_private *s = &deid_safe_private_rows[mid];
        if (((uint32_t)s->group << 8 | s->element) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < deid_safe_private_nrows; i++) {
        const struct deid_safe_private *s = &deid_safe_private_rows[i];
        if (((uint32_t)s->group << 8 | s->element) != key)
            break;
        if (strncmp(s->creator, creator, clen) == 0 && s->creator[clen] == '\0')
            return 1;
    }
    return 0;
}

/* ---- method codes and text ---- */

static const deid_code *code_find(const char *value)
{
    for (size_t i = 0; i < deid_method_code_nrows; i++)
        if (strcmp(deid_method_code_rows[i].value, value) == 0)
            return &deid_method_code_rows[i];
    return NULL;
}

size_t deid_policy_method_codes(const deid_policy *p, const deid_code **out, size_t max)
{
    size_t n = 0;
    const deid_code *c = code_find("113100");
    if (c) {
        if (n < max)
            out[n] = c;
        n++;
    }
    for (int o = 0; o < DEID_OPT_COUNT; o++) {
        if (!(p->opts & BIT(o)) || !(c = code_find(option_defs[o].code)))
            continue;
        if (n < max)
            out[n] = c;
        n++;
    }
    return n;
}

/* Appends one LO value (<= 64 chars) to buf; -1 when it does not fit. */
static int append_value(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    char v[65];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    size_t need = strlen(v) + (*used ? 1 : 0);
    if (*used + need + 1 > len)
        return -1;
    if (*used)
        buf[(*used)++] = '\\';
    memcpy(buf + *used, v, strlen(v) + 1);
    *used += strlen(v);
    return 0;
}

int deid_policy_method_text(const deid_policy *p, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return -1;
    buf[0] = '\0';
    if (append_value(buf, len, &used, "%s %s", PACKAGE_NAME, PACKAGE_VERSION) ||
        append_value(buf, len, &used, "PS3.15 E.1-1 Basic Profile"))
        return -1;
    if (p->preset && append_value(buf, len, &used, "preset %s", p->preset))
        return -1;
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        if ((p->opts & BIT(o)) && append_value(buf, len, &used, "%s", option_defs[o].name))
            return -1;
    return append_value(buf, len, &used, "policy sha256 %.16s", p->hash);
}

/* ---- canonical text and hash ---- */

static int rebuild_text(deid_policy *p)
{
    cJSON *root = cJSON_CreateObject(), *arr, *obj;
    char *text = NULL;
    int ok = root != NULL;

    ok = ok && cJSON_AddStringToObject(root, "tables", deid_tables_cksum);
    if (ok)
        ok = p->preset ? cJSON_AddStringToObject(root, "preset", p->preset) != NULL
                       : cJSON_AddNullToObject(root, "preset") != NULL;
    ok = ok && (arr = cJSON_AddArrayToObject(root, "options"));
    for (int o = 0; ok && o < DEID_OPT_COUNT; o++)
        if (p->opts & BIT(o))
            ok = cJSON_AddItemToArray(arr, cJSON_CreateString(option_defs[o].name));
    ok = ok && (obj = cJSON_AddObjectToObject(root, "attributes"));
    for (size_t i = 0; ok && i < p->novr; i++) {
        cJSON *a = cJSON_AddObjectToObject(obj, p->ovr[i].tagstr);
        ok = a && cJSON_AddStringToObject(a, "action", action_names[p->ovr[i].action]);
        if (ok && p->ovr[i].value)
            ok = cJSON_AddStringToObject(a, "value", p->ovr[i].value) != NULL;
    }
    ok = ok && (arr = cJSON_AddArrayToObject(root, "safe_private"));
    for (size_t i = 0; ok && i < p->npriv; i++) {
        cJSON *a = cJSON_CreateObject();
        char g[5], e[3];
        snprintf(g, sizeof g, "%04X", p->priv[i].group);
        snprintf(e, sizeof e, "%02X", p->priv[i].element);
        ok = a && cJSON_AddItemToArray(arr, a) &&
             cJSON_AddStringToObject(a, "creator", p->priv[i].creator) &&
             cJSON_AddStringToObject(a, "group", g) && cJSON_AddStringToObject(a, "element", e);
    }
    if (ok) {
        cJSON *px = p->pixel_regions ? cJSON_Parse(p->pixel_regions) : cJSON_CreateNull();
        ok = px && cJSON_AddItemToObject(root, "pixel_regions", px);
    }
    if (ok)
        ok = (text = cJSON_PrintUnformatted(root)) != NULL;
    cJSON_Delete(root);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (ok)
        ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    if (!ok) {
        cJSON_free(text);
        return -1;
    }
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(p->hash + 2 * i, 3, "%02x", md[i]);
    free(p->text);
    p->text = strdup(text);
    cJSON_free(text);
    return p->text ? 0 : -1;
}

const char *deid_policy_text(const deid_policy *p)
{
    return p->text;
}

const char *deid_policy_hash(const deid_policy *p)
{
    return p->hash;
}

const char *deid_policy_pixel_regions(const deid_policy *p)
{
    return p->pixel_regions;
}

/* ---- life cycle and selection ---- */

static void clear_site(deid_policy *p)
{
    for (size_t i = 0; i < p->novr; i++)
        free(p->ovr[i].value);
    free(p->ovr);
    for (size_t i = 0; i < p->npriv; i++)
        free(p->priv[i].creator);
    free(p->priv);
    free(p->pixel_regions);
    p->ovr = NULL;
    p->priv = NULL;
    p->pixel_regions = NULL;
    p->novr = p->npriv = 0;
}

void deid_policy_free(deid_policy *p)
{
    if (!p)
        return;
    clear_site(p);
    free(p->text);
    free(p);
}

deid_policy *deid_policy_new(void)
{
    deid_policy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->preset = presets[preset_index(DEID_DEFAULT_PRESET)].name;
    p->opts = presets[preset_index(DEID_DEFAULT_PRESET)].opts;
    if (rebuild_text(p) != 0) {
        deid_policy_free(p);
        return NULL;
    }
    return p;
}

/* Resolves a selection without touching the policy. */
static int resolve_selection(const char *preset, deid_options opts, const char **name_out,
                             deid_options *opts_out, char *err, size_t errlen)
{
    if (!preset)
        preset = opts ? "basic" : DEID_DEFAULT_PRESET;
    int i = preset_index(preset);
    if (i < 0) {
        snprintf(err, errlen, "unknown preset \"%s\" (try: deidtk profile --list)", preset);
        return -1;
    }
    opts |= presets[i].opts;
    if (deid_options_check(opts, err, errlen) != 0)
        return -1;
    *name_out = presets[i].name;
    *opts_out = opts;
    return 0;
}

int deid_policy_select(deid_policy *p, const char *preset, deid_options opts,
                       char *err, size_t errlen)
{
    const char *name;
    deid_options all;
    if (resolve_selection(preset, opts, &name, &all, err, errlen) != 0)
        return -1;
    const char *old_name = p->preset;
    deid_options old = p->opts;
    p->preset = name;
    p->opts = all;
    if (rebuild_text(p) != 0) {
        p->preset = old_name;
        p->opts = old;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

deid_options deid_policy_options(const deid_policy *p)
{
    return p->opts;
}

const char *deid_policy_preset(const deid_policy *p)
{
    return p->preset;
}

/* ---- policy file ---- */

/* cJSON keeps no positions: to name a line, walk the (already valid) text along the
 * path of keys / array indices to the offending member. */
struct jstep {
    const char *key;   /* object member, or NULL for array element `index` */
    int index;         /* array index; for a key, how many earlier same keys to pass */
};

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

static const char *skip_string(const char *s)
{
    for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
            s++;
    return *s ? s + 1 : s;
}

static int parse_hex(const char *s, size_t n, unsigned *out);

/* The character an escape stands for (s after the backslash; *len gets the escape's length
 * after it); -1 for \u beyond ASCII, which no key the policy knows has, or a bad escape. */
static int unescape(const char *s, const char *end, size_t *len)
{
    *len = 1;
    switch (*s) {
    case '"': case '\\': case '/': return *s;
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': {
        unsigned u;
        if (end - s < 5 || parse_hex(s + 1, 4, &u) != 0 || u > 0x7f)
            return -1;
        *len = 5;
        return (int)u;
    }
    default:
        return -1;
    }
}

/* Whether the JSON string literal s..end (quotes included) decodes to key: cJSON gives keys
 * decoded, and the text has them as written. */
static int literal_is(const char *s, const char *end, const char *key)
{
    for (s++, end--; s < end; key++) {
        int c = (unsigned char)*s;
        size_t len = 1;
        if (c == '\\') {
            if ((c = unescape(s + 1, end, &len)) < 0)
                return 0;
            len++;
        }
        if ((unsigned char)*key != c || !*key)
            return 0;
        s += len;
    }
    return *key == 0;
}

static const char *skip_value(const char *s)
{
    if (*s == '"')
        return skip_string(s);
    if (*s == '{' || *s == '[') {
        int depth = 0;
        while (*s) {
            if (*s == '"') {
                s = skip_string(s);
                continue;
            }
            if (*s == '{' || *s == '[')
                depth++;
            else if ((*s == '}' || *s == ']') && --depth == 0)
                return s + 1;
            s++;
        }
        return s;
    }
    while (*s && !strchr(",}] \t\r\n", *s))
        s++;
    return s;
}

static int line_at(const char *text, const struct jstep *path, size_t n)
{
    const char *s = skip_ws(text), *mark = s;
    for (size_t k = 0; k < n && (*s == '{' || *s == '['); k++) {
        int is_obj = *s == '{', found = 0, pass = path[k].index;
        s = skip_ws(s + 1);
        for (int idx = 0; *s && *s != '}' && *s != ']'; idx++) {
            const char *start = s;
            int match;
            if (is_obj) {
                const char *kend = skip_string(s);
                match = path[k].key && literal_is(s, kend, path[k].key) && pass-- == 0;
                s = skip_ws(kend);
                if (*s == ':')
                    s = skip_ws(s + 1);
            } else {
                match = !path[k].key && idx == path[k].index;
            }
            if (match) {
                mark = start;
                found = 1;
                break;
            }
            s = skip_ws(skip_value(s));
            if (*s == ',')
                s = skip_ws(s + 1);
        }
        if (!found)
            break;
    }
    int line = 1;
    for (const char *c = text; c < mark; c++)
        line += *c == '\n';
    return line;
}

struct loader {
    const char *text, *name;
    char *err;
    size_t errlen;
};

static int fail(const struct loader *L, const struct jstep *path, size_t n,
                const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s:%d: %s", L->name, line_at(L->text, path, n), msg);
    return -1;
}

/* A member name seen twice: cJSON would silently use the first. */
static const cJSON *duplicate_member(const cJSON *obj)
{
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return b;
    return NULL;
}

static int parse_hex(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
                                                              : toupper((unsigned char)s[i]) - 'A' + 10);
    }
    if (s[n] != '\0' && s[n] != ',' && s[n] != ')')
        return -1;
    *out = v;
    return 0;
}

/* "(gggg,eeee)" or a keyword of Table E.1-1 / the safe public list. */
static int parse_attribute(const char *s, uint32_t *tag, const char **keyword)
{
    unsigned g, e;
    *keyword = "";
    if (s[0] == '(') {
        if (strlen(s) != 11 || s[5] != ',' || s[10] != ')' || parse_hex(s + 1, 4, &g) ||
            parse_hex(s + 6, 4, &e))
            return -1;
        *tag = g << 16 | e;
        const struct deid_trow *r = table_find(*tag);
        const struct deid_safe_public *sp = safe_public_find(*tag);
        if (r && r->mask == 0xFFFFFFFFu)
            *keyword = r->keyword;
        else if (sp)
            *keyword = sp->keyword;
        return 0;
    }
    for (size_t i = 0; i < deid_table_nexact; i++)
        if (*s && strcmp(deid_table_rows[i].keyword, s) == 0) {
            *tag = deid_table_rows[i].tag;
            *keyword = deid_table_rows[i].keyword;
            return 0;
        }
    for (size_t i = 0; i < deid_safe_public_nrows; i++)
        if (strcmp(deid_safe_public_rows[i].keyword, s) == 0) {
            *tag = deid_safe_public_rows[i].tag;
            *keyword = deid_safe_public_rows[i].keyword;
            return 0;
        }
    return -1;
}

static int override_cmp(const void *a, const void *b)
{
    const struct override *x = a, *y = b;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

static int private_sort_cmp(const void *a, const void *b)
{
    const struct extra_private *x = a, *y = b;
    return private_cmp(x->group, x->element, x->creator, strlen(x->creator),
                       y->group, y->element, y->creator);
}

static int load_attributes(const struct loader *L, const cJSON *attrs, deid_policy *q)
{
    static const char *const ovr_names[] = { "keep", "remove", "empty", "replace", "hash" };
    struct jstep path[3] = { { "attributes", 0 }, { NULL, 0 }, { NULL, 0 } };
    const cJSON *a, *dup;

    if (!cJSON_IsObject(attrs))
        return fail(L, path, 1, "\"attributes\" must be an object");
    int n = cJSON_GetArraySize(attrs);
    q->ovr = calloc(n ? (size_t)n : 1, sizeof *q->ovr);
    if (!q->ovr)
        return fail(L, path, 1, "out of memory");
    cJSON_ArrayForEach(a, attrs) {
        struct override *o = &q->ovr[q->novr];
        const cJSON *m, *act = NULL, *val = NULL;
        path[1].key = a->string;
        if (parse_attribute(a->string, &o->tag, &o->keyword) != 0)
            return fail(L, path, 2, "bad attribute \"%s\": use (gggg,eeee) or a keyword "
                        "of Table E.1-1 or the safe public list", a->string);
        if ((o->tag >> 16) & 1)
            return fail(L, path, 2, "\"%s\" is private: list private attributes in "
                        "\"safe_private\"", a->string);
        snprintf(o->tagstr, sizeof o->tagstr, "(%04X,%04X)", o->tag >> 16, o->tag & 0xFFFF);
        for (size_t i = 0; i < q->novr; i++)
            if (q->ovr[i].tag == o->tag)
                return fail(L, path, 2, "attribute %s given twice", o->tagstr);
        const struct deid_trow *r = table_find(o->tag);
        o->listed = (r && r->mask == 0xFFFFFFFFu) || safe_public_find(o->tag);
        q->novr++;
        if (!cJSON_IsObject(a))
            return fail(L, path, 2, "\"%s\" must be an object with an \"action\"", a->string);
        if ((dup = duplicate_member(a))) {
            path[2].key = dup->string;
            path[2].index = 1;
            return fail(L, path, 3, "\"%s\" given twice", dup->string);
        }
        cJSON_ArrayForEach(m, a) {
            path[2].key = m->string;
            if (strcmp(m->string, "action") == 0)
                act = m;
            else if (strcmp(m->string, "value") == 0)
                val = m;
            else
                return fail(L, path, 3, "unknown key \"%s\" in \"%s\" (expected action, value)",
                            m->string, a->string);
        }
        path[2].key = "action";
        if (!act)
            return fail(L, path, 2, "\"%s\" has no \"action\"", a->string);
        size_t k;
        for (k = 0; k < 5; k++)
            if (cJSON_IsString(act) && strcmp(act->valuestring, ovr_names[k]) == 0)
                break;
        if (k == 5)
            return fail(L, path, 3, "bad action for \"%s\" (expected keep, remove, empty, "
                        "replace or hash)", a->string);
        o->action = (deid_action)(DEID_ACT_OVR_KEEP + k);
        path[2].key = "value";
        if (o->action == DEID_ACT_OVR_REPLACE) {
            if (!cJSON_IsString(val))
                return fail(L, path, val ? 3 : 2, "\"replace\" of \"%s\" needs a string \"value\"",
                            a->string);
            if (!(o->value = strdup(val->valuestring)))
                return fail(L, path, 3, "out of memory");
        } else if (val) {
            return fail(L, path, 3, "\"value\" is only for \"replace\"");
        }
    }
    qsort(q->ovr, q->novr, sizeof *q->ovr, override_cmp);
    return 0;
}

static int load_safe_private(const struct loader *L, const cJSON *list, deid_policy *q)
{
    struct jstep path[3] = { { "safe_private", 0 }, { NULL, 0 }, { NULL, 0 } };
    const cJSON *it;

    if (!cJSON_IsArray(list))
        return fail(L, path, 1, "\"safe_private\" must be an array");
    int n = cJSON_GetArraySize(list);
    q->priv = calloc(n ? (size_t)n : 1, sizeof *q->priv);
    if (!q->priv)
        return fail(L, path, 1, "out of memory");
    cJSON_ArrayForEach(it, list) {
        struct extra_private *e = &q->priv[q->npriv];
        const cJSON *m, *cr = NULL, *gr = NULL, *el = NULL;
        unsigned g, b;
        path[1].index = (int)q->npriv;
        if (!cJSON_IsObject(it))
            return fail(L, path, 2, "safe_private entries are objects "
                        "{\"creator\", \"group\", \"element\"}");
        cJSON_ArrayForEach(m, it) {
            path[2].key = m->string;
            if (strcmp(m->string, "creator") == 0)
                cr = m;
            else if (strcmp(m->string, "group") == 0)
                gr = m;
            else if (strcmp(m->string, "element") == 0)
                el = m;
            else
                return fail(L, path, 3, "unknown key \"%s\" in a safe_private entry "
                            "(expected creator, group, element)", m->string);
        }
        path[2].key = "creator";
        if (!cJSON_IsString(cr) || !cr->valuestring[0])
            return fail(L, path, cr ? 3 : 2, "safe_private entry needs a non-empty \"creator\"");
        path[2].key = "group";
        if (!cJSON_IsString(gr) || strlen(gr->valuestring) != 4 ||
            parse_hex(gr->valuestring, 4, &g) || !(g & 1))
            return fail(L, path, gr ? 3 : 2, "safe_private \"group\" must be an odd group, "
                        "4 hex digits (e.g. \"0019\")");
        path[2].key = "element";
        if (!cJSON_IsString(el) || strlen(el->valuestring) != 2 ||
            parse_hex(el->valuestring, 2, &b))
            return fail(L, path, el ? 3 : 2, "safe_private \"element\" must be the element "
                        "byte within the block, 2 hex digits (e.g. \"10\")");
        size_t clen = strlen(cr->valuestring);
        while (clen > 0 && cr->valuestring[clen - 1] == ' ')
            clen--;
        if (!(e->creator = strndup(cr->valuestring, clen)))
            return fail(L, path, 2, "out of memory");
        e->group = (uint16_t)g;
        e->element = (uint8_t)b;
        q->npriv++;
    }
    qsort(q->priv, q->npriv, sizeof *q->priv, private_sort_cmp);
    return 0;
}

/* "pixel_regions": an array whose entries are strings of rectangles "x,y,w,h" (several
 * separated by spaces or ';'), or objects {"x", "y", "w", "h"}. Kept as an array of
 * strings, checked here so that a bad value names its line rather than failing every file. */
static int load_pixel_regions(const struct loader *L, const cJSON *list, deid_policy *q)
{
    struct jstep path[3] = { { "pixel_regions", 0 }, { NULL, 0 }, { NULL, 0 } };
    static const char *const keys[4] = { "x", "y", "w", "h" };
    const cJSON *it;
    size_t total = 0;

    if (!cJSON_IsArray(list))
        return fail(L, path, 1, "\"pixel_regions\" must be an array");
    cJSON *out = cJSON_CreateArray();
    if (!out)
        return fail(L, path, 1, "out of memory");
    int i = 0;
    cJSON_ArrayForEach(it, list) {
        path[1].index = i++;
        char text[64], msg[128];
        const char *rects = NULL;
        if (cJSON_IsString(it)) {
            rects = it->valuestring;
        } else if (cJSON_IsObject(it)) {
            double v[4];
            int seen = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, it) {
                int k = 0;
                while (k < 4 && strcmp(m->string, keys[k]) != 0)
                    k++;
                path[2].key = m->string;
                double d = cJSON_IsNumber(m) ? m->valuedouble : -1;
                /* The range first: a double far out of it has no int to compare with. */
                if (k == 4 || (seen & 1 << k) || !(d >= 0 && d <= 1000000) || d != (int)d) {
                    cJSON_Delete(out);
                    return fail(L, path, 3, k == 4 ? "unknown key \"%s\" in a pixel region "
                                "(expected x, y, w, h)" : "\"%s\" of a pixel region must be "
                                "a whole number from 0 to 1000000, given once", m->string);
                }
                v[k] = d;
                seen |= 1 << k;
            }
            if (seen != 15) {
                cJSON_Delete(out);
                return fail(L, path, 2, "a pixel region needs \"x\", \"y\", \"w\" and \"h\"");
            }
            snprintf(text, sizeof text, "%d,%d,%d,%d", (int)v[0], (int)v[1], (int)v[2], (int)v[3]);
            rects = text;
        } else {
            cJSON_Delete(out);
            return fail(L, path, 2, "pixel_regions entries are \"x,y,w,h\" strings or "
                        "objects {\"x\", \"y\", \"w\", \"h\"}");
        }
        deid_pixsig_rect r[64];
        size_t n = 0;
        if (deid_pixsig_parse_rects(rects, r, 64, &n, msg, sizeof msg) != 0 ||
            (total += n) > DEID_POLICY_MAX_REGIONS) {
            cJSON_Delete(out);
            if (total > DEID_POLICY_MAX_REGIONS)
                return fail(L, path, 2, "more than %d pixel regions", DEID_POLICY_MAX_REGIONS);
            return fail(L, path, 2, "pixel region: %s", msg);
        }
        cJSON *str = cJSON_CreateString(rects);
        if (!str || !cJSON_AddItemToArray(out, str)) {
            cJSON_Delete(str);
            cJSON_Delete(out);
            return fail(L, path, 1, "out of memory");
        }
    }
    q->pixel_regions = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return q->pixel_regions ? 0 : fail(L, path, 1, "out of memory");
}

static int load_selection(const struct loader *L, const cJSON *preset, const cJSON *options,
                          deid_policy *q)
{
    struct jstep path[2] = { { "preset", 0 }, { NULL, 0 } };
    deid_options opts = 0;
    const cJSON *it;
    char msg[200];

    if (preset && !cJSON_IsString(preset))
        return fail(L, path, 1, "\"preset\" must be a string");
    if (preset && preset_index(preset->valuestring) < 0)
        return fail(L, path, 1, "unknown preset \"%s\"", preset->valuestring);
    path[0].key = "options";
    if (options) {
        if (!cJSON_IsArray(options))
            return fail(L, path, 1, "\"options\" must be an array of option names");
        int i = 0;
        cJSON_ArrayForEach(it, options) {
            path[1].index = i++;
            int o = cJSON_IsString(it) ? deid_option_parse(it->valuestring) : -1;
            if (o < 0)
                return fail(L, path, 2, "unknown option %s%s%s (try: deidtk profile --list)",
                            cJSON_IsString(it) ? "\"" : "",
                            cJSON_IsString(it) ? it->valuestring : "(not a string)",
                            cJSON_IsString(it) ? "\"" : "");
            opts |= BIT(o);
        }
    }
    if (resolve_selection(preset ? preset->valuestring : NULL, opts, &q->preset, &q->opts,
                          msg, sizeof msg) != 0)
        return fail(L, path, options ? 1 : 0, "%s", msg);
    return 0;
}

int deid_policy_load_text(deid_policy *p, const char *text, const char *name,
                          char *err, size_t errlen)
{
    struct loader L = { text, name ? name : "policy", err, errlen };
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    deid_policy q = { .opts = p->opts, .preset = p->preset };
    const cJSON *m, *preset = NULL, *options = NULL, *dup;
    int rc = -1;

    if (!root) {
        int line = 1;
        for (const char *c = text; end && c < end && *c; c++)
            line += *c == '\n';
        snprintf(err, errlen, "%s:%d: not valid JSON", L.name, line);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        fail(&L, NULL, 0, "a policy is a JSON object");
        goto out;
    }
    if ((dup = duplicate_member(root))) {
        struct jstep s = { dup->string, 1 };
        fail(&L, &s, 1, "\"%s\" given twice", dup->string);
        goto out;
    }
    cJSON_ArrayForEach(m, root) {
        struct jstep s = { m->string, 0 };
        if (strcmp(m->string, "preset") == 0)
            preset = m;
        else if (strcmp(m->string, "options") == 0)
            options = m;
        else if (strcmp(m->string, "attributes") == 0) {
            if (load_attributes(&L, m, &q) != 0)
                goto out;
        } else if (strcmp(m->string, "safe_private") == 0) {
            if (load_safe_private(&L, m, &q) != 0)
                goto out;
        } else if (strcmp(m->string, "pixel_regions") == 0) {
            if (load_pixel_regions(&L, m, &q) != 0)
                goto out;
        } else {
            fail(&L, &s, 1, "unknown key \"%s\" (expected preset, options, attributes, "
                 "safe_private, pixel_regions)", m->string);
            goto out;
        }
    }
    if ((preset || options) && load_selection(&L, preset, options, &q) != 0)
        goto out;
    if (rebuild_text(&q) != 0) {
        fail(&L, NULL, 0, "out of memory");
        goto out;
    }
    clear_site(p);
    free(p->text);
    *p = q;
    memset(&q, 0, sizeof q);
    rc = 0;
out:
    clear_site(&q);
    free(q.text);
    cJSON_Delete(root);
    return rc;
}

int deid_policy_load_file(deid_policy *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (size_t)16 << 20) {
                snprintf(err, errlen, "%s: larger than 16 MiB, not a policy", path);
                free(buf);
                fclose(f);
                return -1;
            }
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte, not a policy", path);
        free(buf);
        return -1;
    }
    int rc = deid_policy_load_text(p, buf, path, err, errlen);
    free(buf);
    return rc;
}

/* ---- profile rows ---- */

int deid_policy_row(const deid_policy *p, size_t i, deid_row *out)
{
    if (i < deid_table_nrows) {
        const struct deid_trow *r = &deid_table_rows[i];
        const struct override *o = r->mask == 0xFFFFFFFFu ? override_find(p, r->tag) : NULL;
        out->tag = r->tagstr;
        out->name = r->name;
        out->in_table = 1;
        out->retired = r->retired;
        table_decide(p->opts, r, &out->d);
        if (o)
            override_decide(o, &out->d);
        return 0;
    }
    i -= deid_table_nrows;
    if (i < deid_safe_public_nrows) {
        const struct deid_safe_public *s = &deid_safe_public_rows[i];
        out->tag = s->tagstr;
        out->name = "";
        out->in_table = 0;
        out->retired = 0;
        deid_policy_action(p, (uint16_t)(s->tag >> 16), (uint16_t)(s->tag & 0xFFFF), &out->d);
        return 0;
    }
    i -= deid_safe_public_nrows;
    for (size_t k = 0; k < p->novr; k++) {
        if (p->ovr[k].listed)
            continue;
        if (i-- > 0)
            continue;
        out->tag = p->ovr[k].tagstr;
        out->name = "";
        out->in_table = 0;
        out->retired = 0;
        deid_policy_action(p, (uint16_t)(p->ovr[k].tag >> 16),
                           (uint16_t)(p->ovr[k].tag & 0xFFFF), &out->d);
        return 0;
    }
    return -1;
}
