/* seerlog publish: one NodeStateEvent, built from flags or JSON, produced and confirmed. */
#include "cmds.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sl_event.h"
#include "sl_registry.h"

static int sl_publish_run(sl_cli_t *cli);

static const sl_opt_t sl_publish_opts[] = {
    {"topic", 0, "TOPIC", SL_OPT_REQUIRED, "Topic to produce to"},
    {"node", 0, "ID", 0, "Node id (node_id); also the record key"},
    {"type", 0, "TYPE", 0, "Node type: auth, hoarder, seer, gateway, ..."},
    {"region", 0, "REGION", 0, "Region the node runs in"},
    {"cluster", 0, "CLUSTER", 0, "Cluster within the region"},
    {"status", 0, "STATUS", 0, "Node status: up|degraded|draining|down|left|unknown"},
    {"kind", 0, "KIND", 0, "Event kind (default status_change): join|heartbeat|usage|..."},
    {"hostname", 0, "NAME", 0, "Hostname of the node"},
    {"address", 0, "ADDR", SL_OPT_REPEAT, "An address of the node"},
    {"label", 0, "KEY=VALUE", SL_OPT_REPEAT, "A label"},
    {"incarnation", 0, "MS", 0, "Agent start time, ms since the epoch (default: now)"},
    {"seq", 0, "N", 0, "Sequence number within the incarnation (default 0)"},
    {"json", 0, NULL, 0, "Read the event as one JSON object from stdin"},
    {"timeout-ms", 0, "MS", 0, "How long to wait for the delivery report (default 30000)"},
    {"auto-register", 0, NULL, 0,
     "Register the built-in schema under TOPIC-value and write the id the registry returns"},
    {0},
};

const sl_cmd_t sl_cmd_publish = {
    .name = "publish",
    .summary = "Publish one NodeStateEvent to a topic",
    .usage = "--topic TOPIC [--node ID --type TYPE --region REGION ...] [--json] "
             "[--auto-register] [options]",
    .description =
        "Builds one event from the options, or with --json from a JSON object on stdin (the\n"
        "shape 'seerlog tail' prints; its _topic, _partition and _offset fields are ignored, and\n"
        "options given as well override the object's fields). Fills in what is not given:\n"
        "event_id (a new UUID), event_time (now), incarnation (now, in ms), seq (0), kind\n"
        "(status_change), source (agent), agent_version (this seerlog's version). Validates the\n"
        "event, encodes it in the Confluent wire format with schema id schema.id, and produces\n"
        "it to TOPIC keyed by node_id. Waits for the delivery report and prints\n"
        "TOPIC/PARTITION@OFFSET; exits 1 with librdkafka's error when delivery fails or is not\n"
        "confirmed within --timeout-ms.\n"
        "\n"
        "With --auto-register, first registers the built-in schema with the schema registry at\n"
        "registry.url (--registry) under the subject TOPIC-value (Confluent's\n"
        "TopicNameStrategy, what other clients look up), which checks it against the subject's\n"
        "compatibility level, and writes the id the registry returns instead of schema.id.\n"
        "Registering a schema the subject already has is harmless and returns its id. Exits 1\n"
        "with the registry's message when registration fails (e.g. an incompatible schema).\n"
        "\n"
        "librdkafka defaults, which -X overrides: enable.idempotence=true, acks=all,\n"
        "partitioner=murmur2_random, message.timeout.ms=the --timeout-ms value.\n"
        "\n"
        "Not yet (issue 4): this is a direct, one-shot producer for tests and scripts. There is\n"
        "no durable outbox (an event not yet delivered is lost if seerlog dies), and there is no\n"
        "topic routing (the event goes to --topic).\n",
    .opts = sl_publish_opts,
    .run = sl_publish_run,
};

/* The delivery report of our one message. */
typedef struct {
        int done;
        rd_kafka_resp_err_t err;
        char errstr[512];
        int32_t partition;
        int64_t offset;
} sl_delivery_t;

static void sl_publish_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        sl_delivery_t *dr = rkm->_private;

        if (!dr)
                return;
        dr->done = 1;
        dr->err = rkm->err;
        dr->partition = rkm->partition;
        dr->offset = rkm->offset;
        /* Not rd_kafka_message_errstr(): in a delivery report the payload is our record. */
        if (rkm->err)
                snprintf(dr->errstr, sizeof(dr->errstr), "%s", rd_kafka_err2str(rkm->err));
}

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
static int sl_publish_read_json(sl_cli_t *cli, sl_event_t *ev, int64_t now)
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
        if ((!json_object_get(obj, "incarnation") &&
             json_object_set_new(obj, "incarnation", json_integer(now))) ||
            (!json_object_get(obj, "seq") && json_object_set_new(obj, "seq", json_integer(0))) ||
            (!json_object_get(obj, "kind") &&
             json_object_set_new(obj, "kind", json_string("status_change")))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (sl_event_from_json(ev, obj, errstr, sizeof(errstr)))
                ret = sl_cli_usage_error(cli, "--json: %s", errstr);

done:
        json_decref(obj);
        return ret;
}

