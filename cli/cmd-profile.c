/* cli/cmd-profile.c — deidtk profile: the effective action of every attribute, and the
 * options and presets there are to choose from. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "deid/policy.h"

static int fail(const char *msg)
{
    cmd_error("profile", msg);
    return EXIT_USAGE;
}

/* The option-or-table column a person reads: "option retain-device-identity". */
static void why(const deid_decision *d, char *buf, size_t len)
{
    if (d->source == DEID_SRC_OPTION)
        snprintf(buf, len, "option %s", deid_option_name(d->option));
    else if (d->source == DEID_SRC_SAFE_PUBLIC)
        snprintf(buf, len, "safe-public: %s", d->note);
    else
        snprintf(buf, len, "%s", deid_source_name(d->source));
}

static int print_json(cJSON *root)
{
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s)
        return fail("out of memory");
    puts(s);
    cJSON_free(s);
    return fflush(stdout) == 0 ? 0 : fail("cannot write the output");
}

static int list_text(void)
{
    printf("Options (--option NAME, repeatable):\n");
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        printf("  %-32s %s\n", deid_option_name(o), deid_option_description(o));
    printf("\nPresets (--preset NAME; default %s):\n", DEID_DEFAULT_PRESET);
    const char *desc;
    const char *name;
    for (size_t i = 0; (name = deid_preset_name(i, &desc, NULL)); i++)
        printf("  %-32s %s\n", name, desc);
    return fflush(stdout) == 0 ? 0 : fail("cannot write the output");
}

static cJSON *options_array(deid_options opts)
{
    cJSON *a = cJSON_CreateArray();
    for (int o = 0; a && o < DEID_OPT_COUNT; o++)
        if (opts & DEID_OPTION_BIT(o))
            cJSON_AddItemToArray(a, cJSON_CreateString(deid_option_name(o)));
    return a;
}

static int list_json(void)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *opts = cJSON_AddArrayToObject(root, "options");
    cJSON *pres = cJSON_AddArrayToObject(root, "presets");
    for (int o = 0; opts && o < DEID_OPT_COUNT; o++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "name", deid_option_name(o));
        cJSON_AddStringToObject(it, "description", deid_option_description(o));
        cJSON_AddItemToArray(opts, it);
    }
    const char *desc, *name;
    deid_options set;
    for (size_t i = 0; pres && (name = deid_preset_name(i, &desc, &set)); i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "name", name);
        cJSON_AddStringToObject(it, "description", desc);
        cJSON_AddItemToObject(it, "options", options_array(set));
        cJSON_AddBoolToObject(it, "default", strcmp(name, DEID_DEFAULT_PRESET) == 0);
        cJSON_AddItemToArray(pres, it);
    }
    return print_json(root);
}

static int profile_text(const deid_policy *p, int all)
{
    const char *preset = deid_policy_preset(p);
    char reason[256];
    deid_row r;

    printf("# preset %s; options:", preset ? preset : "-");
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        if (deid_policy_options(p) & DEID_OPTION_BIT(o))
            printf(" %s", deid_option_name(o));
    printf("\n# policy sha256 %s\n", deid_policy_hash(p));
    printf("%-12s %-48s %-15s %-15s %s\n", "TAG", "KEYWORD", "BASIC", "ACTION", "WHY");
    for (size_t i = 0; deid_policy_row(p, i, &r) == 0; i++) {
        if (!all && !r.in_table)
            break;
        why(&r.d, reason, sizeof reason);
        printf("%-12s %-48s %-15s %-15s %s\n", r.tag, *r.d.keyword ? r.d.keyword : "-",
               deid_action_name(r.d.basic), deid_action_name(r.d.action), reason);
    }
    return fflush(stdout) == 0 ? 0 : fail("cannot write the output");
}

static int profile_json(const deid_policy *p, int all)
{
    cJSON *root = cJSON_CreateObject();
    const char *preset = deid_policy_preset(p);
    deid_row r;

    if (preset)
        cJSON_AddStringToObject(root, "preset", preset);
    else
        cJSON_AddNullToObject(root, "preset");
    cJSON_AddItemToObject(root, "options", options_array(deid_policy_options(p)));
    cJSON_AddStringToObject(root, "policy_sha256", deid_policy_hash(p));
    cJSON *rows = cJSON_AddArrayToObject(root, "attributes");
    for (size_t i = 0; rows && deid_policy_row(p, i, &r) == 0; i++) {
        if (!all && !r.in_table)
            break;
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "tag", r.tag);
        cJSON_AddStringToObject(it, "keyword", r.d.keyword);
        cJSON_AddStringToObject(it, "name", r.name);
        cJSON_AddBoolToObject(it, "in_table", r.in_table);
        cJSON_AddBoolToObject(it, "retired", r.retired);
        cJSON_AddStringToObject(it, "basic", deid_action_name(r.d.basic));
        cJSON_AddStringToObject(it, "action", deid_action_name(r.d.action));
        cJSON_AddStringToObject(it, "source", deid_source_name(r.d.source));
        if (r.d.source == DEID_SRC_OPTION)
            cJSON_AddStringToObject(it, "option", deid_option_name(r.d.option));
        if (r.d.value)
            cJSON_AddStringToObject(it, "value", r.d.value);
        if (r.d.note)
            cJSON_AddStringToObject(it, "note", r.d.note);
        cJSON_AddItemToArray(rows, it);
    }
    return print_json(root);
}

/* "--name VALUE" or "--name=VALUE"; NULL when argv[*i] is not --name. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int cmd_profile(int argc, char **argv)
{
    if (cmd_common_flag("profile", argc, argv))
        return 0;
    const char *preset = NULL, *policy_file = NULL, *v;
    deid_options opts = 0;
    int list = 0, json = 0, all = 0, missing = 0;
    char msg[512];

    for (int i = 1; i < argc; i++) {
        if ((v = opt_value(argc, argv, &i, "--preset", &missing)))
            preset = v;
        else if ((v = opt_value(argc, argv, &i, "--policy", &missing)))
            policy_file = v;
        else if ((v = opt_value(argc, argv, &i, "--option", &missing))) {
            int o = deid_option_parse(v);
            if (o < 0) {
                snprintf(msg, sizeof msg, "unknown option \"%s\" (see: deidtk profile --list)", v);
                return fail(msg);
            }
            opts |= DEID_OPTION_BIT(o);
        } else if (missing) {
            snprintf(msg, sizeof msg, "%s needs a value", argv[i]);
            return fail(msg);
        } else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else {
            snprintf(msg, sizeof msg, "unexpected argument \"%s\" (see: deidtk profile --help)",
                     argv[i]);
            return fail(msg);
        }
    }
    if (list)
        return json ? list_json() : list_text();

    deid_policy *p = deid_policy_new();
    if (!p)
        return fail("out of memory");
    int rc = 0;
    if (policy_file && deid_policy_load_file(p, policy_file, msg, sizeof msg) != 0)
        rc = fail(msg);
    /* The command line's selection replaces the policy file's. */
    if (rc == 0 && (preset || opts) && deid_policy_select(p, preset, opts, msg, sizeof msg) != 0)
        rc = fail(msg);
    if (rc == 0)
        rc = json ? profile_json(p, all) : profile_text(p, all);
    deid_policy_free(p);
    return rc;
}
