/* seerlog schema */
#include "cmds.h"

#include <errno.h>
#include <string.h>

#include "sl_event.h"

static int sl_schema_run(sl_cli_t *cli);

const sl_cmd_t sl_cmd_schema = {
    .name = "schema",
    .summary = "Print the NodeStateEvent Avro schema built into seerlog",
    .description = "Prints schemas/node_state.avsc as compiled into this binary: the schema that\n"
                   "'publish' writes with and 'tail' reads with.\n",
    .run = sl_schema_run,
};

static int sl_schema_run(sl_cli_t *cli)
{
        const char *text = sl_event_schema_text();
        size_t len = strlen(text);

        if (fputs(text, stdout) == EOF || (len && text[len - 1] != '\n' && putchar('\n') == EOF) ||
            fflush(stdout))
                return sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
        return SL_EXIT_OK;
}
