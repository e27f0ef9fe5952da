/*
 * The registry topic: created when missing (one partition, compacted), and read from the
 * beginning by one thread that applies every committed record, in order, to the state.
 */
#include "registry_int.h"
#include "sl_kafka.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* librdkafka's log lines, through ours. */
static void sl_reg_rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        sl_reg_srv_t *srv = rd_kafka_opaque(rk);

        sl_kafka_log_check(level, fac, buf);
        int ours = level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN : SL_LOG_DEBUG;

        /* -X applies to every client of the registry (consumers and producers alike), so a
         * property that one kind of client ignores is expected, not worth a warning. */
        if (!strcmp(fac, "CONFWARN") &&
            (strstr(buf, "is a consumer property") || strstr(buf, "is a producer property")))
                ours = SL_LOG_DEBUG;
        if (srv)
                sl_reg_log(srv, ours, "kafka: %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *sl_reg_kafka_conf(sl_reg_srv_t *srv, const sl_conf_t *conf,
                                   const char *const *defaults, const char *const *forced,
                                   char *errstr, size_t errstr_size)
{
        /* log.level (error|warn|info|debug) as syslog levels for librdkafka's log_level. */
        static const char *const rk_levels[] = {"3", "4", "6", "7"};
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        char detail[512];

        if (!c) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        if (rd_kafka_conf_set(c, "client.id", "seerlog-registry", detail, sizeof(detail)) ||
            rd_kafka_conf_set(c, "log_level", rk_levels[srv->log_level & 3], detail,
                              sizeof(detail)))
                goto fail;
        for (const char *const *d = defaults; d && d[0]; d += 2)
                if (rd_kafka_conf_set(c, d[0], d[1], detail, sizeof(detail)))
                        goto fail;
        if (sl_conf_kafka_apply(conf, c, detail, sizeof(detail)))
                goto fail;
        for (const char *const *d = forced; d && d[0]; d += 2)
                if (rd_kafka_conf_set(c, d[0], d[1], detail, sizeof(detail)))
                        goto fail;
        rd_kafka_conf_set_opaque(c, srv);
        rd_kafka_conf_set_log_cb(c, sl_reg_rk_log);
        return c;

fail:
        sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s", detail);
        rd_kafka_conf_destroy(c);
        return NULL;
}

/* How long start-up waits for the broker (topic creation, metadata). */
#define SL_REG_ADMIN_TIMEOUT_MS 30000

/* Creates the topic; "already exists" is fine. */
static sl_err_t sl_reg_topic_create(sl_reg_srv_t *srv, rd_kafka_t *rk, char *errstr,
                                    size_t errstr_size)
{
        rd_kafka_NewTopic_t *nt = NULL;
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tres;
        size_t tcnt;
        char detail[512];
        sl_err_t err = SL_ERR_KAFKA;

        if (!(nt = rd_kafka_NewTopic_new(srv->topic, 1, srv->replication_factor, detail,
                                         sizeof(detail)))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "topic %s: %s", srv->topic,
                                detail);
                goto done;
        }
        if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact")) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        q = rd_kafka_queue_new(rk);
        if (!opts || !q ||
            rd_kafka_AdminOptions_set_request_timeout(opts, SL_REG_ADMIN_TIMEOUT_MS, detail,
                                                      sizeof(detail))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
        if (!(ev = sl_kafka_queue_poll(q, SL_REG_ADMIN_TIMEOUT_MS + 5000))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                "creating topic %s: no answer from the brokers", srv->topic);
                goto done;
        }
        if (rd_kafka_event_error(ev)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "creating topic %s: %s",
                                srv->topic, rd_kafka_event_error_string(ev));
                goto done;
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        tres = rd_kafka_CreateTopics_result_topics(res, &tcnt);
        if (tcnt == 1 && rd_kafka_topic_result_error(tres[0]) &&
            rd_kafka_topic_result_error(tres[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "creating topic %s: %s",
                                srv->topic, rd_kafka_topic_result_error_string(tres[0]));
                goto done;
        }
        if (tcnt == 1 && !rd_kafka_topic_result_error(tres[0]))
                sl_reg_log(srv, SL_LOG_INFO, "created topic %s (1 partition, compacted)",
                           srv->topic);
        err = SL_OK;

done:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (nt)
                rd_kafka_NewTopic_destroy(nt);
        return err;
}

