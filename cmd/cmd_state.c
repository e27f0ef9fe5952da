/* seerlog state: read a projector's store (hash, one node, every node). */
#include "cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sl_store.h"

static int sl_state_run(sl_cli_t *cli);

static const sl_opt_t sl_state_opts[] = {
    {"store", 0, "DIR", 0, "Store directory (default: store.dir)"},
    {0},
};

const sl_cmd_t sl_cmd_state = {
    .name = "state",
    .summary = "Read a projector's store: its hash, a node, every node",
    .usage = "hash|get NODE|list --store DIR [options]",
    .description =
        "Reads the store a 'seerlog project' wrote (the projector must not be running on it:\n"
        "a store is opened by one process at a time).\n"
        "\n"
        "  hash       the canonical SHA-256 of the node states (offsets left out): two stores\n"
        "             that applied the same events, in any order and with any duplicates,\n"
        "             print the same hash\n"
        "  get NODE   the node's latest state as one JSON object (exit 1 if unknown)\n"
        "  list       every node's state, one JSON object per line, in node id order\n",
    .opts = sl_state_opts,
    .run = sl_state_run,
    .max_args = 2,
};

static int sl_state_print(const char *node_id, const sl_event_t *ev, void *opaque)
{
        json_t *obj = sl_event_to_json(ev);
        int rc;

        (void)node_id;
        (void)opaque;
        if (!obj)
                return SL_ERR_NOMEM;
        rc = json_dumpf(obj, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF;
        json_decref(obj);
        return rc ? SL_ERR_IO : 0;
}

static int sl_state_run(sl_cli_t *cli)
{
        const char *store = sl_cli_str(cli, "store"), *what;
        char errstr[512] = "", hash[SL_STORE_HASH_HEX_SIZE];
        int argc = sl_cli_argc(cli), ret = SL_EXIT_OK;
        sl_event_t *ev = NULL;
        sl_store_t *s = NULL;
        sl_err_t err;

        if (argc < 1)
                return sl_cli_usage_error(cli, "expected what to read: hash, get NODE or list");
        what = sl_cli_arg(cli, 0);
        if (strcmp(what, "hash") && strcmp(what, "get") && strcmp(what, "list"))
                return sl_cli_usage_error(cli, "unknown '%s' (expected hash, get NODE or list)",
                                          what);
        if (!strcmp(what, "get") != (argc == 2))
                return sl_cli_usage_error(
                    cli, !strcmp(what, "get") ? "get: expected a node id" : "%s takes no argument",
                    what);
        if (!store || !*store)
                store = sl_conf_get(sl_cli_conf(cli), "store.dir");
        if (!store || !*store)
                return sl_cli_usage_error(cli, "--store DIR is required (or set store.dir)");
        if (sl_store_open(store, sl_conf_get_int(sl_cli_conf(cli), "store.max.bytes"), &s, errstr,
                          sizeof(errstr)))
                return sl_cli_fail(cli, "%s", errstr);
        if (!strcmp(what, "hash")) {
                if ((err = sl_store_hash(s, hash, errstr, sizeof(errstr))))
                        ret = sl_cli_fail(cli, "%s", errstr);
                else
                        printf("%s\n", hash);
        } else if (!strcmp(what, "get")) {
                if (!(ev = sl_event_new()))
                        ret = sl_cli_fail(cli, "out of memory");
                else if ((err =
                              sl_store_node_get(s, sl_cli_arg(cli, 1), ev, errstr, sizeof(errstr))))
                        ret = sl_cli_fail(cli, "%s", errstr);
                else if (sl_state_print(NULL, ev, NULL))
                        ret = sl_cli_fail(cli, "writing to stdout failed");
        } else if ((err = sl_store_walk(s, sl_state_print, NULL, errstr, sizeof(errstr)))) {
                /* The printer's own failures leave errstr empty. */
                ret = sl_cli_fail(cli, "%s",
                                  errstr[0]             ? errstr
                                  : err == SL_ERR_NOMEM ? "out of memory"
                                                        : "writing to stdout failed");
        }
        sl_event_destroy(ev);
        sl_store_close(s);
        return ret;
}
