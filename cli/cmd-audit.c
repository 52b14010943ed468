/* cli/cmd-audit.c — deidtk audit. */
#include "config.h"
#include "cli/cmd.h"

int cmd_audit(int argc, char **argv)
{
    if (cmd_common_flag("audit", argc, argv))
        return 0;
    return cmd_unimplemented("audit");
}
