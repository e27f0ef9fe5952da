/*
 * Unit tests of the producer library (producer/): name and topic validation, topic.template
 * expansion, the outbox (persistence, replay order, seq continuity, the lock), coalescing under a
 * full librdkafka queue, the lag read from the control topic and the heartbeat hysteresis.
 * Kafka is librdkafka's in-process mock cluster; nothing here needs a real broker.
 */
#include <avro.h>
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sl_producer.h"

static char errstr[512];

/* ---------------------------------------------------------------------------------------- */
/* Names and topics */

Test(names, valid)
{
        char longest[SL_NAME_MAX + 1];

        memset(longest, 'a', SL_NAME_MAX);
        longest[SL_NAME_MAX] = '\0';
        cr_assert_eq(sl_name_validate("node id", "n-1.x_Y9", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_name_validate("node id", longest, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_name_validate("region", "...", errstr, sizeof(errstr)), SL_OK);
}

Test(names, invalid)
{
        static const char *const bad[] = {"",    ".",         "..",   "a/b",  "a b",
                                          "a:b", "n\xc3\xa4", "a\nb", "a{b}", "a*",
                                          "-\t", "a,b",       "a#",   "é",    "a\\b"};
        char toolong[SL_NAME_MAX + 2];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                errstr[0] = '\0';
                cr_expect_eq(sl_name_validate("node id", bad[i], errstr, sizeof(errstr)),
                             SL_ERR_INVALID_ARG, "accepted \"%s\"", bad[i]);
                cr_expect(strstr(errstr, "node id"), "message names the thing: %s", errstr);
        }
        cr_expect_eq(sl_name_validate("type", NULL, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "type is empty"), "%s", errstr);
        memset(toolong, 'a', SL_NAME_MAX + 1);
        toolong[SL_NAME_MAX + 1] = '\0';
        cr_expect_eq(sl_name_validate("region", toolong, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "more than 128"), "%s", errstr);
        cr_expect_eq(sl_name_validate("region", "a b", errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "' '"), "names the character: %s", errstr);
}

Test(topics, expand)
{
        char out[256];

        cr_assert_eq(sl_topic_expand("seerlog.state.{region}.{type}", "eu-west", "seer", out,
                                     sizeof(out), errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_expect_str_eq(out, "seerlog.state.eu-west.seer");
        cr_assert_eq(
            sl_topic_expand("one-topic", "eu", "seer", out, sizeof(out), errstr, sizeof(errstr)),
            SL_OK);
        cr_expect_str_eq(out, "one-topic");
        cr_assert_eq(sl_topic_expand("{type}_{region}_{type}", "r", "t", out, sizeof(out), errstr,
                                     sizeof(errstr)),
                     SL_OK);
        cr_expect_str_eq(out, "t_r_t");
        /* A single-topic template does not care about region or type. */
        cr_assert_eq(sl_topic_expand("all", "", NULL, out, sizeof(out), errstr, sizeof(errstr)),
                     SL_OK);
}

Test(topics, invalid)
{
        static const struct {
                const char *tmpl, *region, *type, *want;
        } bad[] = {
            {"", "r", "t", "empty"},
            {"s.{node}", "r", "t", "unknown placeholder {node}"},
            {"s.{region", "r", "t", "without '}'"},
            {"s.region}", "r", "t", "without '{'"},
            {"s.{}", "r", "t", "unknown placeholder"},
            {"s {region}", "r", "t", "not allowed"},
            {"s/{region}", "r", "t", "not allowed"},
            {"s.{region}", "", "t", "region is empty"},
            {"s.{region}", "a/b", "t", "region"},
            {"s.{type}", "r", "..", "type"},
            {"s.{type}", "r", NULL, "type is empty"},
            {".", "r", "t", "invalid topic name"},
            {"..", "r", "t", "invalid topic name"},
            {"{region}", ".", "t", "region"},
        };
        char out[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                errstr[0] = '\0';
                cr_expect_eq(sl_topic_expand(bad[i].tmpl, bad[i].region, bad[i].type, out,
                                             sizeof(out), errstr, sizeof(errstr)),
                             SL_ERR_INVALID_ARG, "accepted \"%s\"", bad[i].tmpl);
                cr_expect(strstr(errstr, bad[i].want), "\"%s\": %s (want %s)", bad[i].tmpl, errstr,
                          bad[i].want);
        }
}

Test(topics, too_long)
{
        char region[SL_NAME_MAX + 1], type[SL_NAME_MAX + 1], out[512], tmpl[300];

        memset(region, 'r', SL_NAME_MAX);
        region[SL_NAME_MAX] = '\0';
        memset(type, 't', SL_NAME_MAX);
        type[SL_NAME_MAX] = '\0';
        cr_expect_eq(sl_topic_expand("{region}.{type}", region, type, out, sizeof(out), errstr,
                                     sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "longer than 249"), "%s", errstr);
        /* 249 is fine, 250 is not. */
        memset(tmpl, 'x', 249);
        tmpl[249] = '\0';
        cr_expect_eq(sl_topic_expand(tmpl, "r", "t", out, sizeof(out), errstr, sizeof(errstr)),
                     SL_OK);
        tmpl[249] = 'x';
        tmpl[250] = '\0';
        cr_expect_eq(sl_topic_expand(tmpl, "r", "t", out, sizeof(out), errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        /* A small output buffer is an error, not an overflow. */
        cr_expect_eq(sl_topic_expand("abcdef", "r", "t", out, 4, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers for the producer tests */

static char tmpdir[256];

static void mk_tmpdir(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-test-producer.XXXXXX");
        cr_assert(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_expect_eq(system(cmd), 0);
}

static sl_conf_t *mk_conf(const char *bootstrap, const char *const *kv)
{
        sl_conf_t *conf = sl_conf_new();
        char dir[300];

        cr_assert(conf);
        snprintf(dir, sizeof(dir), "%s/outbox", tmpdir);
        cr_assert_eq(sl_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "outbox.dir", dir, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "schema.mode", "fixed", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "topic.create", "false", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "control.topic", "", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "log.level", "error", errstr, sizeof(errstr)), SL_OK);
        for (; kv && kv[0]; kv += 2)
                cr_assert_eq(sl_conf_set(conf, kv[0], kv[1], errstr, sizeof(errstr)), SL_OK,
                             "%s=%s: %s", kv[0], kv[1], errstr);
        return conf;
}

static sl_event_t *mk_event(const char *node, sl_event_kind_t kind)
{
        sl_event_t *ev = sl_event_new();

        cr_assert(ev);
        cr_assert_eq(sl_event_set(ev, &ev->node_id, node), SL_OK);
        cr_assert_eq(sl_event_set(ev, &ev->node_type, "seer"), SL_OK);
        cr_assert_eq(sl_event_set(ev, &ev->region, "eu"), SL_OK);
        ev->kind = kind;
        ev->status = SL_STATUS_UP;
        ev->source = SL_SOURCE_AGENT;
        return ev;
}

static void publish_one(sl_producer_t *p, const char *node, sl_event_kind_t kind, int64_t *incp,
                        int64_t *seqp)
{
        sl_event_t *ev = mk_event(node, kind);

        cr_assert_eq(sl_producer_stamp(p, ev, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_producer_publish(p, ev, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        if (incp)
                *incp = ev->incarnation;
        if (seqp)
                *seqp = ev->seq;
        sl_event_destroy(ev);
}

/* A mock cluster, run by a throwaway producer handle. */
typedef struct {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        char bootstrap[128];
} mock_t;

static void mock_start(mock_t *m)
{
        rd_kafka_conf_t *c = rd_kafka_conf_new();

        cr_assert_eq(rd_kafka_conf_set(c, "log_level", "0", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
        cr_assert((m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr))), "%s",
                  errstr);
        cr_assert((m->mc = rd_kafka_mock_cluster_new(m->rk, 1)));
        snprintf(m->bootstrap, sizeof(m->bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
}

static void mock_stop(mock_t *m)
{
        rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->rk);
}

/* Reads every record of @p topic (partition 0..3) until @p want arrived or 10 s passed. */
typedef struct {
        char node[64];
        int64_t inc, seq;
        int kind;
} got_t;

static size_t consume_all(const char *bootstrap, const char *topic, int parts, got_t *got,
                          size_t max, size_t want)
{
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
        sl_codec_t *codec = sl_codec_new(1, errstr, sizeof(errstr));
        sl_event_t *ev = sl_event_new();
        size_t n = 0;
        time_t end = time(NULL) + 10;

        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "log_level", "0", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "group.id", "test-producer", errstr, sizeof(errstr));
        cr_assert((rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr))));
        for (int i = 0; i < parts; i++)
                rd_kafka_topic_partition_list_add(tp, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        cr_assert_eq(rd_kafka_assign(rk, tp), 0);
        rd_kafka_topic_partition_list_destroy(tp);
        while (n < want && time(NULL) < end) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

                if (!m)
                        continue;
                if (!m->err && n < max &&
                    sl_codec_decode(codec, m->payload, m->len, ev, errstr, sizeof(errstr)) ==
                        SL_OK) {
                        snprintf(got[n].node, sizeof(got[n].node), "%s", ev->node_id);
                        got[n].inc = ev->incarnation;
                        got[n].seq = ev->seq;
                        got[n].kind = ev->kind;
                        n++;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
        return n;
}

/* ---------------------------------------------------------------------------------------- */
/* The outbox */

Test(outbox, persists_replays_in_order_and_continues_seq, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        /* No broker: nothing is delivered, everything stays in the outbox. */
        sl_conf_t *conf = mk_conf("127.0.0.1:1", NULL);
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        sl_producer_stats_t st;
        int64_t inc1 = 0, seq = -1, inc2 = 0, seq2 = -1;
        mock_t m;
        got_t got[64];
        size_t n;

        cr_assert(p, "%s", errstr);
        for (int i = 0; i < 20; i++)
                publish_one(p, i % 2 ? "n-b" : "n-a", SL_KIND_STATUS_CHANGE, &inc1, &seq);
        cr_expect_eq(seq, 9, "seq per node: %lld", (long long)seq);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.accepted, 20);
        cr_expect_eq(st.outbox_depth, 20);
        sl_producer_destroy(p, 0);

        /* Reopen: the 20 records are there, and seq goes on from 9 in a new incarnation. */
        usleep(2000);
        p = sl_producer_new(conf, errstr, sizeof(errstr));
        cr_assert(p, "%s", errstr);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.replayed, 20);
        cr_expect_eq(st.outbox_depth, 20);
        publish_one(p, "n-b", SL_KIND_STATUS_CHANGE, &inc2, &seq2);
        cr_expect_gt(inc2, inc1);
        cr_expect_eq(seq2, 10);
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);

        /* A broker at last: every record arrives, in outbox order. */
        mock_start(&m);
        conf = mk_conf(m.bootstrap, NULL);
        cr_assert(rd_kafka_mock_topic_create(m.mc, "seerlog.state.eu.seer", 1, 1) == 0);
        p = sl_producer_new(conf, errstr, sizeof(errstr));
        cr_assert(p, "%s", errstr);
        cr_expect_eq(sl_producer_flush(p, 10000), SL_OK);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.sent, 21);
        cr_expect_eq(st.outbox_depth, 0);
        sl_producer_destroy(p, 1000);
        sl_conf_destroy(conf);
        n = consume_all(m.bootstrap, "seerlog.state.eu.seer", 1, got, 64, 21);
        cr_expect_eq(n, 21);
        for (size_t i = 0; i < n && i < 20; i++) {
                cr_expect_str_eq(got[i].node, i % 2 ? "n-b" : "n-a");
                cr_expect_eq(got[i].seq, (int64_t)i / 2);
        }
        cr_expect_eq(got[20].seq, 10);
        mock_stop(&m);
}

Test(outbox, second_opener_is_refused, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf = mk_conf("127.0.0.1:1", NULL);
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr)), *q;

        cr_assert(p, "%s", errstr);
        q = sl_producer_new(conf, errstr, sizeof(errstr));
        cr_expect_null(q);
        cr_expect(strstr(errstr, "in use by another process"), "%s", errstr);
        sl_producer_destroy(p, 0);
        /* Released on destroy. */
        q = sl_producer_new(conf, errstr, sizeof(errstr));
        cr_expect(q, "%s", errstr);
        sl_producer_destroy(q, 0);
        sl_conf_destroy(conf);
}

Test(outbox, full, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf =
            mk_conf("127.0.0.1:1", (const char *const[]){"outbox.max.bytes", "1048576", NULL});
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        sl_event_t *ev = mk_event("big", SL_KIND_STATUS_CHANGE);
        char label[3000];
        sl_err_t err = SL_OK;
        int i;

        cr_assert(p, "%s", errstr);
        memset(label, 'x', sizeof(label) - 1);
        label[sizeof(label) - 1] = '\0';
        cr_assert_eq(sl_event_add_label(ev, "big", label), SL_OK);
        for (i = 0; i < 2000 && !err; i++) {
                ev->incarnation = 0;
                err = sl_producer_publish(p, ev, errstr, sizeof(errstr));
        }
        cr_expect_eq(err, SL_ERR_IO);
        cr_expect(strstr(errstr, "outbox full (outbox.max.bytes"), "%s", errstr);
        sl_event_destroy(ev);
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}

Test(producer, refuses_bad_config_and_events, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf = mk_conf("127.0.0.1:1", (const char *const[]){"acks", "1", NULL});
        sl_producer_t *p;
        sl_event_t *ev;

        cr_expect_null(sl_producer_new(conf, errstr, sizeof(errstr)));
        cr_expect(strstr(errstr, "acks"), "%s", errstr);
        sl_conf_destroy(conf);
        conf = mk_conf("127.0.0.1:1", (const char *const[]){"enable.idempotence", "false", NULL});
        cr_expect_null(sl_producer_new(conf, errstr, sizeof(errstr)));
        cr_expect(strstr(errstr, "enable.idempotence"), "%s", errstr);
        sl_conf_destroy(conf);
        conf = mk_conf("127.0.0.1:1", (const char *const[]){"topic.template", "a.{node}", NULL});
        cr_expect_null(sl_producer_new(conf, errstr, sizeof(errstr)));
        cr_expect(strstr(errstr, "{node}"), "%s", errstr);
        sl_conf_destroy(conf);

        conf = mk_conf("127.0.0.1:1", NULL);
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        ev = mk_event("bad node", SL_KIND_JOIN);
        cr_expect_eq(sl_producer_publish(p, ev, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "node id"), "%s", errstr);
        sl_event_destroy(ev);
        ev = mk_event("n1", SL_KIND_JOIN);
        cr_assert_eq(sl_event_set(ev, &ev->region, "eu/west"), SL_OK);
        cr_expect_eq(sl_producer_publish(p, ev, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "region"), "%s", errstr);
        sl_event_destroy(ev);
        {
                sl_producer_stats_t st;

                sl_producer_stats(p, &st);
                cr_expect_eq(st.rejected, 2);
                cr_expect_eq(st.accepted, 0);
                cr_expect_eq(st.outbox_depth, 0);
        }
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}

/* ---------------------------------------------------------------------------------------- */
/* Coalescing under a full librdkafka queue */

static void stats_of(sl_producer_t *p, sl_producer_stats_t *st)
{
        sl_producer_stats(p, st);
}

/* What the accept callback reported (sl_producer_set_accept_cb()). */
typedef struct {
        char node[16];
        int64_t inc, seq;
} acc_t;
static acc_t accs[64];
static size_t acc_n;

static void on_accept(const char *node, int64_t inc, int64_t seq, void *opaque)
{
        (void)opaque;
        cr_assert_lt(acc_n, 64);
        snprintf(accs[acc_n].node, sizeof(accs[acc_n].node), "%s", node);
        accs[acc_n].inc = inc;
        accs[acc_n++].seq = seq;
}

Test(coalesce, with_outbox, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        mock_t m;
        sl_conf_t *conf;
        sl_producer_t *p;
        sl_producer_stats_t st;
        got_t got[64];
        size_t n;
        int hb_n1 = 0, status = 0, usage_n2 = 0;
        int64_t last_hb_seq = -1, seq;

        mock_start(&m);
        cr_assert(rd_kafka_mock_topic_create(m.mc, "coalesce", 1, 1) == 0);
        /* No poll between publishes: delivered messages still count until their reports are
         * served, so the queue is full after 4. */
        conf =
            mk_conf(m.bootstrap, (const char *const[]){"topic.template", "coalesce",
                                                       "queue.buffering.max.messages", "4", NULL});
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        acc_n = 0;
        sl_producer_set_accept_cb(p, on_accept, NULL);
        publish_one(p, "n1", SL_KIND_STATUS_CHANGE, NULL, NULL);
        publish_one(p, "n2", SL_KIND_STATUS_CHANGE, NULL, NULL);
        publish_one(p, "n3", SL_KIND_STATUS_CHANGE, NULL, NULL);
        publish_one(p, "n4", SL_KIND_STATUS_CHANGE, NULL, NULL);
        /* Queue full: accepted anyway (outbox), waits for room. */
        publish_one(p, "n5", SL_KIND_STATUS_CHANGE, NULL, NULL);
        stats_of(p, &st);
        cr_expect_eq(st.accepted, 5);
        cr_expect_eq(st.in_flight, 4);
        /* Heartbeats of n1 collapse to the latest; n2's usage is dropped by its status change. */
        publish_one(p, "n1", SL_KIND_HEARTBEAT, NULL, NULL);
        publish_one(p, "n1", SL_KIND_HEARTBEAT, NULL, NULL);
        publish_one(p, "n1", SL_KIND_HEARTBEAT, NULL, &last_hb_seq);
        publish_one(p, "n2", SL_KIND_USAGE, NULL, NULL);
        stats_of(p, &st);
        cr_expect_eq(st.parked, 2);
        cr_expect_eq(st.coalesced, 2);
        cr_expect_eq(st.accepted, 5);
        cr_expect_eq(acc_n, 5, "parked events are not reported as accepted");
        publish_one(p, "n2", SL_KIND_SERVICES, NULL, NULL);
        stats_of(p, &st);
        cr_expect_eq(st.parked, 1);
        cr_expect_eq(st.coalesced, 3);
        cr_expect_eq(st.accepted, 6);
        cr_expect_eq(st.outbox_depth, 6);

        cr_expect_eq(sl_producer_flush(p, 10000), SL_OK);
        stats_of(p, &st);
        cr_expect_eq(st.sent, 7);
        /* Each accepted event reported once, when accepted: the parked heartbeat last. */
        cr_expect_eq(acc_n, st.accepted);
        cr_expect_eq(acc_n, 7);
        cr_expect_str_eq(accs[0].node, "n1");
        cr_expect_str_eq(accs[5].node, "n2");
        cr_expect_str_eq(accs[6].node, "n1");
        cr_expect_eq(accs[6].seq, last_hb_seq);
        cr_expect_eq(accs[6].inc, accs[0].inc);
        cr_expect_eq(st.parked, 0);
        cr_expect_eq(st.outbox_depth, 0);
        sl_producer_destroy(p, 1000);
        sl_conf_destroy(conf);

        n = consume_all(m.bootstrap, "coalesce", 1, got, 64, 7);
        cr_expect_eq(n, 7);
        for (size_t i = 0; i < n; i++) {
                if (got[i].kind == SL_KIND_HEARTBEAT) {
                        cr_expect_str_eq(got[i].node, "n1");
                        hb_n1++;
                        seq = got[i].seq;
                        cr_expect_eq(seq, last_hb_seq, "the latest heartbeat is kept");
                } else if (got[i].kind == SL_KIND_USAGE) {
                        usage_n2++;
                } else {
                        status++;
                }
        }
        cr_expect_eq(hb_n1, 1);
        cr_expect_eq(usage_n2, 0);
        cr_expect_eq(status, 6);
        mock_stop(&m);
}

Test(coalesce, without_outbox, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        mock_t m;
        sl_conf_t *conf;
        sl_producer_t *p;
        sl_producer_stats_t st;
        got_t got[64];
        size_t n;

        mock_start(&m);
        cr_assert(rd_kafka_mock_topic_create(m.mc, "coalesce2", 1, 1) == 0);
        conf = mk_conf(m.bootstrap,
                       (const char *const[]){"topic.template", "coalesce2", "outbox.enable",
                                             "false", "queue.buffering.max.messages", "2", NULL});
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        publish_one(p, "n1", SL_KIND_JOIN, NULL, NULL);
        publish_one(p, "n2", SL_KIND_JOIN, NULL, NULL);
        publish_one(p, "n1", SL_KIND_HEARTBEAT, NULL, NULL);
        publish_one(p, "n1", SL_KIND_USAGE, NULL, NULL);
        stats_of(p, &st);
        cr_expect_eq(st.parked, 1);
        cr_expect_eq(st.coalesced, 1);
        /* A status change waits for room (serving reports) and is never dropped. */
        publish_one(p, "n2", SL_KIND_STATUS_CHANGE, NULL, NULL);
        stats_of(p, &st);
        cr_expect_eq(st.accepted, 3);
        cr_expect_eq(sl_producer_flush(p, 10000), SL_OK);
        stats_of(p, &st);
        cr_expect_eq(st.sent, 4);
        cr_expect_eq(st.outbox_depth, 0);
        sl_producer_destroy(p, 1000);
        sl_conf_destroy(conf);
        n = consume_all(m.bootstrap, "coalesce2", 1, got, 64, 4);
        cr_expect_eq(n, 4);
        mock_stop(&m);
}

/*
 * Without the outbox, batches go to librdkafka in runs of rd_kafka_produce_batch() from slabs.
 * With a 40-message queue, 30 batches of 40 events (10 nodes, each 4 times per batch, so runs
 * split; every fourth event a status change) keep finding the queue full mid-run: status
 * changes wait for room, heartbeats park and coalesce. Every node's records must arrive in seq
 * order, every status change must arrive, and accepted + coalesced must account for every
 * event. A 300 KB event (larger than a slab) goes through too.
 */
Test(producer, batches_without_outbox_keep_each_nodes_order, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        enum { BATCHES = 30, PER = 40, NODES = 10, TOTAL = BATCHES * PER + 1 };
        static got_t got[TOTAL + 16];
        static int64_t status_seqs[NODES][BATCHES * PER];
        size_t status_cnt[NODES] = {0}, n, found;
        sl_event_t *evs[PER];
        sl_producer_stats_t st;
        sl_producer_t *p;
        sl_conf_t *conf;
        char *big;
        mock_t m;

        mock_start(&m);
        cr_assert(rd_kafka_mock_topic_create(m.mc, "runs", 3, 1) == 0);
        conf = mk_conf(m.bootstrap,
                       (const char *const[]){"topic.template", "runs", "outbox.enable", "false",
                                             "queue.buffering.max.messages", "40", NULL});
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        for (int b = 0; b < BATCHES; b++) {
                for (int i = 0; i < PER; i++) {
                        char node[16];

                        snprintf(node, sizeof(node), "n%d", i % NODES);
                        evs[i] =
                            mk_event(node, i % 4 == 3 ? SL_KIND_STATUS_CHANGE : SL_KIND_HEARTBEAT);
                        cr_assert_eq(sl_producer_stamp(p, evs[i], errstr, sizeof(errstr)), SL_OK);
                        if (evs[i]->kind == SL_KIND_STATUS_CHANGE)
                                status_seqs[i % NODES][status_cnt[i % NODES]++] = evs[i]->seq;
                }
                cr_assert_eq(sl_producer_publish_batch(p, evs, PER, errstr, sizeof(errstr)), SL_OK,
                             "%s", errstr);
                for (int i = 0; i < PER; i++)
                        sl_event_destroy(evs[i]);
        }
        /* About 320 KiB, within the event limits (SL_EVENT_MAX_*): 64 labels and 16 service
         * meta entries of 4 KiB each. */
        big = malloc(SL_EVENT_MAX_VALUE_LEN + 1);
        memset(big, 'b', SL_EVENT_MAX_VALUE_LEN);
        big[SL_EVENT_MAX_VALUE_LEN] = 0;
        evs[0] = mk_event("n-big", SL_KIND_STATUS_CHANGE);
        cr_assert_eq(sl_event_add_service(evs[0], "big"), SL_OK);
        for (int i = 0; i < SL_EVENT_MAX_LABELS + 16; i++) {
                char key[16];

                snprintf(key, sizeof(key), "big%d", i);
                cr_assert_eq(i < SL_EVENT_MAX_LABELS ? sl_event_add_label(evs[0], key, big)
                                                     : sl_event_add_service_meta(evs[0], key, big),
                             SL_OK);
        }
        cr_assert_eq(sl_producer_publish(p, evs[0], errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        sl_event_destroy(evs[0]);
        free(big);

        cr_assert_eq(sl_producer_flush(p, 20000), SL_OK);
        stats_of(p, &st);
        cr_expect_eq(st.accepted + st.coalesced, TOTAL, "accepted %llu + coalesced %llu",
                     (unsigned long long)st.accepted, (unsigned long long)st.coalesced);
        cr_expect_gt(st.coalesced, 0, "the queue never filled: the test proves nothing");
        cr_expect_eq(st.sent, st.accepted);
        cr_expect_eq(st.in_flight, 0);
        cr_expect_eq(st.parked, 0);
        sl_producer_destroy(p, 1000);
        sl_conf_destroy(conf);

        n = consume_all(m.bootstrap, "runs", 3, got, sizeof(got) / sizeof(got[0]), st.sent);
        cr_assert_eq(n, st.sent);
        found = 0;
        for (int node = 0; node < NODES; node++) {
                char name[16];
                int64_t last = -1;
                size_t si = 0;

                snprintf(name, sizeof(name), "n%d", node);
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(got[i].node, name))
                                continue;
                        cr_assert_gt(got[i].seq, last, "%s: seq %lld after %lld", name,
                                     (long long)got[i].seq, (long long)last);
                        last = got[i].seq;
                        if (si < status_cnt[node] && got[i].seq == status_seqs[node][si])
                                si++;
                }
                cr_expect_eq(si, status_cnt[node], "%s: %zu of %zu status changes arrived", name,
                             si, status_cnt[node]);
                found += si;
        }
        cr_expect_eq(found, BATCHES * PER / 4);
        for (size_t i = 0; i < n; i++)
                if (!strcmp(got[i].node, "n-big"))
                        found++;
        cr_expect_eq(found, BATCHES * PER / 4 + 1, "the 300 KB event arrived");
        mock_stop(&m);
}

/* ---------------------------------------------------------------------------------------- */
/* The control topic and the heartbeat hysteresis */

static void put_lag(mock_t *m, int64_t lag)
{
        sl_lag_report_t rep = {.projector_id = "proj-1", .group_id = "g", .lag = lag};
        sl_buf_t buf = {0};
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set(c, "bootstrap.servers", m->bootstrap, errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "log_level", "0", errstr, sizeof(errstr));
        cr_assert((rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr))));
        rep.updated_ms = (int64_t)time(NULL) * 1000;
        cr_assert_eq(sl_lag_report_encode(&rep, 7, &buf, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("ctl"), RD_KAFKA_V_KEY("proj-1", 6),
                                       RD_KAFKA_V_VALUE(buf.data, buf.len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
        cr_assert_eq(rd_kafka_flush(rk, 5000), 0);
        rd_kafka_destroy(rk);
        sl_buf_free(&buf);
}

static void await_lag(sl_producer_t *p, int64_t lag)
{
        sl_producer_stats_t st;

        for (int i = 0; i < 200; i++) {
                sl_producer_poll(p, 50);
                sl_producer_stats(p, &st);
                if (st.lag == lag)
                        return;
        }
        cr_assert_fail("lag %lld never seen (last %lld)", (long long)lag, (long long)st.lag);
}

Test(control, lag_and_hysteresis, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        mock_t m;
        sl_conf_t *conf;
        sl_producer_t *p;
        sl_producer_stats_t st;

        mock_start(&m);
        cr_assert(rd_kafka_mock_topic_create(m.mc, "ctl", 1, 1) == 0);
        conf = mk_conf(m.bootstrap,
                       (const char *const[]){"control.topic", "ctl", "lag.high", "100", "lag.low",
                                             "10", "heartbeat.interval.ms", "40",
                                             "heartbeat.max.interval.ms", "160", NULL});
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 40);
        put_lag(&m, 500);
        await_lag(p, 500);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 40);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.throttled, 1);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 40, "not before the interval elapsed");
        usleep(45000);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 80);
        usleep(85000);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 160);
        usleep(165000);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 160, "capped");
        /* Between low and high: stays stretched (hysteresis). */
        put_lag(&m, 50);
        await_lag(p, 50);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 160);
        put_lag(&m, 5);
        await_lag(p, 5);
        cr_expect_eq(sl_producer_heartbeat_interval(p), 40);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.throttled, 0);
        sl_producer_destroy(p, 1000);
        sl_conf_destroy(conf);
        mock_stop(&m);
}

