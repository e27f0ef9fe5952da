/* seerlog watch: the changes of the fleet as they happen, from a projector's /v1/watch. */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "views.h"

static int sl_watch_run(sl_cli_t *cli);

static const sl_opt_t sl_watch_opts[] = {
    {"url", 0, "URL", 0, "The projector's API (sets api.url; default http://127.0.0.1:8080)"},
    {"region", 0, "R", 0, "Only events of nodes of region R"},
    {"type", 0, "T", 0, "Only events of nodes of node type T"},
    {"output", 'o', "FORMAT", 0, "text (default: one line per event) or json"},
    {0},
};

const sl_cmd_t sl_cmd_watch = {
    .name = "watch",
    .summary = "Print the fleet's changes as they happen (a projector's watch stream)",
    .usage = "[--url URL] [--region R] [--type T] [-o text|json]",
    .description =
        "Follows the Server-Sent Events of /v1/watch on the projector's API at --url (default\n"
        "api.url) and prints one line per event on stdout, from the moment of connecting:\n"
        "  TIME  state     NODE  status up -> down (KIND)\n"
        "  TIME  liveness  NODE  liveness suspect -> dead\n"
        "TIME is the event's own time (the state's event time, or when the liveness changed),\n"
        "UTC. A state line shows the status the node had in the last event seen, if any.\n"
        "-o json prints one JSON object per event: {\"event\": \"state\"|\"liveness\"|...,\n"
        "\"id\": N, \"data\": DATA}, where DATA is the API's (a NODE for state events).\n"
        "\n"
        "--region and --type filter on the client (the stream carries every node); a liveness\n"
        "event names only its node, whose region and type are looked up once and kept.\n"
        "\n"
        "When the connection drops, reconnects after a growing pause (0.5 s to 10 s) with\n"
        "Last-Event-ID, so no event is missed while the projector still keeps it; a 'reset'\n"
        "event says some were missed, an 'overflow' that this client fell too far behind (it\n"
        "then starts again from the current events). Both are noted on stderr (and printed\n"
        "with -o json).\n"
        "\n"
        "Runs until SIGINT or SIGTERM, then exits 0. Exits 1 when the API cannot be reached at\n"
        "the start or answers with an error, 2 on bad options.\n",
    .opts = sl_watch_opts,
    .run = sl_watch_run,
};

/* Silence for this long (the server sends a keepalive every 15 s) means a dead connection. */
#define SL_WATCH_IDLE_TIMEOUT_S 45L
#define SL_WATCH_BACKOFF_MIN_MS 500
#define SL_WATCH_BACKOFF_MAX_MS 10000

typedef struct {
        sl_apic_t *stream;     /* the watch stream's client */
        sl_apic_t *lookup;     /* for the region and type of liveness events' nodes; lazily */
        const sl_conf_t *conf; /* the lookup client's credentials */
        const char *region, *type;
        int json;
        json_t *nodes;    /* node id -> {"status", "region", "type"}: what was seen */
        char last_id[64]; /* of the last event, for Last-Event-ID; "" for none */
        int events;       /* received on this connection */
        int overflowed;   /* the stream ended with an overflow: start from now */
        int out_failed;   /* writing to stdout failed */
} sl_watch_t;

static int sl_watch_cancel(void *opaque)
{
        (void)opaque;
        return sl_cli_interrupted();
}

/* What is known of @p node_id: from the events seen, else asked of the API. */
static json_t *sl_watch_node(sl_watch_t *w, const char *node_id)
{
        json_t *known = json_object_get(w->nodes, node_id), *node = NULL;
        char errstr[512], *esc, *path = NULL;
        sl_err_t err;

        if (known || (!w->region && !w->type))
                return known;
        if (!w->lookup && (sl_apic_new(sl_apic_url(w->stream), sl_watch_cancel, NULL, &w->lookup,
                                       errstr, sizeof(errstr)) ||
                           sl_apic_set_auth(w->lookup, w->conf, errstr, sizeof(errstr))))
                return NULL;
        if (!(esc = sl_apic_escape(node_id)) || asprintf(&path, "/v1/nodes/%s", esc) < 0) {
                path = NULL;
                goto done;
        }
        err = sl_apic_get_json(w->lookup, path, &node, NULL, errstr, sizeof(errstr));
        if (err == SL_ERR_NOT_FOUND) {
                /* Not in the store (an inventory node never heard from): no region, no type;
                 * kept so as not to ask again. */
                if ((known = json_object()) && json_object_set_new(w->nodes, node_id, known))
                        known = NULL;
        } else if (!err) {
                known = json_pack("{s:s?, s:s?, s:s?}", "status",
                                  json_string_value(json_object_get(node, "status")), "region",
                                  json_string_value(json_object_get(node, "region")), "type",
                                  json_string_value(json_object_get(node, "node_type")));
                if (known && json_object_set_new(w->nodes, node_id, known))
                        known = NULL;
        }
done:
        json_decref(node);
        free(path);
        free(esc);
        return known;
}

