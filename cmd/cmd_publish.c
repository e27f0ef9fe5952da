/* seerlog publish: one NodeStateEvent, built from flags or JSON, produced and confirmed. */
#include "cmds.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sl_event.h"
#include "sl_kafka.h"
#include "sl_producer.h"

static int sl_publish_run(sl_cli_t *cli);

static const sl_opt_t sl_publish_opts[] = {
    {"topic", 0, "TOPIC", 0, "Topic to produce to (default: topic.template for the node)"},
    {"node", 0, "ID", 0, "Node id (node_id); also the record key"},
    {"type", 0, "TYPE", 0, "Node type: auth, hoarder, seer, gateway, ..."},
    {"region", 0, "REGION", 0, "Region the node runs in"},
    {"cluster", 0, "CLUSTER", 0, "Cluster within the region"},
    {"status", 0, "STATUS", 0, "Node status: up|degraded|draining|down|left|maintenance|unknown"},
    {"kind", 0, "KIND", 0, "Event kind (default status_change): join|heartbeat|usage|..."},
    {"hostname", 0, "NAME", 0, "Hostname of the node"},
    {"address", 0, "ADDR", SL_OPT_REPEAT, "An address of the node"},
    {"label", 0, "KEY=VALUE", SL_OPT_REPEAT, "A label"},
    {"incarnation", 0, "MS", 0,
     "Agent start time, ms since the epoch (default: now; with an outbox: the producer's)"},
    {"seq", 0, "N", 0,
     "Sequence number within the incarnation (default 0; with an outbox: the next one)"},
    {"json", 0, NULL, 0, "Read the event as one JSON object from stdin"},
    {"timeout-ms", 0, "MS", 0, "How long to wait for the delivery report (default 30000)"},
    {"auto-register", 0, NULL, 0,
     "Register the built-in schema under TOPIC-value and write the id the registry returns "
     "(schema.mode=register)"},
    {0},
};

const sl_cmd_t sl_cmd_publish = {
    .name = "publish",
    .summary = "Publish one NodeStateEvent to a topic",
    .usage = "[--topic TOPIC] [--node ID --type TYPE --region REGION ...] [--json] "
             "[--auto-register] [options]",
    .description =
        "Builds one event from the options, or with --json from a JSON object on stdin (the\n"
        "shape 'seerlog tail' prints; its _topic, _partition and _offset fields are ignored, and\n"
        "options given as well override the object's fields). Fills in what is not given:\n"
        "event_id (a new UUID), event_time (now), incarnation (now, in ms), seq (0), kind\n"
        "(status_change), source (agent), agent_version (this seerlog's version). Validates the\n"
        "event (node id, region and type must be 1-128 characters of A-Z a-z 0-9 . _ -),\n"
        "encodes it in the Confluent wire format and publishes it through the producer library\n"
        "(docs/producer.md), keyed by node_id. Waits for the delivery report and prints\n"
        "TOPIC/PARTITION@OFFSET; exits 1 with librdkafka's error when delivery fails or is not\n"
        "confirmed within --timeout-ms.\n"
        "\n"
        "Topic: --topic TOPIC, else topic.template expanded for the event's region and type\n"
        "(default seerlog.state.{region}.{type}). Unless topic.create is set explicitly, publish\n"
        "does not create topics (the broker's auto-creation or the operator does).\n"
        "\n"
        "Schema id: schema.id as is (schema.mode=fixed, the default without a registry); with\n"
        "--registry (or registry.url) given, schema.mode defaults to lookup: the id the\n"
        "registry has for the built-in schema under TOPIC-value, as the readers, which then ask\n"
        "the registry what every id is, expect. schema.mode may be set explicitly\n"
        "(register|lookup|fixed), or --auto-register given (schema.mode=register: registers\n"
        "the built-in schema with the registry at registry.url (--registry) under TOPIC-value,\n"
        "Confluent's TopicNameStrategy, which checks it against the subject's compatibility\n"
        "level, and writes the id the registry returns). Registering a schema the subject\n"
        "already has is harmless and returns its id. Exits 1 with the registry's message when\n"
        "registration fails (e.g. an incompatible schema).\n"
        "\n"
        "Outbox: off for this one-shot tool unless outbox.dir is set explicitly. With\n"
        "-X outbox.dir=DIR the event is first written to that durable outbox (and anything left\n"
        "there by an earlier run is produced first); incarnation and seq, unless given, come\n"
        "from the outbox's persistent sequence of the node; an event not confirmed within\n"
        "--timeout-ms stays in the outbox for the next producer that opens it.\n"
        "\n"
        "librdkafka defaults, which -X overrides: enable.idempotence=true, acks=all,\n"
        "partitioner=murmur2_random, message.timeout.ms=the --timeout-ms value\n"
        "(enable.idempotence and acks=all cannot be turned off). The continuous producer is\n"
        "'seerlog agent' (issue 4 made publish a client of the same library).\n",
    .opts = sl_publish_opts,
    .run = sl_publish_run,
};

