/* cli/cmd-verify.c — deidtk verify. */
#include "config.h"
#include "cli/cmd.h"

int cmd_verify(int argc, char **argv)
{
    if (cmd_common_flag("verify", argc, argv))
        return 0;
    return cmd_unimplemented("verify");
}
