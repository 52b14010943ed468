/* cli/cmd-dump.c — deidtk dump: every element's path, VR and value. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli/cmd.h"
#include "dicom/dcm.h"

struct dump_ctx {
    FILE *out;
    int meta;
};

static int dump_elem(const dcm_elem *e, void *ud)
{
    struct dump_ctx *c = ud;
    if (e->is_meta && !c->meta)
        return 0;
    fprintf(c->out, "%s %s", e->path, e->vr);
    if (e->creator)
        fprintf(c->out, " {%s}", e->creator);
    const char *keyword = dcm_keyword(e->group, e->element);
    if (*keyword)
        fprintf(c->out, " %s", keyword);
    if (strcmp(e->vr, "SQ") == 0)
        fprintf(c->out, " <%d items>", e->nitems);
    else if (e->value) {
        fputs(" = ", c->out);
        cmd_put_text(c->out, e->value);
    } else
        fprintf(c->out, " <%zu bytes>", e->length);
    fputc('\n', c->out);
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    if (cmd_common_flag("dump", argc, argv))
        return 0;
    struct dump_ctx ctx = {stdout, 1};
    int first = 1, failed = 0, files = 0;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--no-meta") == 0)
            ctx.meta = 0;
        else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else {
            fprintf(stderr, "deidtk dump: unknown option '%s'\n", argv[first]);
            return cmd_usage("dump");
        }
    }
    if (first >= argc)
        return cmd_usage("dump");
    for (int i = first; i < argc; i++) {
        char err[512];
        dcm_file *f;
        files++;
        if (dcm_open(argv[i], &f, err, sizeof err) != DCM_OK) {
            cmd_error("dump", err);
            failed++;
            continue;
        }
        if (argc - first > 1)
            printf("# %s\n", argv[i]);
        if (dcm_walk(f, dump_elem, &ctx, err, sizeof err) != DCM_OK) {
            cmd_error("dump", err);
            failed++;
        }
        dcm_close(f);
    }
    fflush(stdout);
    return failed ? EXIT_UNREADABLE : 0;
}