/* "a, b, c" of an enum's symbols, for error messages. */
static void sl_publish_symbols(const char *(*name)(int), int cnt, char *buf, size_t size)
{
        size_t off = 0;

        buf[0] = '\0';
        for (int i = 0; i < cnt && off < size; i++) {
                int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", name(i));

                off += n > 0 ? (size_t)n : 0;
        }
}

static const char *sl_publish_status_name(int i)
{
        return sl_node_status_name((sl_node_status_t)i);
}

static const char *sl_publish_kind_name(int i)
{
        return sl_event_kind_name((sl_event_kind_t)i);
}

/* Reads the --json event from stdin into @p ev. */
static int sl_publish_read_json(sl_cli_t *cli, sl_event_t *ev, int64_t now, int stamp)
{
        static const char *const ignored[] = {"_topic", "_partition", "_offset"};
        char errstr[512];
        json_error_t jerr;
        json_t *obj;
        int ret = SL_EXIT_OK;

        if (!(obj = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)))
                return sl_cli_usage_error(cli, "--json: stdin, line %d: %s", jerr.line, jerr.text);
        if (!json_is_object(obj)) {
                ret = sl_cli_usage_error(cli, "--json: expected a JSON object on stdin");
                goto done;
        }
        for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
                json_object_del(obj, ignored[i]);
        /* What publish fills in when the object lacks it. */
        if ((!stamp && !json_object_get(obj, "incarnation") &&
             json_object_set_new(obj, "incarnation", json_integer(now))) ||
            (!stamp && !json_object_get(obj, "seq") &&
             json_object_set_new(obj, "seq", json_integer(0))) ||
            (!json_object_get(obj, "kind") &&
             json_object_set_new(obj, "kind", json_string("status_change"))) ||
            (!json_object_get(obj, "agent_version") &&
             json_object_set_new(obj, "agent_version", json_string(SEERLOG_VERSION)))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (sl_event_from_json(ev, obj, errstr, sizeof(errstr)))
                ret = sl_cli_usage_error(cli, "--json: %s", errstr);

done:
        json_decref(obj);
        return ret;
}

/*
 * Builds the event from --json and/or the options. With @p stamp the producer fills incarnation
 * and seq (left 0 here) from its persistent sequence. @returns 0 or an exit code.
 */