/* Builds the event from --json and/or the options. @returns 0 or an exit code. */
static int sl_publish_build(sl_cli_t *cli, sl_event_t *ev)
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
                if ((ret = sl_publish_read_json(cli, ev, now)))
                        return ret;
        } else {
                ev->event_time_ms = now;
                ev->incarnation = now;
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

/* Produces @p buf to @p topic and waits for its delivery report. */
static int sl_publish_produce(sl_cli_t *cli, const char *topic, const sl_event_t *ev,
                              const sl_buf_t *buf, int64_t timeout_ms)
{
        char timeout[32], errstr[512];
        const char *defaults[] = {
            "enable.idempotence", "true",  "acks", "all", "partitioner", "murmur2_random",
            "message.timeout.ms", timeout, NULL};
        sl_delivery_t dr = {0};
        rd_kafka_conf_t *rk_conf;
        rd_kafka_t *rk = NULL;
        rd_kafka_resp_err_t err;
        int64_t deadline;
        int ret = SL_EXIT_FAIL;

        snprintf(timeout, sizeof(timeout), "%lld", (long long)timeout_ms);
        if (!(rk_conf = sl_cli_kafka_conf(cli, defaults, &ret)))
                return ret;
        rd_kafka_conf_set_dr_msg_cb(rk_conf, sl_publish_dr_cb);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rk_conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(rk_conf);
                /* rd_kafka_new() fails on inconsistent properties, e.g. acks=1 with
                 * enable.idempotence=true: the user's to fix. */
                return sl_cli_usage_error(cli, "creating the producer: %s", errstr);
        }

        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(ev->node_id, strlen(ev->node_id)),
            RD_KAFKA_V_VALUE(buf->data, buf->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(&dr), RD_KAFKA_V_END);
        if (err) {
                ret = sl_cli_fail(cli, "producing to %s: %s", topic, rd_kafka_err2str(err));
                goto done;
        }

        /* Wait in slices so that SIGINT/SIGTERM stop the wait. librdkafka reports a timeout
         * itself after message.timeout.ms; the extra second lets that report arrive. */
        sl_cli_trap_signals();
        deadline = sl_cli_now_mono_ms() + timeout_ms + 1000;
        while (!dr.done && !sl_cli_interrupted() && sl_cli_now_mono_ms() < deadline)
                rd_kafka_flush(rk, 100);
        if (!dr.done) {
                /* Give up on the record: purged, its report arrives with a purge error. The
                 * record may still have reached the broker if it was in flight. */
                rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(rk, 0);
                ret = sl_cli_fail(cli,
                                  "%s: delivery to %s not confirmed; the record may or may "
                                  "not have been written",
                                  sl_cli_interrupted() ? "interrupted" : "timed out", topic);
                goto done;
        }
        if (dr.err) {
                ret = sl_cli_fail(cli, "delivery to %s (bootstrap %s) failed: %s", topic,
                                  sl_conf_get(sl_cli_conf(cli), "bootstrap.servers"), dr.errstr);
                goto done;
        }
        if (printf("%s/%d@%lld\n", topic, (int)dr.partition, (long long)dr.offset) < 0 ||
            fflush(stdout)) {
                ret = sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
                goto done;
        }
        ret = SL_EXIT_OK;

done:
        rd_kafka_destroy(rk);
        return ret;
}

/* --auto-register: the id of the built-in schema under TOPIC-value. @returns 0 or an exit code. */
static int sl_publish_register(sl_cli_t *cli, const char *topic, int32_t *idp)
{
        sl_registry_client_t *registry;
        char errstr[512], *subject = NULL;
        sl_err_t err;
        int ret = SL_EXIT_OK;

        if (!(registry = sl_registry_client_new(sl_cli_conf(cli), errstr, sizeof(errstr))))
                return sl_cli_usage_error(cli, "%s", errstr);
        if (asprintf(&subject, "%s-value", topic) < 0) {
                subject = NULL;
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if ((err = sl_registry_register(registry, subject, sl_event_schema_text(), 0, idp, errstr,
                                        sizeof(errstr))))
                ret = sl_cli_fail(cli, "registering the schema under subject %s: %s: %s", subject,
                                  sl_err_str(err), errstr);

done:
        free(subject);
        sl_registry_client_destroy(registry);
        return ret;
}

static int sl_publish_run(sl_cli_t *cli)
{
        const char *topic = sl_cli_str(cli, "topic");
        int32_t schema_id = (int32_t)sl_conf_get_int(sl_cli_conf(cli), "schema.id");
        sl_event_t *ev = NULL;
        sl_codec_t *codec = NULL;
        sl_buf_t buf = {0};
        char errstr[512];
        int64_t timeout_ms;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_int(cli, "timeout-ms", 30000, 1, INT32_MAX, &timeout_ms)))
                return ret;
        if (!(ev = sl_event_new()))
                return sl_cli_fail(cli, "out of memory");
        if ((ret = sl_publish_build(cli, ev)))
                goto done;
        if (sl_event_validate(ev, errstr, sizeof(errstr))) {
                ret = sl_cli_usage_error(cli, "invalid event: %s", errstr);
                goto done;
        }
        if (sl_cli_count(cli, "auto-register") &&
            (ret = sl_publish_register(cli, topic, &schema_id)))
                goto done;
        if (!(codec = sl_codec_new(schema_id, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if ((err = sl_codec_encode(codec, ev, &buf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "encoding the event: %s: %s", sl_err_str(err), errstr);
                goto done;
        }
        ret = sl_publish_produce(cli, topic, ev, &buf, timeout_ms);

done:
        sl_buf_free(&buf);
        sl_codec_destroy(codec);
        sl_event_destroy(ev);
        return ret;
}
