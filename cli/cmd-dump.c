/* cli/cmd-dump.c — deidtk dump: every element's path, VR and value. */
#include "config.h"
#include "cli/cmd.h"

int cmd_dump(int argc, char **argv)
{
    if (cmd_common_flag("dump", argc, argv))
        return 0;
    return cmd_unimplemented("dump");
}