static int sl_publish_build(sl_cli_t *cli, sl_event_t *ev, int stamp)
{
        static const struct {
                const char *opt;
                size_t field; /* offset of a const char * field of sl_event_t */
        } strings[] = {
            {"node", offsetof(sl_event_t, node_id)},
            {"type", offsetof(sl_event_t, node_type)},
            {"region", offsetof(sl_event_t, region)},
            {"cluster", offsetof(sl_event_t, cluster)},
            {"hostname", offsetof(sl_event_t, hostname)},
        };
        int64_t now = sl_cli_now_ms(), n;
        const char *s;
        char symbols[256];
        sl_err_t err = SL_OK;
        int ret;

        if (sl_cli_count(cli, "json")) {
                if ((ret = sl_publish_read_json(cli, ev, now, stamp)))
                        return ret;
        } else {
                ev->event_time_ms = now;
                ev->incarnation = stamp ? 0 : now;
                ev->seq = 0;
                ev->kind = SL_KIND_STATUS_CHANGE;
                ev->source = SL_SOURCE_AGENT;
                if ((err = sl_event_new_id(ev)) ||
                    (err = sl_event_set(ev, &ev->agent_version, SEERLOG_VERSION)))
                        goto nomem;
        }

        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
                if ((s = sl_cli_str(cli, strings[i].opt)) &&
                    (err = sl_event_set(ev, (const char **)((char *)ev + strings[i].field), s)))
                        goto nomem;
        if (sl_cli_str(cli, "incarnation")) {
                if ((ret = sl_cli_int(cli, "incarnation", now, 1, INT64_MAX, &n)))
                        return ret;
                ev->incarnation = n;
        }
        if (sl_cli_str(cli, "seq")) {
                if ((ret = sl_cli_int(cli, "seq", 0, 0, INT64_MAX, &n)))
                        return ret;
                ev->seq = n;
        }
        if ((s = sl_cli_str(cli, "status")) && sl_node_status_parse(s, &ev->status)) {
                sl_publish_symbols(sl_publish_status_name, SL_STATUS__CNT, symbols,
                                   sizeof(symbols));
                return sl_cli_usage_error(cli, "--status %s: expected one of %s", s, symbols);
        }
        if ((s = sl_cli_str(cli, "kind")) && sl_event_kind_parse(s, &ev->kind)) {
                sl_publish_symbols(sl_publish_kind_name, SL_KIND__CNT, symbols, sizeof(symbols));
                return sl_cli_usage_error(cli, "--kind %s: expected one of %s", s, symbols);
        }
        for (size_t i = 0; (s = sl_cli_nth(cli, "address", i)); i++)
                if ((err = sl_event_add_address(ev, s)))
                        goto nomem;
        for (size_t i = 0; (s = sl_cli_nth(cli, "label", i)); i++) {
                const char *eq = strchr(s, '=');
                char *key;

                if (!eq || eq == s)
                        return sl_cli_usage_error(cli, "--label %s: expected KEY=VALUE", s);
                if (!(key = strndup(s, (size_t)(eq - s))))
                        goto nomem;
                err = sl_event_add_label(ev, key, eq + 1);
                free(key);
                if (err)
                        goto nomem;
        }
        return SL_EXIT_OK;

nomem:
        return sl_cli_fail(cli, "building the event: %s", sl_err_str(err ? err : SL_ERR_NOMEM));
}

/* The delivery report of our one record. */
typedef struct {
        int done;
        sl_err_t err;
        char errstr[512];
        char topic[256];
        int32_t partition;
        int64_t offset;
} sl_delivery_t;

static void sl_publish_dr_cb(const char *topic, int32_t partition, int64_t offset, sl_err_t err,
                             const char *errstr, void *opaque)
{
        sl_delivery_t *dr = opaque;

        dr->done = 1;
        dr->err = err;
        dr->partition = partition;
        dr->offset = offset;
        snprintf(dr->topic, sizeof(dr->topic), "%s", topic ? topic : "?");
        snprintf(dr->errstr, sizeof(dr->errstr), "%s", errstr ? errstr : "");
}

/* Sets @p key to @p value unless the user set it (file, flag). @returns 0 or an exit code. */
static int sl_publish_default(sl_cli_t *cli, const char *key, const char *value)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *origin = sl_conf_origin(conf, key);
        char errstr[512];

        if (origin && strcmp(origin, "default"))
                return SL_EXIT_OK;
        if (sl_conf_set_from(conf, key, value, "publish default", errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        return SL_EXIT_OK;
}

/* The configuration of this one-shot producer (see the description). */
static int sl_publish_configure(sl_cli_t *cli, int64_t timeout_ms, int *outboxp)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *topic = sl_cli_str(cli, "topic");
        const char *origin = sl_conf_origin(conf, "outbox.dir");
        char errstr[512], timeout[32];
        int ret;

        *outboxp = origin && strcmp(origin, "default") && *sl_conf_get(conf, "outbox.dir") &&
                   sl_conf_get_bool(conf, "outbox.enable");
        snprintf(timeout, sizeof(timeout), "%lld", (long long)timeout_ms);
        if ((ret = sl_publish_default(cli, "delivery.timeout.ms", timeout)) ||
            (ret = sl_publish_default(cli, "topic.create", "false")) ||
            (ret = sl_publish_default(cli, "schema.mode",
                                      sl_conf_registry_in_use(conf) ? "lookup" : "fixed")))
                return ret;
        if (sl_conf_set_from(conf, "outbox.enable", *outboxp ? "true" : "false",
                             "publish (outbox only with outbox.dir)", errstr, sizeof(errstr)) ||
            sl_conf_set_from(conf, "control.topic", "", "publish", errstr, sizeof(errstr)) ||
            (sl_cli_count(cli, "auto-register") &&
             sl_conf_set_from(conf, "schema.mode", "register", "flag --auto-register", errstr,
                              sizeof(errstr))) ||
            (topic && sl_conf_set_from(conf, "topic.template", topic, "flag --topic", errstr,
                                       sizeof(errstr))))
                return sl_cli_usage_error(cli, "%s", errstr);
        return SL_EXIT_OK;
}