/* Waits until the topic's metadata lists its partitions and checks there is exactly one. */
static sl_err_t sl_reg_topic_check(sl_reg_srv_t *srv, rd_kafka_t *rk, char *errstr,
                                   size_t errstr_size)
{
        int64_t deadline = sl_reg_now_ms() + SL_REG_ADMIN_TIMEOUT_MS;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, srv->topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t rerr;
        sl_err_t err = SL_ERR_KAFKA;

        if (!rkt)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "topic %s: %s", srv->topic,
                                 rd_kafka_err2str(rd_kafka_last_error()));
        for (;;) {
                int64_t left = deadline - sl_reg_now_ms();

                /* In slices, to stop at once on wrong credentials (sl_kafka.h). */
                rerr = rd_kafka_metadata(rk, 0, rkt, &md,
                                         left > 1000 ? 1000
                                         : left > 0  ? (int)left
                                                     : 1);
                if (!rerr && md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0)
                        break;
                if (!rerr)
                        rerr = md->topic_cnt == 1 ? md->topics[0].err
                                                  : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
                if (md)
                        rd_kafka_metadata_destroy(md);
                md = NULL;
                if (sl_reg_now_ms() >= deadline || sl_kafka_fatal(NULL, 0)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                        "getting the partitions of topic %s: %s", srv->topic,
                                        rd_kafka_err2str(rerr));
                        goto done;
                }
                usleep(100 * 1000);
        }
        if (md->topics[0].partition_cnt != 1) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                "topic %s has %d partitions: the registry needs a topic with "
                                "exactly one partition (ids are allocated in its order); use "
                                "another registry.topic",
                                srv->topic, md->topics[0].partition_cnt);
                goto done;
        }
        err = SL_OK;

done:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return err;
}

sl_err_t sl_reg_topic_ensure(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
        rd_kafka_conf_t *c = sl_reg_kafka_conf(srv, conf, NULL, NULL, errstr, errstr_size);
        rd_kafka_t *rk;
        char detail[512];
        sl_err_t err;

        if (!c)
                return SL_ERR_CONFIG;
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, detail, sizeof(detail)))) {
                rd_kafka_conf_destroy(c);
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "creating a Kafka client: %s",
                                 detail);
        }
        if (!(err = sl_reg_topic_create(srv, rk, errstr, errstr_size)))
                err = sl_reg_topic_check(srv, rk, errstr, errstr_size);
        rd_kafka_destroy(rk);
        return err;
}

static void sl_reg_progress(sl_reg_srv_t *srv, int64_t next, int eof)
{
        int became_ready = 0;

        pthread_mutex_lock(&srv->progress_lock);
        if (next > srv->applied_next)
                srv->applied_next = next;
        if (eof && !srv->ready)
                became_ready = srv->ready = 1;
        pthread_cond_broadcast(&srv->progress_cond);
        pthread_mutex_unlock(&srv->progress_lock);

        if (became_ready) {
                size_t subjects, schemas;
                int32_t max_id;

                pthread_rwlock_rdlock(&srv->store.lock);
                subjects = srv->store.subjects.cnt;
                schemas = srv->store.ids.cnt;
                max_id = srv->store.max_id;
                pthread_rwlock_unlock(&srv->store.lock);
                sl_reg_log(srv, SL_LOG_INFO,
                           "read topic %s up to offset %lld: %zu subjects, %zu schemas, highest "
                           "id %d; serving",
                           srv->topic, (long long)next, subjects, schemas, (int)max_id);
                sl_reg_elect_nudge(srv);
        }
}

