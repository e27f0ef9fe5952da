/* seerlog tail: the events of a topic as JSON lines. */
#include "cmds.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sl_event.h"
#include "sl_registry.h"

static int sl_tail_run(sl_cli_t *cli);

static const sl_opt_t sl_tail_opts[] = {
    {"topic", 0, "TOPIC", SL_OPT_REQUIRED, "Topic to read"},
    {"from-beginning", 0, NULL, 0, "Start at the oldest record (default: only new records)"},
    {"count", 0, "N", 0, "Stop after N events"},
    {"timeout-ms", 0, "MS", 0, "Stop after MS milliseconds without a new record"},
    {"group", 0, "ID", 0, "Consume as consumer group ID (subscribe, commit offsets)"},
    {0},
};

const sl_cmd_t sl_cmd_tail = {
    .name = "tail",
    .summary = "Print the events of a topic as JSON lines",
    .usage = "--topic TOPIC [--from-beginning] [--count N] [--timeout-ms MS] [--group ID] "
             "[options]",
    .description =
        "Reads TOPIC and prints each event as one compact JSON object per line on stdout: the\n"
        "fields _topic, _partition and _offset of the record, then the event's fields as\n"
        "'seerlog schema' names them, e.g.\n"
        "  {\"_topic\":\"nodes\",\"_partition\":0,\"_offset\":42,\"event_id\":\"...\",...}\n"
        "\n"
        "Without --group, reads every partition of the topic (from the metadata) from the\n"
        "beginning (--from-beginning) or the end, without a consumer group and without\n"
        "committing. With --group, subscribes as that group and commits offsets; where the group\n"
        "has no committed offset it starts at the beginning with --from-beginning, else at the\n"
        "end (librdkafka's auto.offset.reset, which -X overrides).\n"
        "\n"
        "Each record is decoded with the writer schema whose id it carries, into the fields of\n"
        "the built-in schema (fields by name, unknown enum symbols as 'unknown'): without a\n"
        "registry in use (schema.mode fixed, or no --registry / registry.url given) schema.id is\n"
        "the built-in schema itself; any other id (with a registry in use, every id) is fetched\n"
        "from the schema registry at\n"
        "registry.url (--registry) the first time it is seen. A record whose writer schema\n"
        "cannot be had, or that cannot be decoded, prints 'TOPIC/PARTITION@OFFSET: error' on\n"
        "stderr and tail goes on.\n"
        "\n"
        "Runs until --count events were printed, --timeout-ms passed without a record, or\n"
        "SIGINT/SIGTERM; then closes the consumer (leaving the group) and exits 0.\n",
    .opts = sl_tail_opts,
    .run = sl_tail_run,
};

/* How long to wait for the topic's partitions to be known. */
#define SL_TAIL_METADATA_TIMEOUT_MS 10000

/*
 * Assigns every partition of @p topic at @p offset. A topic that was just created may not have
 * its partitions (leaders) yet: retry until SL_TAIL_METADATA_TIMEOUT_MS.
 */
static int sl_tail_assign_all(sl_cli_t *cli, rd_kafka_t *rk, const char *topic, int64_t offset)
{
        int64_t deadline = sl_cli_now_mono_ms() + SL_TAIL_METADATA_TIMEOUT_MS;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t err;
        int ret = SL_EXIT_FAIL;

        if (!rkt)
                return sl_cli_fail(cli, "%s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        for (;;) {
                int64_t left = deadline - sl_cli_now_mono_ms();

                /* In slices: a signal or a fatal Kafka failure (sl_kafka.h) stops the wait. */
                err = rd_kafka_metadata(rk, 0, rkt, &md,
                                        left > 1000 ? 1000
                                        : left > 0  ? (int)left
                                                    : 1);
                if (!err && md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0)
                        break;
                if (!err)
                        err = md->topic_cnt == 1 ? md->topics[0].err
                                                 : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
                if (md)
                        rd_kafka_metadata_destroy(md);
                md = NULL;
                if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                        ret = sl_cli_fail(cli, "topic %s does not exist", topic);
                        goto done;
                }
                if (sl_cli_interrupted()) {
                        ret = SL_EXIT_OK;
                        goto done;
                }
                if (sl_cli_now_mono_ms() >= deadline) {
                        ret =
                            sl_cli_fail(cli, "getting the partitions of %s from %s: %s", topic,
                                        sl_conf_get(sl_cli_conf(cli), "bootstrap.servers"),
                                        rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR__TIMED_OUT));
                        goto done;
                }
                usleep(200 * 1000);
        }

        if (!(parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
                    ->offset = offset;
        if ((err = rd_kafka_assign(rk, parts))) {
                ret = sl_cli_fail(cli, "assigning the partitions of %s: %s", topic,
                                  rd_kafka_err2str(err));
                goto done;
        }
        ret = SL_EXIT_OK;

done:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return ret;
}

static int sl_tail_subscribe(sl_cli_t *cli, rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t err;

        if (!topics)
                return sl_cli_fail(cli, "out of memory");
        rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err)
                return sl_cli_fail(cli, "subscribing to %s: %s", topic, rd_kafka_err2str(err));
        return SL_EXIT_OK;
}

/*
 * Prints one record as a JSON line. @returns 1 if an event was printed, 0 if the record could
 * not be decoded (reported on stderr), -1 if stdout failed.
 */