static int sl_publish_run(sl_cli_t *cli)
{
        const char *topic = sl_cli_str(cli, "topic");
        sl_producer_t *p = NULL;
        sl_event_t *ev = NULL;
        sl_delivery_t dr = {0};
        char errstr[512];
        int64_t timeout_ms, deadline;
        int ret, outbox;
        sl_err_t err;

        if (topic && !*topic)
                return sl_cli_usage_error(cli, "--topic: expected a non-empty TOPIC");
        if ((ret = sl_cli_int(cli, "timeout-ms", 30000, 1, INT32_MAX, &timeout_ms)))
                return ret;
        if ((ret = sl_publish_configure(cli, timeout_ms, &outbox)))
                return ret;
        if (!(ev = sl_event_new()))
                return sl_cli_fail(cli, "out of memory");
        if ((ret = sl_publish_build(cli, ev, outbox && !sl_cli_str(cli, "incarnation"))))
                goto done;
        /* Everything the event can be blamed for, before any client is made. */
        if (ev->incarnation && sl_event_validate(ev, errstr, sizeof(errstr))) {
                ret = sl_cli_usage_error(cli, "invalid event: %s", errstr);
                goto done;
        }
        if (!(p = sl_producer_new(sl_cli_conf(cli), errstr, sizeof(errstr)))) {
                /* A locked or broken outbox is a runtime failure; the rest is configuration
                 * (e.g. acks=1, or enable.idempotence=false, or a bad topic.template). */
                ret = !strncmp(errstr, "outbox", 6) ? sl_cli_fail(cli, "%s", errstr)
                                                    : sl_cli_usage_error(cli, "%s", errstr);
                goto done;
        }
        sl_producer_set_dr_cb(p, sl_publish_dr_cb, &dr);
        if ((err = sl_producer_publish(p, ev, errstr, sizeof(errstr)))) {
                if (err == SL_ERR_INVALID_ARG || err == SL_ERR_BAD_VALUE)
                        ret = sl_cli_usage_error(cli, "invalid event: %s", errstr);
                else
                        ret = sl_cli_fail(cli, "%s: %s", sl_err_str(err), errstr);
                goto done;
        }

        /* Wait in slices so that SIGINT/SIGTERM stop the wait. With the outbox, anything an
         * earlier run left there is delivered first; we wait for ours, the last. librdkafka
         * reports a timeout itself after message.timeout.ms; the extra second lets it arrive. */
        sl_cli_trap_signals();
        deadline = sl_cli_now_mono_ms() + timeout_ms + 1000;
        while (!sl_cli_interrupted() && sl_cli_now_mono_ms() < deadline) {
                sl_producer_stats_t st;

                sl_producer_poll(p, 100);
                sl_producer_stats(p, &st);
                if (dr.done && (dr.err || (!st.in_flight && !st.outbox_depth)))
                        break;
        }
        if (!dr.done || (outbox && dr.err == SL_OK && sl_producer_flush(p, 0))) {
                char where[256];

                if (sl_topic_expand(sl_conf_get(sl_cli_conf(cli), "topic.template"), ev->region,
                                    ev->node_type, where, sizeof(where), errstr, sizeof(errstr)))
                        snprintf(where, sizeof(where), "?");
                ret = sl_cli_fail(cli, "%s: delivery to %s not confirmed; %s",
                                  sl_kafka_fatal(NULL, 0) ? "stopped"
                                  : sl_cli_interrupted()  ? "interrupted"
                                                          : "timed out",
                                  where,
                                  outbox ? "the record stays in the outbox for the next producer"
                                         : "the record may or may not have been written");
                goto done;
        }
        if (dr.err) {
                ret = sl_cli_fail(cli, "delivery to %s (bootstrap %s) failed: %s", dr.topic,
                                  sl_conf_get(sl_cli_conf(cli), "bootstrap.servers"), dr.errstr);
                goto done;
        }
        if (printf("%s/%d@%lld\n", dr.topic, (int)dr.partition, (long long)dr.offset) < 0 ||
            fflush(stdout)) {
                ret = sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
                goto done;
        }
        ret = SL_EXIT_OK;

done:
        /* Records not delivered stay in the outbox (if any); without one they are dropped. */
        sl_producer_destroy(p, 0);
        sl_event_destroy(ev);
        return ret;
}
