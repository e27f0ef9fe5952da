/*
 * seerlog: one binary, git/kcat-like subcommands. A new subcommand is a file defining an
 * sl_cmd_t (see cli.h), a line in cmds.h and a line in the table below.
 */
#include "cmds.h"

static const sl_cmd_t *const sl_cmds[] = {
    &sl_cmd_agent,    &sl_cmd_bridge,   &sl_cmd_simulate, &sl_cmd_bench,  &sl_cmd_project,
    &sl_cmd_state,    &sl_cmd_watch,    &sl_cmd_top,      &sl_cmd_replay, &sl_cmd_verify,
    &sl_cmd_snapshot, &sl_cmd_export,   &sl_cmd_publish,  &sl_cmd_tail,   &sl_cmd_history,
    &sl_cmd_schema,   &sl_cmd_registry, &sl_cmd_control,  &sl_cmd_config, &sl_cmd_help,
};

int main(int argc, char **argv)
{
        return sl_cli_main(argc, argv, sl_cmds, sizeof(sl_cmds) / sizeof(sl_cmds[0]));
}
