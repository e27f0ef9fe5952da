/*
 * Test helper for the producer's integration tests (test-producer-*.sh).
 *
 *   producer_driver publish BOOTSTRAP TEMPLATE OUTBOX_DIR NODES COUNT ACCEPTED_FILE
 *                   [BATCH [SLEEP_MS [DRAIN_MS]]]
 *       Publishes COUNT events (status_change and services, never coalesced) for NODES nodes
 *       (node-0..; even nodes in region ra, odd in rb, type seer) through the producer library
 *       with the outbox in OUTBOX_DIR, BATCH events per sl_producer_publish_batch() (default
 *       50), sleeping SLEEP_MS between batches (default 0). After each accepted batch, appends
 *       one line per event "NODE INCARNATION SEQ EVENT_ID" to ACCEPTED_FILE and fsyncs it. Then
 *       flushes for up to DRAIN_MS (default 120000) and exits 0 if the outbox is empty.
 *       Whatever the outbox held at start is produced again first (a restart after kill -9).
 *       Every 200 ms it writes "producer_driver: progress sent N outbox N" to stderr.
 *
 *   producer_driver consume BOOTSTRAP TOPIC[,TOPIC...] TIMEOUT_MS
 *       Prints every record of the topics, from the beginning to the end of each partition,
 *       as "NODE INCARNATION SEQ EVENT_ID TOPIC PARTITION OFFSET" lines, in partition order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "sl_producer.h"

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set(sl_conf_t *conf, const char *k, const char *v)
{
        char errstr[512];

        if (sl_conf_set(conf, k, v, errstr, sizeof(errstr))) {
                fprintf(stderr, "producer_driver: %s\n", errstr);
                return -1;
        }
        return 0;
}

static int run_publish(int argc, char **argv)
{
        const char *bootstrap = argv[2], *tmpl = argv[3], *dir = argv[4], *path = argv[7];
        long nodes = atol(argv[5]), count = atol(argv[6]);
        long batch = argc > 8 ? atol(argv[8]) : 50, sleep_ms = argc > 9 ? atol(argv[9]) : 0;
        long drain_ms = argc > 10 ? atol(argv[10]) : 120000;
        sl_conf_t *conf = sl_conf_new();
        sl_producer_t *p = NULL;
        sl_event_t **evs = NULL;
        sl_producer_stats_t st;
        char errstr[512], node[32];
        FILE *fp = NULL;
        int64_t next_progress = 0;
        int ret = 1;

        if (nodes < 1 || batch < 1 || !conf)
                return 2;
        if (set(conf, "bootstrap.servers", bootstrap) || set(conf, "topic.template", tmpl) ||
            set(conf, "outbox.dir", dir) || set(conf, "schema.mode", "fixed") ||
            set(conf, "topic.partitions", "3") || set(conf, "control.topic", "") ||
            set(conf, "log.level", "error"))
                goto done;
        if (!(fp = fopen(path, "a"))) {
                fprintf(stderr, "producer_driver: %s: %s\n", path, strerror(errno));
                goto done;
        }
        if (!(p = sl_producer_new(conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "producer_driver: %s\n", errstr);
                goto done;
        }
        sl_producer_stats(p, &st);
        fprintf(stderr, "producer_driver: start, %llu records in the outbox\n",
                (unsigned long long)st.outbox_depth);
        if (!(evs = calloc((size_t)batch, sizeof(*evs))))
                goto done;
        for (long i = 0; i < batch; i++)
                if (!(evs[i] = sl_event_new()))
                        goto done;
        for (long done_cnt = 0; done_cnt < count;) {
                long n = count - done_cnt < batch ? count - done_cnt : batch;
                sl_err_t err;

                for (long i = 0; i < n; i++) {
                        sl_event_t *ev = evs[i];
                        long k = done_cnt + i;

                        sl_event_reset(ev);
                        snprintf(node, sizeof(node), "node-%ld", k % nodes);
                        sl_event_set(ev, &ev->node_id, node);
                        sl_event_set(ev, &ev->node_type, "seer");
                        sl_event_set(ev, &ev->region, (k % nodes) % 2 ? "rb" : "ra");
                        ev->kind = k % 3 ? SL_KIND_STATUS_CHANGE : SL_KIND_SERVICES;
                        ev->status = SL_STATUS_UP;
                        ev->source = SL_SOURCE_AGENT;
                        if ((err = sl_producer_stamp(p, ev, errstr, sizeof(errstr)))) {
                                fprintf(stderr, "producer_driver: stamp: %s\n", errstr);
                                goto done;
                        }
                }
                err = sl_producer_publish_batch(p, evs, (size_t)n, errstr, sizeof(errstr));
                if (err) {
                        fprintf(stderr, "producer_driver: publish: %s: %s\n", sl_err_str(err),
                                errstr);
                        goto done;
                }
                for (long i = 0; i < n; i++)
                        fprintf(fp, "%s %lld %lld %s\n", evs[i]->node_id,
                                (long long)evs[i]->incarnation, (long long)evs[i]->seq,
                                evs[i]->event_id);
                if (fflush(fp) || fsync(fileno(fp))) {
                        fprintf(stderr, "producer_driver: %s: %s\n", path, strerror(errno));
                        goto done;
                }
                done_cnt += n;
                sl_producer_poll(p, 0);
                if (now_ms() >= next_progress) {
                        next_progress = now_ms() + 200;
                        sl_producer_stats(p, &st);
                        fprintf(stderr, "producer_driver: progress sent %llu outbox %llu\n",
                                (unsigned long long)st.sent, (unsigned long long)st.outbox_depth);
                }
                if (sleep_ms) {
                        int64_t until = now_ms() + sleep_ms;

                        while (now_ms() < until)
                                sl_producer_poll(p, 10);
                }
        }
        if (sl_producer_flush(p, (int)drain_ms)) {
                sl_producer_stats(p, &st);
                fprintf(stderr, "producer_driver: not drained: outbox %llu, in flight %llu\n",
                        (unsigned long long)st.outbox_depth, (unsigned long long)st.in_flight);
                goto done;
        }
        ret = 0;

done:
        if (p) {
                sl_producer_stats(p, &st);
                fprintf(stderr,
                        "producer_driver: accepted %llu sent %llu replayed %llu retried %llu "
                        "outbox %llu\n",
                        (unsigned long long)st.accepted, (unsigned long long)st.sent,
                        (unsigned long long)st.replayed, (unsigned long long)st.retried,
                        (unsigned long long)st.outbox_depth);
        }
        sl_producer_destroy(p, 5000);
        if (evs)
                for (long i = 0; i < batch; i++)
                        sl_event_destroy(evs[i]);
        free(evs);
        if (fp)
                fclose(fp);
        sl_conf_destroy(conf);
        return ret;
}

static int run_consume(int argc, char **argv)
{
        const char *bootstrap = argv[2];
        long timeout_ms = atol(argv[4]);
        char errstr[512], *topics = strdup(argv[3]), *save = NULL;
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(8);
        sl_codec_t *codec = sl_codec_new(1, errstr, sizeof(errstr));
        sl_event_t *ev = sl_event_new();
        rd_kafka_t *rk;
        int eofs = 0, ret = 1;
        int64_t deadline = now_ms() + timeout_ms;

        if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "group.id", "producer-driver", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "enable.partition.eof", "true", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
            !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr)))) {
                fprintf(stderr, "producer_driver: %s\n", errstr);
                return 1;
        }
        for (char *t = strtok_r(topics, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, t, NULL);

                if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topics[0].err) {
                        fprintf(stderr, "producer_driver: no metadata for %s\n", t);
                        if (md)
                                rd_kafka_metadata_destroy(md);
                        rd_kafka_topic_destroy(rkt);
                        goto done;
                }
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                        rd_kafka_topic_partition_list_add(tp, t, md->topics[0].partitions[i].id)
                            ->offset = RD_KAFKA_OFFSET_BEGINNING;
                rd_kafka_metadata_destroy(md);
                rd_kafka_topic_destroy(rkt);
        }
        rd_kafka_assign(rk, tp);
        while (eofs < tp->cnt && now_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        eofs++;
                } else if (m->err) {
                        fprintf(stderr, "producer_driver: %s\n", rd_kafka_message_errstr(m));
                } else if (sl_codec_decode(codec, m->payload, m->len, ev, errstr, sizeof(errstr))) {
                        fprintf(stderr, "producer_driver: undecodable record: %s\n", errstr);
                } else {
                        printf("%s %lld %lld %s %s %d %lld\n", ev->node_id,
                               (long long)ev->incarnation, (long long)ev->seq, ev->event_id,
                               rd_kafka_topic_name(m->rkt), (int)m->partition,
                               (long long)m->offset);
                }
                rd_kafka_message_destroy(m);
        }
        ret = eofs < tp->cnt;
        if (ret)
                fprintf(stderr, "producer_driver: timed out before the end of every partition\n");

done:
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        rd_kafka_topic_partition_list_destroy(tp);
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
        free(topics);
        return ret;
}

int main(int argc, char **argv)
{
        if (argc >= 8 && !strcmp(argv[1], "publish"))
                return run_publish(argc, argv);
        if (argc == 5 && !strcmp(argv[1], "consume"))
                return run_consume(argc, argv);
        fprintf(stderr, "usage: producer_driver publish BOOTSTRAP TEMPLATE OUTBOX NODES COUNT "
                        "ACCEPTED [BATCH [SLEEP_MS [DRAIN_MS]]]\n"
                        "       producer_driver consume BOOTSTRAP TOPICS TIMEOUT_MS\n");
        return 2;
}
