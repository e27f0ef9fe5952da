/* seerlog help [SUBCOMMAND] */
#include "cmds.h"

static int sl_help_run(sl_cli_t *cli);

const sl_cmd_t sl_cmd_help = {
    .name = "help",
    .summary = "Show the help of a subcommand",
    .usage = "[SUBCOMMAND]",
    .run = sl_help_run,
    .max_args = 1,
};

static int sl_help_run(sl_cli_t *cli)
{
        const char *name = sl_cli_arg(cli, 0);

        if (!name) {
                sl_cli_print_help(cli, NULL, stdout);
                return SL_EXIT_OK;
        }
        if (!sl_cli_print_cmd_help(cli, name, stdout))
                return sl_cli_usage_error(cli, "unknown subcommand '%s'", name);
        return SL_EXIT_OK;
}