static int sl_watch_match(const sl_watch_t *w, const char *region, const char *type)
{
        return (!w->region || (region && !strcmp(region, w->region))) &&
               (!w->type || (type && !strcmp(type, w->type)));
}

static void sl_watch_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A note on stderr, e.g. a reconnection: stdout keeps only the events. */
static void sl_watch_note(const char *fmt, ...)
{
        char t[40];
        va_list ap;

        sl_view_time(t, sizeof(t), sl_cli_now_ms());
        fprintf(stderr, "seerlog: watch: %s: ", t);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void sl_watch_print_json(sl_watch_t *w, const char *id, const char *event, json_t *data)
{
        json_t *env = json_object();

        if (!env || json_object_set_new(env, "event", json_string(event)))
                goto done;
        if (id) {
                char *end;
                long long n = strtoll(id, &end, 10);

                json_object_set_new(env, "id", *end || !*id ? json_string(id) : json_integer(n));
        }
        json_object_set(env, "data", data ? data : json_null());
        if (json_dumpf(env, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) ||
            fputc('\n', stdout) == EOF)
                w->out_failed = 1;
done:
        json_decref(env);
}

static int sl_watch_on_event(const char *id, const char *event, const char *data, void *opaque)
{
        sl_watch_t *w = opaque;
        json_t *js = json_loads(data, 0, NULL);
        const char *node_id = json_string_value(json_object_get(js, "node_id"));
        char t[40], change[160];
        int64_t ms = -1;

        if (id)
                snprintf(w->last_id, sizeof(w->last_id), "%s", id);
        w->events++;
        if (!strcmp(event, "reset") || !strcmp(event, "overflow")) {
                const char *msg = json_string_value(json_object_get(js, "message"));

                if (!strcmp(event, "overflow"))
                        w->overflowed = 1;
                if (!strcmp(event, "reset"))
                        sl_watch_note("reset: events were missed (%s)", msg ? msg : data);
                else
                        sl_watch_note("overflow: fell behind and was cut off (%s); starting "
                                      "again from the current events",
                                      msg ? msg : data);
                if (w->json)
                        sl_watch_print_json(w, id, event, js);
                goto done;
        }
        if (!node_id || (strcmp(event, "state") && strcmp(event, "liveness")))
                goto done; /* not one of ours: ignored, as EventSource would */
        if (!strcmp(event, "state")) {
                const char *status = json_string_value(json_object_get(js, "status")),
                           *region = json_string_value(json_object_get(js, "region")),
                           *type = json_string_value(json_object_get(js, "node_type")),
                           *kind = json_string_value(
                               json_object_get(json_object_get(js, "state"), "kind"));
                json_t *known = json_object_get(w->nodes, node_id);
                const char *prev = json_string_value(json_object_get(known, "status"));
                char was[64] = "";

                if (prev && status && strcmp(prev, status))
                        snprintf(was, sizeof(was), "%s -> ", prev);
                snprintf(change, sizeof(change), "status %s%s (%s)", was, status ? status : "?",
                         kind ? kind : "?");
                ms = json_integer_value(json_object_get(js, "event_time_ms"));
                json_object_set_new(w->nodes, node_id,
                                    json_pack("{s:s?, s:s?, s:s?}", "status", status, "region",
                                              region, "type", type));
                if (!sl_watch_match(w, region, type))
                        goto done;
        } else {
                const char *liv = json_string_value(json_object_get(js, "liveness")),
                           *prev = json_string_value(json_object_get(js, "previous"));
                json_t *known = sl_watch_node(w, node_id);

                if (!sl_watch_match(w, json_string_value(json_object_get(known, "region")),
                                    json_string_value(json_object_get(known, "type"))))
                        goto done;
                snprintf(change, sizeof(change), "liveness %s -> %s", prev ? prev : "?",
                         liv ? liv : "?");
                ms = json_integer_value(json_object_get(js, "liveness_since_ms"));
        }
        if (w->json) {
                sl_watch_print_json(w, id, event, js);
        } else {
                sl_view_time(t, sizeof(t), ms > 0 ? ms : sl_cli_now_ms());
                if (printf("%s  %-8s  %s  %s\n", t, event, node_id, change) < 0)
                        w->out_failed = 1;
        }
        if (fflush(stdout))
                w->out_failed = 1;
done:
        json_decref(js);
        return w->out_failed || sl_cli_interrupted();
}

/* Sleeps @p ms, or less when a signal arrives. */
static void sl_watch_sleep(int64_t ms)
{
        int64_t until = sl_cli_now_mono_ms() + ms;

        while (!sl_cli_interrupted() && sl_cli_now_mono_ms() < until) {
                struct timespec ts = {0, 50 * 1000 * 1000};

                nanosleep(&ts, NULL);
        }
}

static int sl_watch_run(sl_cli_t *cli)
{
        const char *out = sl_cli_str(cli, "output");
        sl_watch_t w = {0};
        int64_t backoff = SL_WATCH_BACKOFF_MIN_MS;
        int ret = SL_EXIT_OK, connected = 0;
        sl_apic_t *c = NULL;
        char errstr[512];

        if (out && strcmp(out, "text") && strcmp(out, "json"))
                return sl_cli_usage_error(cli, "-o %s: expected text or json", out);
        w.json = out && !strcmp(out, "json");
        w.region = sl_cli_str(cli, "region");
        w.conf = sl_cli_conf(cli);
        w.type = sl_cli_str(cli, "type");
        if ((w.region && !*w.region) || (w.type && !*w.type))
                return sl_cli_usage_error(cli, "--%s: expected a value",
                                          w.region && !*w.region ? "region" : "type");
        if ((ret = sl_view_client(cli, &c)))
                return ret;
        w.stream = c;
        if (!(w.nodes = json_object())) {
                sl_apic_destroy(c);
                return sl_cli_fail(cli, "out of memory");
        }
        sl_cli_trap_signals();
        while (!sl_cli_interrupted() && !w.out_failed) {
                long status = 0;
                sl_err_t err;

                w.events = 0;
                w.overflowed = 0;
                err = sl_apic_stream(c, "/v1/watch", w.last_id[0] ? w.last_id : NULL,
                                     SL_WATCH_IDLE_TIMEOUT_S, sl_watch_on_event, &w, &status,
                                     errstr, sizeof(errstr));
                if (sl_cli_interrupted() || w.out_failed)
                        break;
                if (status == 200) {
                        connected = 1;
                        backoff = SL_WATCH_BACKOFF_MIN_MS;
                }
                if (w.overflowed)
                        w.last_id[0] = '\0';
                if (err && !connected && status != 503) {
                        /* Never got a stream: a wrong URL or a projector without the API. */
                        ret = sl_view_api_fail(cli, err, errstr);
                        break;
                }
                if (err && status && status != 200 && status != 503) {
                        ret = sl_view_api_fail(cli, err, errstr);
                        break;
                }
                sl_watch_note("%s; reconnecting in %.1f s%s",
                              err ? errstr : "the server ended the stream", (double)backoff / 1000,
                              w.last_id[0] ? " (from the last event seen)" : "");
                sl_watch_sleep(backoff);
                backoff =
                    backoff * 2 > SL_WATCH_BACKOFF_MAX_MS ? SL_WATCH_BACKOFF_MAX_MS : backoff * 2;
        }
        if (w.out_failed)
                ret = sl_cli_fail(cli, "writing to stdout failed");
        json_decref(w.nodes);
        sl_apic_destroy(w.lookup);
        sl_apic_destroy(c);
        return ret;
}