Test(control, encode_decode_shape)
{
        sl_lag_report_t rep = {.projector_id = "p", .group_id = "", .lag = 1, .updated_ms = 2};
        sl_buf_t buf = {0};

        cr_assert_eq(sl_lag_report_encode(&rep, 258, &buf, errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(buf.len, 5 + 2 + 1 + 1 + 1 + 1); /* ... and an empty partitions array */
        cr_expect_eq(buf.data[0], 0);
        cr_expect_eq(buf.data[3], 1);
        cr_expect_eq(buf.data[4], 2);
        cr_expect_eq(buf.data[5], 2); /* zig-zag length 1 */
        cr_expect_eq(buf.data[6], 'p');
        cr_expect_eq(sl_lag_report_encode(NULL, 1, &buf, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        sl_buf_free(&buf);
        cr_expect(strstr(sl_control_schema_text(), "ProjectorLag"));
}

/* The partitions of a report, written by hand, read by Avro C with schemas/control.avsc. */
Test(control, partitions_read_by_avro_c)
{
        sl_partition_lag_t pl[2] = {{"t.a", 0, 5}, {"t.b", 3, 70000}};
        sl_lag_report_t rep = {.projector_id = "p",
                               .group_id = "g",
                               .lag = 70005,
                               .updated_ms = 99,
                               .partitions = pl,
                               .partition_cnt = 2};
        const char *text = sl_control_schema_text();
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t v, parts, item, f;
        avro_reader_t r;
        sl_buf_t buf = {0};
        const char *str;
        size_t n, size;
        int32_t i32;
        int64_t i64;

        cr_assert_eq(sl_lag_report_encode(&rep, 9, &buf, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(avro_schema_from_json_length(text, strlen(text), &schema), 0, "%s",
                     avro_strerror());
        iface = avro_generic_class_from_schema(schema);
        cr_assert_eq(avro_generic_value_new(iface, &v), 0);
        r = avro_reader_memory((const char *)buf.data + 5, (int64_t)(buf.len - 5));
        cr_assert_eq(avro_value_read(r, &v), 0, "%s", avro_strerror());
        cr_assert_eq(avro_value_get_by_name(&v, "lag", &f, NULL), 0);
        avro_value_get_long(&f, &i64);
        cr_expect_eq(i64, 70005);
        cr_assert_eq(avro_value_get_by_name(&v, "partitions", &parts, NULL), 0);
        avro_value_get_size(&parts, &n);
        cr_assert_eq(n, 2);
        cr_assert_eq(avro_value_get_by_index(&parts, 1, &item, NULL), 0);
        avro_value_get_by_name(&item, "topic", &f, NULL);
        avro_value_get_string(&f, &str, &size);
        cr_expect_str_eq(str, "t.b");
        avro_value_get_by_name(&item, "partition", &f, NULL);
        avro_value_get_int(&f, &i32);
        cr_expect_eq(i32, 3);
        avro_value_get_by_name(&item, "lag", &f, NULL);
        avro_value_get_long(&f, &i64);
        cr_expect_eq(i64, 70000);
        avro_reader_free(r);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        sl_buf_free(&buf);
}

Test(producer, refuses_records_larger_than_message_max_bytes, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf =
            mk_conf("127.0.0.1:1", (const char *const[]){"message.max.bytes", "2000", NULL});
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        sl_event_t *ev = mk_event("n1", SL_KIND_JOIN);
        char label[3000];
        sl_producer_stats_t st;

        cr_assert(p, "%s", errstr);
        memset(label, 'x', sizeof(label) - 1);
        label[sizeof(label) - 1] = '\0';
        cr_assert_eq(sl_event_add_label(ev, "big", label), SL_OK);
        cr_expect_eq(sl_producer_publish(p, ev, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "message.max.bytes"), "%s", errstr);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.outbox_depth, 0);
        cr_expect_eq(st.rejected, 1);
        sl_event_destroy(ev);
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}

Test(producer, batch_is_all_or_nothing, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf = mk_conf("127.0.0.1:1", NULL);
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        sl_event_t *evs[20];
        sl_producer_stats_t st;

        cr_assert(p, "%s", errstr);
        for (int i = 0; i < 20; i++)
                evs[i] = mk_event(i == 17 ? "bad/node" : "n1", SL_KIND_STATUS_CHANGE);
        cr_expect_eq(sl_producer_publish_batch(p, evs, 20, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.accepted, 0);
        cr_expect_eq(st.outbox_depth, 0);
        cr_assert_eq(sl_event_set(evs[17], &evs[17]->node_id, "n2"), SL_OK);
        cr_expect_eq(sl_producer_publish_batch(p, evs, 20, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        sl_producer_stats(p, &st);
        cr_expect_eq(st.accepted, 20);
        cr_expect_eq(st.outbox_depth, 20);
        /* Stamped in order: n1's seq strictly increasing. */
        for (int i = 1; i < 20; i++)
                if (i != 17 && i - 1 != 17)
                        cr_expect_gt(evs[i]->seq, evs[i - 1]->seq);
        for (int i = 0; i < 20; i++)
                sl_event_destroy(evs[i]);
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}

static void expect_rk_conf(rd_kafka_t *rk, const char *name, const char *want)
{
        char val[256];
        size_t size = sizeof(val);

        cr_assert_eq(rd_kafka_conf_get(rd_kafka_conf(rk), name, val, &size), RD_KAFKA_CONF_OK, "%s",
                     name);
        cr_expect_str_eq(val, want, "%s", name);
}

Test(producer, passes_librdkafka_properties_through, .init = mk_tmpdir, .fini = rm_tmpdir)
{
        sl_conf_t *conf =
            mk_conf("127.0.0.1:1",
                    (const char *const[]){"linger.ms", "7", "kafka.client.id", "my-agent",
                                          "security.protocol", "sasl_plaintext", "sasl.mechanisms",
                                          "PLAIN", "sasl.username", "u", "sasl.password", "secret",
                                          "delivery.timeout.ms", "12345", NULL});
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        rd_kafka_t *rk;

        cr_assert(p, "%s", errstr);
        rk = sl_producer_rk(p);
        expect_rk_conf(rk, "linger.ms", "7");
        expect_rk_conf(rk, "client.id", "my-agent");
        expect_rk_conf(rk, "security.protocol", "sasl_plaintext");
        expect_rk_conf(rk, "sasl.mechanisms", "PLAIN");
        expect_rk_conf(rk, "sasl.username", "u");
        expect_rk_conf(rk, "enable.idempotence", "true");
        expect_rk_conf(rk, "partitioner", "murmur2_random");
        expect_rk_conf(rk, "message.timeout.ms", "12345");
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}

Test(outbox, explicit_pairs_out_of_order_do_not_move_the_sequence_back, .init = mk_tmpdir,
     .fini = rm_tmpdir)
{
        sl_conf_t *conf = mk_conf("127.0.0.1:1", NULL);
        sl_producer_t *p = sl_producer_new(conf, errstr, sizeof(errstr));
        sl_event_t *evs[2] = {mk_event("n1", SL_KIND_JOIN), mk_event("n1", SL_KIND_JOIN)};
        int64_t inc, seq;

        cr_assert(p, "%s", errstr);
        evs[0]->incarnation = 1000;
        evs[0]->seq = 10;
        evs[1]->incarnation = 1000;
        evs[1]->seq = 3;
        cr_assert_eq(sl_producer_publish_batch(p, evs, 2, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        sl_producer_destroy(p, 0);
        cr_assert((p = sl_producer_new(conf, errstr, sizeof(errstr))), "%s", errstr);
        publish_one(p, "n1", SL_KIND_STATUS_CHANGE, &inc, &seq);
        cr_expect_gt(inc, 1000);
        cr_expect_eq(seq, 11);
        sl_event_destroy(evs[0]);
        sl_event_destroy(evs[1]);
        sl_producer_destroy(p, 0);
        sl_conf_destroy(conf);
}
