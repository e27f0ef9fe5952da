/* seerlog state: the fleet's state, from a projector's API (a table, one node) or its store. */
#include "cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sl_store.h"
#include "views.h"

static int sl_state_run(sl_cli_t *cli);

static const sl_opt_t sl_state_opts[] = {
    {"url", 0, "URL", 0, "The projector's API (sets api.url; default http://127.0.0.1:8080)"},
    {"region", 0, "R", 0, "Only nodes of region R"},
    {"type", 0, "T", 0, "Only nodes of node type T"},
    {"status", 0, "S", 0,
     "Only nodes with status S (up, degraded, draining, down, left, maintenance, unknown)"},
    {"source", 0, "SRC", 0, "Only nodes whose state came from SRC (agent, bridge, unknown)"},
    {"liveness", 0, "L", 0,
     "Only nodes in liveness state L (alive, suspect, dead, left, missing, unknown)"},
    {"label", 0, "K=V", SL_OPT_REPEAT, "Only nodes with label K=V (all must hold)"},
    {"sort", 0, "ORDER", 0, "node_id (default), -node_id, last_seen, -last_seen (newest first)"},
    {"limit", 0, "N", 0, "At most N nodes in all (default: every node)"},
    {"output", 'o', "FORMAT", 0, "table (default), wide (more columns) or json (NODE per line)"},
    {"store", 0, "DIR", 0, "Read the store in DIR instead (hash, get NODE, list)"},
    {0},
};

