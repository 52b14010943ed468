/* cli/deidtk.c — entry point: dispatches argv[1] through the subcommand table. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli/cmd.h"
#include "ocr/ocr.h"

const struct cmd cmd_table[] = {
    {"run", cmd_run, "run INPUT... -o OUTDIR [options]", "de-identify, verify each output, report, gate"},
    {"verify", cmd_verify, "verify DIR... [--originals DIR] [--key FILE] [options]", "inspect a dataset's tags and pixels, report, gate"},
    {"report", cmd_report, "report REPORT.json... -o FILE [--fail-on S] [--show-values] [--audit TRAIL] [--manifest FILE]",
     "render HTML, merge shard reports, write the release manifest"},
    {"audit", cmd_audit, "audit SUBCOMMAND [options]", "query and check the audit trail, record reviews"},
    {"profile", cmd_profile, "profile [--preset NAME] [--option NAME]... [--policy FILE] [--all] [--list] [--json]", "print the effective action for every attribute"},
    {"keygen", cmd_keygen, "keygen -o FILE", "make a pseudonymization key"},
    {"dump", cmd_dump, "dump FILE...", "print every element's path, VR and value"},
    {NULL, NULL, NULL, NULL}
};

static void usage_all(FILE *out)
{
    fprintf(out, "usage: deidtk COMMAND [ARGS]\n\ncommands:\n");
    for (const struct cmd *c = cmd_table; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out, "\n'deidtk COMMAND --help' for a command's usage; man deidtk for more.\n");
}

int cmd_usage(const char *name)
{
    for (const struct cmd *c = cmd_table; c->name; c++)
        if (strcmp(c->name, name) == 0)
            fprintf(stderr, "usage: deidtk %s\n", c->usage);
    return EXIT_USAGE;
}

int cmd_common_flag(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 0;
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        for (const struct cmd *c = cmd_table; c->name; c++)
            if (strcmp(c->name, name) == 0)
                printf("usage: deidtk %s\n%s\n", c->usage, c->summary);
        return 1;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("deidtk %s %s\n", name, PACKAGE_VERSION);
        return 1;
    }
    return 0;
}

void cmd_put_text(FILE *fp, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '\n')
            fputs("\\n", fp);
        else if (*c == '\r')
            fputs("\\r", fp);
        else if (*c == '\t')
            fputs("\\t", fp);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(fp, "\\x%02x", *c);
        else
            fputc(*c, fp);
    }
}

void cmd_error(const char *name, const char *msg)
{
    fprintf(stderr, "deidtk %s: ", name);
    cmd_put_text(stderr, msg);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    ocr_global_init();
    if (argc < 2) {
        usage_all(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_all(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("deidtk %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (const struct cmd *c = cmd_table; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "deidtk: unknown command '%s'\n", argv[1]);
    usage_all(stderr);
    return EXIT_USAGE;
}
