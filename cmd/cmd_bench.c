/* seerlog bench: throughput of seerlog's own paths, to compare with librdkafka's tools. */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_event.h"
#include "sl_producer.h"

static int sl_bench_run(sl_cli_t *cli);

static const sl_opt_t sl_bench_opts[] = {
    {"events", 0, "N", 0, "Events to produce (default 1000000)"},
    {"size", 0, "BYTES", 0, "Size of one encoded record value, padded with a label (default 200)"},
    {"outbox", 0, "on|off", 0, "Durable outbox on or off (default: outbox.enable)"},
    {"topic", 0, "TOPIC", 0, "Topic to produce to (default seerlog.bench)"},
    {0},
};

const sl_cmd_t sl_cmd_bench = {
    .name = "bench",
    .summary = "Measure the producer's throughput",
    .usage = "produce [--events N] [--size BYTES] [--outbox on|off] [--topic TOPIC] [options]",
    .description =
        "bench produce: produces N NodeStateEvents through the producer library (the path of\n"
        "'seerlog agent' and 'seerlog simulate': stamp, validate, encode, outbox, librdkafka)\n"
        "to TOPIC, in batches of 1000 per sl_producer_publish_batch() (one outbox transaction\n"
        "each), keyed by 1000 node ids. Each event is a status change padded with a label so\n"
        "that its encoded record value is BYTES long (or as short as it can be). Status changes\n"
        "are never coalesced, so every event becomes a record: when librdkafka's queue is full\n"
        "the producer waits for room (heartbeats would be merged instead, and the rate would\n"
        "count events that never reached the broker). The run fails unless every event was\n"
        "delivered.\n"
        "\n"
        "One event is produced and delivered first (connection, topic creation, schema id), out\n"
        "of the measurement. The clock then runs from the first accepted event to the last\n"
        "delivery report (a flush), and the last line on stdout is\n"
        "  bench produce: N events, BYTES bytes, outbox on|off: E events/s, M MB/s\n"
        "with MB = 10^6 bytes of record values (as rdkafka_performance counts them).\n"
        "\n"
        "Defaults here, which -X overrides: schema.mode=fixed (no registry needed). With the\n"
        "outbox on and no outbox.dir, the outbox is a new temporary directory removed at exit\n"
        "(a real outbox's leftovers would be replayed into the measurement). librdkafka runs\n"
        "with the producer library's settings (acks=all, enable.idempotence=true) and its own\n"
        "defaults (linger.ms=5). bench/produce/run compares this with rdkafka_performance on\n"
        "the same broker.\n",
    .opts = sl_bench_opts,
    .run = sl_bench_run,
    .max_args = 1,
};

#define SL_BENCH_BATCH         1000
#define SL_BENCH_KEYS          1000
#define SL_BENCH_FLUSH_TIMEOUT 300000

/* The node ids, "bench-0000".."bench-1000" (the last one for the warm-up event). */
static char sl_bench_ids[SL_BENCH_KEYS + 1][16];

/* One benchmark event: a heartbeat of node @p key with a label of @p pad bytes. */
static sl_err_t sl_bench_event(sl_event_t *ev, const char *pad, size_t pad_len, uint32_t key,
                               int64_t incarnation, int64_t seq)
{
        sl_err_t err;

        sl_event_reset(ev);
        if ((err = sl_event_set(ev, &ev->node_id, sl_bench_ids[key])) ||
            (err = sl_event_set(ev, &ev->node_type, "bench")) ||
            (err = sl_event_set(ev, &ev->region, "local")) ||
            (pad_len && (err = sl_event_add_label(ev, "pad", pad))))
                return err;
        ev->incarnation = incarnation;
        ev->seq = seq;
        ev->kind = SL_KIND_STATUS_CHANGE; /* never coalesced: every event is a record */
        ev->status = SL_STATUS_UP;
        ev->source = SL_SOURCE_AGENT;
        return SL_OK;
}

/*
 * The pad length that makes a typical record (seq 64..4095: a 2-byte varint) @p size bytes, found
 * by encoding: the label's length prefix grows with the label, so a couple of rounds settle it.
 */