static void *sl_reg_reader_main(void *arg)
{
        sl_reg_srv_t *srv = arg;
        rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR_NO_ERROR;

        while (!srv->stopping) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(srv->reader, 200);

                if (!rkm)
                        continue;
                if (!rkm->err || rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        sl_kafka_connected();
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        sl_reg_progress(srv, rkm->offset, 1);
                } else if (rkm->err) {
                        /* One line per distinct error, not one per retry. */
                        if (rkm->err != last_err)
                                sl_reg_log(srv, SL_LOG_WARN, "reading topic %s: %s", srv->topic,
                                           rd_kafka_message_errstr(rkm));
                        last_err = rkm->err;
                } else {
                        last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
                        pthread_rwlock_wrlock(&srv->store.lock);
                        sl_reg_store_apply(&srv->store, rkm->key, rkm->key_len, rkm->payload,
                                           rkm->len, rkm->offset);
                        pthread_rwlock_unlock(&srv->store.lock);
                        if (srv->log_level >= SL_LOG_DEBUG)
                                sl_reg_log(srv, SL_LOG_DEBUG, "applied offset %lld: %.*s",
                                           (long long)rkm->offset, (int)rkm->key_len,
                                           (const char *)rkm->key);
                        sl_reg_progress(srv, rkm->offset + 1, 0);
                }
                rd_kafka_message_destroy(rkm);
        }
        return NULL;
}

sl_err_t sl_reg_reader_start(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
        char group[512], detail[512];
        const char *defaults[] = {"fetch.wait.max.ms", "100", NULL};
        /* No group is joined: assign() only; librdkafka 2.0.2 still wants a group.id. */
        const char *forced[] = {"group.id",
                                group,
                                "enable.auto.commit",
                                "false",
                                "enable.auto.offset.store",
                                "false",
                                "enable.partition.eof",
                                "true",
                                "isolation.level",
                                "read_committed",
                                "auto.offset.reset",
                                "earliest",
                                NULL};
        rd_kafka_conf_t *c;
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_resp_err_t rerr;

        snprintf(group, sizeof(group), "%s-reader", srv->group_id);
        if (!(c = sl_reg_kafka_conf(srv, conf, defaults, forced, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        if (!(srv->reader = rd_kafka_new(RD_KAFKA_CONSUMER, c, detail, sizeof(detail)))) {
                rd_kafka_conf_destroy(c);
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "creating the reader: %s",
                                 detail);
        }
        rd_kafka_poll_set_consumer(srv->reader);
        if (!(parts = rd_kafka_topic_partition_list_new(1)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        rd_kafka_topic_partition_list_add(parts, srv->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rerr = rd_kafka_assign(srv->reader, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (rerr)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "assigning %s [0]: %s",
                                 srv->topic, rd_kafka_err2str(rerr));
        if (pthread_create(&srv->reader_thr, NULL, sl_reg_reader_main, srv))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM,
                                 "starting the reader thread: %s", strerror(errno));
        srv->reader_started = 1;
        return SL_OK;
}

void sl_reg_reader_stop(sl_reg_srv_t *srv)
{
        if (srv->reader_started) {
                pthread_join(srv->reader_thr, NULL);
                srv->reader_started = 0;
        }
        if (srv->reader) {
                rd_kafka_consumer_close(srv->reader);
                rd_kafka_destroy(srv->reader);
                srv->reader = NULL;
        }
}

int sl_reg_wait_applied(sl_reg_srv_t *srv, int64_t offset, int64_t deadline_ms)
{
        int ret = 0;

        pthread_mutex_lock(&srv->progress_lock);
        while (srv->applied_next <= offset) {
                int64_t now = sl_reg_now_ms(), until;
                struct timespec ts;

                if (srv->stopping || now >= deadline_ms) {
                        ret = -1;
                        break;
                }
                /* Wake up now and then to notice a stop. */
                until = deadline_ms < now + 200 ? deadline_ms : now + 200;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += (until - now) / 1000;
                ts.tv_nsec += ((until - now) % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&srv->progress_cond, &srv->progress_lock, &ts);
        }
        pthread_mutex_unlock(&srv->progress_lock);
        return ret;
}

int sl_reg_is_ready(sl_reg_srv_t *srv)
{
        int ready;

        pthread_mutex_lock(&srv->progress_lock);
        ready = srv->ready;
        pthread_mutex_unlock(&srv->progress_lock);
        return ready;
}