const sl_cmd_t sl_cmd_state = {
    .name = "state",
    .summary = "Show the fleet's state: from a projector's API, or read its store",
    .usage = "[NODE] [--url URL] [filters] [-o table|wide|json]\n"
             "       seerlog state hash|get NODE|list [--store DIR]",
    .description =
        "Two sources, chosen by the arguments:\n"
        "  - with --store DIR, or when the first argument is hash, get or list and --url is\n"
        "    not given: the store a 'seerlog project' wrote (see below);\n"
        "  - otherwise: the HTTP API of a running projector at --url (default api.url). With\n"
        "    --url the argument is always a node id (so a node named 'list' is\n"
        "    'seerlog state list --url URL').\n"
        "\n"
        "From the API (docs/api.md):\n"
        "  state        every node (or those that match the filters) as a table: NODE, TYPE,\n"
        "               REGION, STATUS, LIVENESS, LAST SEEN (how long ago it was last heard\n"
        "               from; '-' if never), CPU and MEM (used, in percent of the total; '-'\n"
        "               without usage). -o wide adds CLUSTER, INCARNATION, SEQ, SOURCE and\n"
        "               LABELS; -o json prints the API's NODE objects, one per line. Follows\n"
        "               the API's pages to the end, or to --limit nodes.\n"
        "  state NODE   one node: its state, liveness, last heard, labels, services and usage\n"
        "               as 'key: value' lines, or its NODE object with -o json. Exit 1 if the\n"
        "               node is unknown.\n"
        "An unreachable API or an HTTP error exits 1 with the reason (the API's message); a\n"
        "bad filter value the API refuses exits 2.\n"
        "\n"
        "From the store (opened read-only, so a projector may be running on it; what is\n"
        "shown is one committed state of it; --store defaults to store.dir):\n"
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

static int sl_state_store_run(sl_cli_t *cli)
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
        /* Read-only, beside a projector that may be writing it; one consistent view. */
        if (sl_store_open_flags(store, 1, SL_STORE_READONLY, &s, errstr, sizeof(errstr)) ||
            sl_store_pin(s, errstr, sizeof(errstr))) {
                sl_store_close(s);
                return sl_cli_fail(cli, "%s", errstr);
        }
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

/* ---- From the API ---- */

enum { SL_STATE_TABLE, SL_STATE_WIDE, SL_STATE_JSON };

/* A page of the API holds at most this many nodes. */
#define SL_STATE_PAGE_MAX 1000

/* The options that only the API views take. */
static const char *const sl_state_api_opts[] = {"url",    "region",   "type",  "status",
                                                "source", "liveness", "label", "sort",
                                                "limit",  "output",   NULL};

/* Appends "&NAME=VALUE" (VALUE percent-encoded) to @p q. @returns -1 when out of memory. */
static int sl_state_query_add(char **q, const char *name, const char *value)
{
        char *esc = sl_apic_escape(value), *tmp = NULL;
        int n;

        if (!esc)
                return -1;
        n = asprintf(&tmp, "%s&%s=%s", *q, name, esc);
        free(esc);
        if (n < 0)
                return -1;
        free(*q);
        *q = tmp;
        return 0;
}

/* The query of /v1/nodes for the filters and the order given ("?x=1&..." without limit). */
static int sl_state_query(sl_cli_t *cli, char **qp)
{
        static const char *const filters[] = {"region",   "type", "status", "source",
                                              "liveness", "sort", NULL};
        char *q = strdup("");
        int ret = 0;

        *qp = NULL;
        for (size_t i = 0; q && filters[i] && !ret; i++) {
                const char *v = sl_cli_str(cli, filters[i]);

                if (v && !*v)
                        ret = sl_cli_usage_error(cli, "--%s: expected a value", filters[i]);
                else if (v && sl_state_query_add(&q, filters[i], v))
                        ret = sl_cli_fail(cli, "out of memory");
        }
        for (size_t i = 0; q && !ret && i < sl_cli_count(cli, "label"); i++) {
                const char *kv = sl_cli_nth(cli, "label", i), *eq = strchr(kv, '=');

                if (!eq || eq == kv)
                        ret = sl_cli_usage_error(cli, "--label %s: expected KEY=VALUE", kv);
                else if (sl_state_query_add(&q, "label", kv))
                        ret = sl_cli_fail(cli, "out of memory");
        }
        if (!q)
                return sl_cli_fail(cli, "out of memory");
        if (ret) {
                free(q);
                return ret;
        }
        *qp = q;
        return 0;
}

static int sl_state_list(sl_cli_t *cli, sl_apic_t *c, int fmt)
{
        char errstr[512], *query = NULL, *cursor = NULL, *path = NULL;
        int64_t limit, total = 0, now = sl_cli_now_ms();
        json_t *body = NULL;
        sl_table_t t;
        int ret;
        sl_err_t err;

        sl_table_init(&t, fmt == SL_STATE_WIDE ? SL_VIEW_NODE_COLS_WIDE : SL_VIEW_NODE_COLS,
                      sl_view_node_header);
        if ((ret = sl_cli_int(cli, "limit", 0, 1, INT64_MAX, &limit)) ||
            (ret = sl_state_query(cli, &query)))
                goto done;
        for (;;) {
                int64_t page =
                    limit && limit - total < SL_STATE_PAGE_MAX ? limit - total : SL_STATE_PAGE_MAX;
                char *esc = cursor ? sl_apic_escape(cursor) : NULL;
                const json_t *nodes, *node, *next;
                size_t i;
                int n;

                free(path);
                path = NULL;
                n = (cursor && !esc) ? -1
                                     : asprintf(&path, "/v1/nodes?limit=%" PRId64 "%s%s%s", page,
                                                query, esc ? "&cursor=" : "", esc ? esc : "");
                free(esc);
                if (n < 0) {
                        path = NULL;
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
                json_decref(body);
                if ((err = sl_apic_get_json(c, path, &body, NULL, errstr, sizeof(errstr)))) {
                        ret = sl_view_api_fail(cli, err, errstr);
                        goto done;
                }
                if (!json_is_array(nodes = json_object_get(body, "nodes"))) {
                        ret = sl_cli_fail(cli, "%s%s: the answer has no \"nodes\"", sl_apic_url(c),
                                          path);
                        goto done;
                }
                json_array_foreach(nodes, i, node)
                {
                        if (fmt == SL_STATE_JSON) {
                                if (json_dumpf(node, stdout, JSON_COMPACT) ||
                                    fputc('\n', stdout) == EOF) {
                                        ret = sl_cli_fail(cli, "writing to stdout failed");
                                        goto done;
                                }
                        } else if (sl_view_node_row(&t, node, fmt == SL_STATE_WIDE, now)) {
                                ret = sl_cli_fail(cli, "out of memory");
                                goto done;
                        }
                        total++;
                }
                free(cursor);
                cursor = NULL;
                next = json_object_get(body, "next_cursor");
                if (!json_is_string(next) || !json_array_size(nodes) || (limit && total >= limit))
                        break;
                if (!(cursor = strdup(json_string_value(next)))) {
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
        }
        if (fmt != SL_STATE_JSON) {
                if (total)
                        sl_table_print(&t, stdout, 0);
                else
                        fprintf(stderr, "No nodes.\n");
        }
        if (fflush(stdout))
                ret = sl_cli_fail(cli, "writing to stdout failed");
done:
        json_decref(body);
        sl_table_free(&t);
        free(cursor);
        free(path);
        free(query);
        return ret;
}

/* "1.6 GiB" */
static void sl_state_bytes(char *buf, size_t size, double b)
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        size_t u = 0;

        while (b >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
                b /= 1024;
                u++;
        }
        snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

/* "when (age ago)" for a time in ms, or "never". */
static void sl_state_when(char *buf, size_t size, const json_t *ms, int64_t now)
{
        char t[40], age[32];

        if (!json_is_integer(ms) || json_integer_value(ms) < 0) {
                snprintf(buf, size, "never");
                return;
        }
        sl_view_time(t, sizeof(t), json_integer_value(ms));
        sl_view_age(age, sizeof(age), now - json_integer_value(ms));
        snprintf(buf, size, "%s (%s ago)", t, age);
}

static void sl_state_kv(const char *key, const char *value)
{
        printf("%-17s %s\n", key, value);
}

static void sl_state_usage_print(const json_t *usage, const char *prefix)
{
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)usage, key, v)
        {
                char name[128], val[128], human[32];
                size_t len = strlen(key);

                if (json_is_object(v)) {
                        snprintf(name, sizeof(name), "%s%s.", prefix, key);
                        sl_state_usage_print(v, name);
                        continue;
                }
                snprintf(name, sizeof(name), "  %s%s:", prefix, key);
                sl_view_scalar(val, sizeof(val), v);
                if (json_is_number(v) && len > 6 &&
                    (!strcmp(key + len - 6, "_total") || !strcmp(key + len - 5, "_used") ||
                     (len > 10 && !strcmp(key + len - 10, "_available")))) {
                        sl_state_bytes(human, sizeof(human), json_number_value(v));
                        printf("%-17s %s (%s)\n", name, val, human);
                } else {
                        sl_state_kv(name, val);
                }
        }
}

static int sl_state_detail(sl_cli_t *cli, sl_apic_t *c, const char *node_id, int fmt)
{
        static const char *const fields[][2] = {
            {"Node:", "node_id"},       {"Type:", "node_type"},    {"Region:", "region"},
            {"Cluster:", "cluster"},    {"Hostname:", "hostname"}, {"Status:", "status"},
            {"Event kind:", "kind"},    {"Event id:", "event_id"}, {"Source:", "source"},
            {"Agent:", "agent_version"}};
        char errstr[512], buf[256], *esc = sl_apic_escape(node_id), *path = NULL, *labels = NULL;
        const json_t *state, *v, *svc;
        int64_t now = sl_cli_now_ms();
        json_t *node = NULL;
        int ret = SL_EXIT_OK;
        sl_err_t err;
        size_t i;

        if (!esc || asprintf(&path, "/v1/nodes/%s", esc) < 0) {
                path = NULL;
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if ((err = sl_apic_get_json(c, path, &node, NULL, errstr, sizeof(errstr)))) {
                ret = sl_view_api_fail(cli, err, errstr);
                goto done;
        }
        if (fmt == SL_STATE_JSON) {
                if (json_dumpf(node, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF)
                        ret = sl_cli_fail(cli, "writing to stdout failed");
                goto done;
        }
        state = json_object_get(node, "state");
        for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                sl_view_scalar(buf, sizeof(buf), json_object_get(state, fields[i][1]));
                sl_state_kv(fields[i][0], buf);
        }
        sl_view_scalar(buf, sizeof(buf), json_object_get(state, "incarnation"));
        sl_state_kv("Incarnation:", buf);
        sl_view_scalar(buf, sizeof(buf), json_object_get(state, "seq"));
        sl_state_kv("Seq:", buf);
        sl_state_when(buf, sizeof(buf), json_object_get(state, "event_time"), now);
        sl_state_kv("Event time:", buf);
        v = json_object_get(node, "liveness_since_ms");
        if (json_is_integer(v) && json_integer_value(v) > 0) {
                char since[40], age[32];

                sl_view_time(since, sizeof(since), json_integer_value(v));
                sl_view_age(age, sizeof(age), now - json_integer_value(v));
                snprintf(buf, sizeof(buf), "%s for %s (since %s)", sl_view_str(node, "liveness"),
                         age, since);
        } else {
                snprintf(buf, sizeof(buf), "%s", sl_view_str(node, "liveness"));
        }
        sl_state_kv("Liveness:", buf);
        sl_state_when(buf, sizeof(buf), json_object_get(node, "last_heard_ms"), now);
        sl_state_kv("Last heard:", buf);
        printf("%-17s", "Addresses:");
        json_array_foreach(json_object_get(state, "addresses"), i, v)
            printf("%s%s", i ? ", " : " ", json_string_value(v) ? json_string_value(v) : "?");
        printf("%s\n", json_array_size(json_object_get(state, "addresses")) ? "" : " -");
        if (!(labels = sl_view_labels(json_object_get(state, "labels"), ", "))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        sl_state_kv("Labels:", labels);
        printf("Services:%s\n",
               json_array_size(json_object_get(state, "services")) ? "" : "         -");
        json_array_foreach(json_object_get(state, "services"), i, svc)
        {
                const char *key;

                printf("  %s", sl_view_str(svc, "name"));
                json_object_foreach(json_object_get(svc, "meta"), key, v)
                    printf(" %s=%s", key, json_string_value(v) ? json_string_value(v) : "?");
                printf("\n");
        }
        v = json_object_get(state, "usage");
        printf("Usage:%s\n", json_is_object(v) ? "" : "            -");
        if (json_is_object(v)) {
                char cpu[16], mem[16];

                sl_view_cpu(cpu, sizeof(cpu), v);
                sl_view_mem(mem, sizeof(mem), v);
                snprintf(buf, sizeof(buf), "cpu %s, mem %s", cpu, mem);
                sl_state_kv("  summary:", buf);
                sl_state_usage_print(v, "");
        }
        if (fflush(stdout))
                ret = sl_cli_fail(cli, "writing to stdout failed");
done:
        json_decref(node);
        free(labels);
        free(path);
        free(esc);
        return ret;
}

static int sl_state_is_store_word(const char *arg)
{
        return arg && (!strcmp(arg, "hash") || !strcmp(arg, "get") || !strcmp(arg, "list"));
}

static int sl_state_run(sl_cli_t *cli)
{
        const char *out = sl_cli_str(cli, "output");
        int argc = sl_cli_argc(cli), fmt, ret;
        sl_apic_t *c = NULL;

        if (sl_cli_str(cli, "store") ||
            (!sl_cli_count(cli, "url") && sl_state_is_store_word(sl_cli_arg(cli, 0)))) {
                for (size_t i = 0; sl_state_api_opts[i]; i++)
                        if (sl_cli_count(cli, sl_state_api_opts[i]))
                                return sl_cli_usage_error(cli,
                                                          "--%s is for the API (--url); the "
                                                          "store (hash, get, list) takes --store",
                                                          sl_state_api_opts[i]);
                return sl_state_store_run(cli);
        }
        if (argc > 1)
                return sl_cli_usage_error(cli, "unexpected argument '%s' (expected one node id)",
                                          sl_cli_arg(cli, 1));
        if (!out || !strcmp(out, "table"))
                fmt = SL_STATE_TABLE;
        else if (!strcmp(out, "wide"))
                fmt = SL_STATE_WIDE;
        else if (!strcmp(out, "json"))
                fmt = SL_STATE_JSON;
        else
                return sl_cli_usage_error(cli, "-o %s: expected table, wide or json", out);
        if (argc == 1) {
                static const char *const list_only[] = {"region", "type",     "status",
                                                        "source", "liveness", "label",
                                                        "sort",   "limit",    NULL};

                for (size_t i = 0; list_only[i]; i++)
                        if (sl_cli_count(cli, list_only[i]))
                                return sl_cli_usage_error(
                                    cli, "--%s filters the list; it does not go with a node id",
                                    list_only[i]);
        }
        if ((ret = sl_view_client(cli, &c)))
                return ret;
        ret = argc == 1 ? sl_state_detail(cli, c, sl_cli_arg(cli, 0), fmt)
                        : sl_state_list(cli, c, fmt);
        sl_apic_destroy(c);
        return ret;
}
