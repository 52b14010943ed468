/* cli/cmd-keygen.c — deidtk keygen. */
#include "config.h"
#include "cli/cmd.h"

int cmd_keygen(int argc, char **argv)
{
    if (cmd_common_flag("keygen", argc, argv))
        return 0;
    return cmd_unimplemented("keygen");
}
