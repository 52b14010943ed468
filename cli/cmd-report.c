/* cli/cmd-report.c — deidtk report. */
#include "config.h"
#include "cli/cmd.h"

int cmd_report(int argc, char **argv)
{
    if (cmd_common_flag("report", argc, argv))
        return 0;
    return cmd_unimplemented("report");
}
