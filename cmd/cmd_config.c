/* seerlog config [--markdown] */
#include "cmds.h"

#include <errno.h>
#include <string.h>

static int sl_config_run(sl_cli_t *cli);

static const sl_opt_t sl_config_opts[] = {
    {"markdown", 0, NULL, 0, "Print the configuration reference (docs/configuration.md)"},
    {0},
};

const sl_cmd_t sl_cmd_config = {
    .name = "config",
    .summary = "Print the effective configuration, or the configuration reference",
    .usage = "[--markdown] [options]",
    .description =
        "Prints seerlog's properties with their values and where each came from (default,\n"
        "file PATH:LINE, flag), then the librdkafka properties that are set, in the order they\n"
        "are applied. Sensitive values (passwords, secrets) are shown as (redacted).\n",
    .opts = sl_config_opts,
    .run = sl_config_run,
    .help_extra = sl_conf_print_help,
};

static int sl_config_run(sl_cli_t *cli)
{
        if (sl_cli_count(cli, "markdown"))
                sl_conf_print_markdown(stdout);
        else
                sl_conf_print(sl_cli_conf(cli), stdout);
        if (fflush(stdout) || ferror(stdout))
                return sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
        return SL_EXIT_OK;
}