static int sl_tail_print(sl_codec_t *codec, sl_event_t *ev, const rd_kafka_message_t *rkm)
{
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        json_t *line = NULL, *body = NULL;
        char errstr[512];
        sl_err_t err;
        int ret = -1;

        if (!rkm->payload) {
                fprintf(stderr, "%s/%d@%lld: empty record (no value)\n", topic, (int)rkm->partition,
                        (long long)rkm->offset);
                return 0;
        }
        if ((err = sl_codec_decode(codec, rkm->payload, rkm->len, ev, errstr, sizeof(errstr)))) {
                fprintf(stderr, "%s/%d@%lld: %s: %s\n", topic, (int)rkm->partition,
                        (long long)rkm->offset, sl_err_str(err), errstr);
                return 0;
        }
        if (!(line = json_object()) || !(body = sl_event_to_json(ev)) ||
            json_object_set_new(line, "_topic", json_string(topic)) ||
            json_object_set_new(line, "_partition", json_integer(rkm->partition)) ||
            json_object_set_new(line, "_offset", json_integer(rkm->offset)) ||
            json_object_update(line, body)) {
                fprintf(stderr, "%s/%d@%lld: out of memory\n", topic, (int)rkm->partition,
                        (long long)rkm->offset);
                ret = 0;
                goto done;
        }
        /* jansson keeps insertion order: the _ fields come first. */
        if (json_dumpf(line, stdout, JSON_COMPACT) || putchar('\n') == EOF || fflush(stdout))
                goto done;
        ret = 1;

done:
        json_decref(body);
        json_decref(line);
        return ret;
}

static int sl_tail_run(sl_cli_t *cli)
{
        const char *topic = sl_cli_str(cli, "topic");
        const char *group = sl_cli_str(cli, "group");
        int from_beginning = sl_cli_count(cli, "from-beginning") > 0;
        int32_t schema_id = (int32_t)sl_conf_get_int(sl_cli_conf(cli), "schema.id");
        const char *group_defaults[] = {"group.id",
                                        group,
                                        "auto.offset.reset",
                                        from_beginning ? "earliest" : "latest",
                                        "enable.partition.eof",
                                        "false",
                                        NULL};
        /* No group to join or commit to; librdkafka 2.0.2's rd_kafka_assign() still wants a
         * group.id ("Local: Unknown group"), which assign() never uses to join anything. */
        const char *assign_defaults[] = {"group.id", "seerlog-tail-assign",  "enable.auto.commit",
                                         "false",    "enable.partition.eof", "false",
                                         NULL};
        rd_kafka_conf_t *rk_conf;
        rd_kafka_t *rk = NULL;
        sl_registry_client_t *registry = NULL;
        sl_codec_t *codec = NULL;
        sl_event_t *ev = NULL;
        int64_t count, timeout_ms, printed = 0, last;
        char errstr[512];
        int ret;

        if ((ret = sl_cli_int(cli, "count", 0, 1, INT64_MAX, &count)) ||
            (ret = sl_cli_int(cli, "timeout-ms", 0, 1, INT64_MAX, &timeout_ms)))
                return ret;
        if (group && !*group)
                return sl_cli_usage_error(cli, "--group: expected a non-empty ID");
        if (!(codec = sl_codec_new(schema_id, errstr, sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        /* Only contacted for a schema id the codec does not know. */
        if (!(registry = sl_registry_client_new(sl_cli_conf(cli), errstr, sizeof(errstr)))) {
                ret = sl_cli_usage_error(cli, "%s", errstr);
                goto done;
        }
        sl_codec_set_fetch_cb(codec, sl_registry_fetch_cb, registry);
        sl_cli_decoder_ids(cli, codec);
        if (!(ev = sl_event_new())) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (!(rk_conf = sl_cli_kafka_conf(cli, group ? group_defaults : assign_defaults, &ret)))
                goto done;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rk_conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(rk_conf);
                ret = sl_cli_usage_error(cli, "creating the consumer: %s", errstr);
                goto done;
        }
        rd_kafka_poll_set_consumer(rk);
        sl_cli_trap_signals();
        /* `seerlog tail | head` ends with a write error, not a kill, so the consumer closes. */
        signal(SIGPIPE, SIG_IGN);

        ret = group ? sl_tail_subscribe(cli, rk, topic)
                    : sl_tail_assign_all(cli, rk, topic,
                                         from_beginning ? RD_KAFKA_OFFSET_BEGINNING
                                                        : RD_KAFKA_OFFSET_END);
        if (ret)
                goto done;

        last = sl_cli_now_mono_ms();
        while (!sl_cli_interrupted() && (!count || printed < count)) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
                int r;

                if (!rkm) {
                        if (timeout_ms && sl_cli_now_mono_ms() - last >= timeout_ms)
                                break;
                        continue;
                }
                last = sl_cli_now_mono_ms();
                if (rkm->err) {
                        rd_kafka_resp_err_t err = rkm->err;

                        fprintf(stderr, "seerlog: tail: %s\n", rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                            err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                            err == RD_KAFKA_RESP_ERR__FATAL) {
                                ret = SL_EXIT_FAIL;
                                break;
                        }
                        continue;
                }
                r = sl_tail_print(codec, ev, rkm);
                rd_kafka_message_destroy(rkm);
                if (r < 0) {
                        /* A closed pipe is how `| head` says "enough". */
                        if (errno != EPIPE)
                                ret = sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
                        break;
                }
                printed += r;
        }

done:
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
        sl_registry_client_destroy(registry);
        return ret;
}
