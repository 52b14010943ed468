/* cli/cmd-run.c — deidtk run. */
#include "config.h"
#include "cli/cmd.h"

int cmd_run(int argc, char **argv)
{
    if (cmd_common_flag("run", argc, argv))
        return 0;
    return cmd_unimplemented("run");
}
