/* cli/cmd-profile.c — deidtk profile. */
#include "config.h"
#include "cli/cmd.h"

int cmd_profile(int argc, char **argv)
{
    if (cmd_common_flag("profile", argc, argv))
        return 0;
    return cmd_unimplemented("profile");
}