static int sl_bench_pad(sl_cli_t *cli, int32_t schema_id, int64_t size, char **padp,
                        size_t *pad_lenp, size_t *actualp)
{
        sl_codec_t *codec = NULL;
        sl_event_t *ev = NULL;
        sl_buf_t buf = {0};
        char errstr[512], *pad = NULL;
        size_t pad_len = 0;
        sl_err_t err;
        int ret = SL_EXIT_FAIL;

        if (!(codec = sl_codec_new(schema_id, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if (!(ev = sl_event_new()) || !(pad = malloc((size_t)size + 1))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        for (int round = 0; round < 8; round++) {
                memset(pad, 'x', pad_len);
                pad[pad_len] = '\0';
                if ((err = sl_bench_event(ev, pad, pad_len, 0, 1700000000000, 500)) ||
                    (err = sl_event_new_id(ev)) ||
                    (err = sl_codec_encode(codec, ev, &buf, errstr, sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "encoding: %s", sl_err_str(err));
                        goto done;
                }
                if ((int64_t)buf.len == size)
                        break;
                if ((int64_t)buf.len > size) {
                        /* Shorter than the label's own overhead: no pad at all. */
                        if (!pad_len || (int64_t)(buf.len - pad_len) > size)
                                pad_len = 0;
                        else
                                pad_len -= buf.len - (size_t)size;
                } else {
                        pad_len += (size_t)size - buf.len;
                }
                if (!pad_len && round > 0)
                        break;
        }
        memset(pad, 'x', pad_len);
        pad[pad_len] = '\0';
        if ((err = sl_bench_event(ev, pad, pad_len, 0, 1700000000000, 500)) ||
            (err = sl_event_new_id(ev)) ||
            (err = sl_codec_encode(codec, ev, &buf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "encoding: %s", sl_err_str(err));
                goto done;
        }
        *actualp = buf.len;
        *padp = pad;
        *pad_lenp = pad_len;
        pad = NULL;
        ret = SL_EXIT_OK;

done:
        free(pad);
        sl_buf_free(&buf);
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
        return ret;
}

static int sl_bench_produce(sl_cli_t *cli)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *outbox = sl_cli_str(cli, "outbox");
        const char *topic = sl_cli_str(cli, "topic");
        const char *origin;
        sl_event_t *evs[SL_BENCH_BATCH] = {0};
        int64_t events, size, seqs[SL_BENCH_KEYS] = {0}, incarnation = sl_cli_now_ms();
        char errstr[512] = "", outbox_tmp[4096] = "", *pad = NULL;
        size_t pad_len = 0, actual = 0;
        sl_producer_t *p = NULL;
        sl_producer_stats_t st;
        int64_t t0, t1, done_cnt = 0;
        double secs;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_int(cli, "events", 1000000, 1, INT64_MAX / 2, &events)) ||
            (ret = sl_cli_int(cli, "size", 200, 1, 1000000, &size)))
                return ret;
        if (outbox && strcmp(outbox, "on") && strcmp(outbox, "off"))
                return sl_cli_usage_error(cli, "--outbox: expected on or off, not '%s'", outbox);
        if (!topic)
                topic = "seerlog.bench";
        if (!*topic || strchr(topic, '{'))
                return sl_cli_usage_error(cli, "--topic: expected a topic name");
        if ((outbox &&
             sl_conf_set_from(conf, "outbox.enable", strcmp(outbox, "on") ? "false" : "true",
                              "flag --outbox", errstr, sizeof(errstr))) ||
            sl_conf_set_from(conf, "topic.template", topic, "flag --topic", errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        origin = sl_conf_origin(conf, "schema.mode");
        if ((!origin || !strcmp(origin, "default")) &&
            sl_conf_set_from(conf, "schema.mode", "fixed", "bench default", errstr, sizeof(errstr)))
                return sl_cli_fail(cli, "%s", errstr);

        for (uint32_t i = 0; i <= SL_BENCH_KEYS; i++)
                snprintf(sl_bench_ids[i], sizeof(sl_bench_ids[i]), "bench-%04" PRIu32, i);
        if ((ret = sl_bench_pad(cli, (int32_t)sl_conf_get_int(conf, "schema.id"), size, &pad,
                                &pad_len, &actual)))
                return ret;
        if ((ret = sl_cli_outbox_tmp_prepare(cli, "seerlog-bench", outbox_tmp, sizeof(outbox_tmp))))
                goto done;
        for (size_t i = 0; i < SL_BENCH_BATCH; i++) {
                if (!(evs[i] = sl_event_new())) {
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
        }
        if (!(p = sl_producer_new(conf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        sl_cli_trap_signals();
        fprintf(stderr,
                "bench produce: %" PRId64 " events to %s, record value %zu bytes (pad %zu), "
                "outbox %s, schema.mode %s\n",
                events, topic, actual, pad_len,
                sl_conf_get_bool(conf, "outbox.enable") ? "on" : "off",
                sl_conf_get(conf, "schema.mode"));

        /* Warm-up, not measured: connection, topic, schema id. */
        if ((err = sl_bench_event(evs[0], pad, pad_len, SL_BENCH_KEYS, incarnation, 0)) ||
            (err = sl_producer_stamp(p, evs[0], errstr, sizeof(errstr))) ||
            (err = sl_producer_publish(p, evs[0], errstr, sizeof(errstr))) ||
            (err = sl_producer_flush(p, 60000))) {
                ret = sl_cli_fail(cli, "warm-up event: %s: %s", sl_err_str(err),
                                  err == SL_ERR_TIMEOUT ? "not delivered within 60 s" : errstr);
                goto done;
        }

        t0 = sl_cli_now_mono_ms();
        while (done_cnt < events && !sl_cli_interrupted()) {
                size_t cnt = events - done_cnt < SL_BENCH_BATCH ? (size_t)(events - done_cnt)
                                                                : SL_BENCH_BATCH;

                for (size_t i = 0; i < cnt; i++) {
                        uint32_t key = (uint32_t)((done_cnt + (int64_t)i) % SL_BENCH_KEYS);

                        if ((err = sl_bench_event(evs[i], pad, pad_len, key, incarnation,
                                                  seqs[key]++)) ||
                            (err = sl_producer_stamp(p, evs[i], errstr, sizeof(errstr)))) {
                                ret = sl_cli_fail(cli, "building an event: %s", sl_err_str(err));
                                goto done;
                        }
                }
                if ((err = sl_producer_publish_batch(p, evs, cnt, errstr, sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "publishing: %s: %s", sl_err_str(err), errstr);
                        goto done;
                }
                done_cnt += (int64_t)cnt;
                sl_producer_poll(p, 0);
        }
        err = sl_producer_flush(p, SL_BENCH_FLUSH_TIMEOUT);
        t1 = sl_cli_now_mono_ms();
        sl_producer_stats(p, &st);
        if (err || st.sent < st.accepted) {
                ret = sl_cli_fail(cli, "%" PRIu64 " of %" PRIu64 " events not delivered: %s",
                                  st.accepted - st.sent, st.accepted, sl_err_str(err));
                goto done;
        }
        /* Every event a record of its own (the warm-up event is the one more). */
        if (done_cnt == events && (st.coalesced || st.sent != (uint64_t)events + 1)) {
                ret = sl_cli_fail(cli,
                                  "%" PRIu64 " records delivered for %" PRId64 " events (%" PRIu64
                                  " coalesced): not a measurement of them",
                                  st.sent ? st.sent - 1 : 0, events, st.coalesced);
                goto done;
        }
        if (done_cnt < events) {
                ret = sl_cli_fail(cli, "interrupted after %" PRId64 " events", done_cnt);
                goto done;
        }
        secs = (double)(t1 - t0) / 1000.0;
        if (secs <= 0)
                secs = 0.001;
        printf("bench produce: %" PRId64 " events, %" PRId64 " bytes, outbox %s: %.0f events/s, "
               "%.1f MB/s\n",
               events, (int64_t)actual, sl_conf_get_bool(conf, "outbox.enable") ? "on" : "off",
               (double)events / secs, (double)events * (double)actual / secs / 1e6);
        fflush(stdout);
        ret = SL_EXIT_OK;

done:
        if (p)
                sl_producer_destroy(p, 0);
        for (size_t i = 0; i < SL_BENCH_BATCH; i++)
                sl_event_destroy(evs[i]);
        free(pad);
        sl_cli_outbox_tmp_cleanup(outbox_tmp);
        return ret;
}

static int sl_bench_run(sl_cli_t *cli)
{
        if (sl_cli_argc(cli) != 1)
                return sl_cli_usage_error(cli, "expected what to measure: produce");
        if (strcmp(sl_cli_arg(cli, 0), "produce"))
                return sl_cli_usage_error(cli, "unknown benchmark '%s' (expected produce)",
                                          sl_cli_arg(cli, 0));
        return sl_bench_produce(cli);
}
