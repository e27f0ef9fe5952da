/*
 * One id allocator across instances.
 *
 * Election: every instance joins the consumer group registry.group.id subscribed to the
 * (single-partition) registry topic; the member that is assigned partition 0 leads. The
 * election consumer pauses the partition at once and never consumes through it: it only polls
 * to stay in the group. The reader (reader.c) is a separate, group-less consumer.
 *
 * Fencing: the leader writes through a transactional producer whose transactional.id is fixed
 * (`<registry.group.id>-leader`). A new leader's init_transactions() bumps the producer epoch,
 * which aborts whatever the previous leader left open and makes every later write of the old
 * one fail (it is fenced), even if it still believes it leads.
 *
 * Becoming the leader: init_transactions(), write a NOOP record carrying this instance's URL
 * (followers forward writes there), wait until the reader has applied it; by then every record
 * any earlier leader committed has been applied, so the highest id seen + 1 is free. Each write
 * is one transaction; writes are serialised by write_lock and answered only once the reader has
 * applied them, so each write decides on a state that includes every earlier one.
 */
#include "registry_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
        int64_t offset;
        rd_kafka_resp_err_t err;
        int done;
} sl_reg_dr_t;

static void sl_reg_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        sl_reg_dr_t *dr = rkm->_private;

        if (!dr)
                return;
        dr->err = rkm->err;
        dr->offset = rkm->offset;
        dr->done = 1;
}

int sl_reg_record_set(sl_reg_record_t *rec, char *key, char *value)
{
        rec->key = key;
        rec->key_len = key ? strlen(key) : 0;
        rec->value = value;
        rec->value_len = value ? strlen(value) : 0;
        return key ? 0 : -1;
}

void sl_reg_records_free(sl_reg_record_t *recs, size_t cnt)
{
        for (size_t i = 0; i < cnt; i++) {
                free(recs[i].key);
                free(recs[i].value);
                memset(&recs[i], 0, sizeof(recs[i]));
        }
}

static int sl_reg_is_assigned(sl_reg_srv_t *srv)
{
        int a;

        pthread_mutex_lock(&srv->elect_lock);
        a = srv->assigned && !srv->stopping;
        pthread_mutex_unlock(&srv->elect_lock);
        return a;
}

void sl_reg_elect_nudge(sl_reg_srv_t *srv)
{
        pthread_mutex_lock(&srv->elect_lock);
        srv->elect_gen++;
        pthread_cond_broadcast(&srv->elect_cond);
        pthread_mutex_unlock(&srv->elect_lock);
}

static void sl_reg_elect_signal(sl_reg_srv_t *srv, int assigned)
{
        pthread_mutex_lock(&srv->elect_lock);
        if (assigned >= 0)
                srv->assigned = assigned;
        srv->elect_gen++;
        pthread_cond_broadcast(&srv->elect_cond);
        pthread_mutex_unlock(&srv->elect_lock);
}

/* Forgets the producer (write_lock held). A fenced or broken producer cannot be reused. */
static void sl_reg_drop_producer(sl_reg_srv_t *srv, const char *why)
{
        if (srv->leading)
                sl_reg_log(srv, srv->stopping ? SL_LOG_INFO : SL_LOG_WARN, "no longer leading: %s",
                           why);
        srv->leading = 0;
        if (srv->producer) {
                rd_kafka_destroy(srv->producer);
                srv->producer = NULL;
        }
}

/*
 * Writes @p recs in one transaction (write_lock held, srv->producer set).
 * @returns SL_OK with the offset of the last record in *lastp, or SL_ERR_KAFKA.
 */
static sl_err_t sl_reg_txn(sl_reg_srv_t *srv, sl_reg_record_t *recs, size_t cnt, int64_t *lastp,
                           char *errstr, size_t errstr_size)
{
        rd_kafka_t *rk = srv->producer;
        sl_reg_dr_t *drs = calloc(cnt ? cnt : 1, sizeof(*drs));
        rd_kafka_error_t *e = NULL, *ae;
        rd_kafka_resp_err_t rerr;
        int64_t last = -1;
        int fatal = 0;

        if (!drs)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((e = rd_kafka_begin_transaction(rk))) {
                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "beginning a transaction: %s",
                          rd_kafka_error_string(e));
                fatal = 1; /* a producer that cannot begin is in a state we do not reuse */
                rd_kafka_error_destroy(e);
                goto fail;
        }
        for (size_t i = 0; i < cnt; i++) {
                rerr = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(srv->topic), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_KEY(recs[i].key, recs[i].key_len),
                    RD_KAFKA_V_VALUE(recs[i].value, recs[i].value ? recs[i].value_len : 0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&drs[i]),
                    RD_KAFKA_V_END);
                if (rerr) {
                        sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "producing: %s",
                                  rd_kafka_err2str(rerr));
                        goto abort;
                }
        }
        if ((rerr = rd_kafka_flush(rk, srv->write_timeout_ms))) {
                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "producing: %s",
                          rd_kafka_err2str(rerr));
                goto abort;
        }
        for (size_t i = 0; i < cnt; i++) {
                if (!drs[i].done || drs[i].err) {
                        sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "producing: %s",
                                  rd_kafka_err2str(drs[i].done ? drs[i].err
                                                               : RD_KAFKA_RESP_ERR__TIMED_OUT));
                        goto abort;
                }
                if (drs[i].offset > last)
                        last = drs[i].offset;
        }
        if ((e = rd_kafka_commit_transaction(rk, srv->write_timeout_ms))) {
                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "committing: %s",
                          rd_kafka_error_string(e));
                fatal = rd_kafka_error_is_fatal(e);
                rd_kafka_error_destroy(e);
                if (fatal)
                        goto fail;
                goto abort;
        }
        free(drs);
        *lastp = last;
        return SL_OK;

abort:
        if ((ae = rd_kafka_abort_transaction(rk, srv->write_timeout_ms))) {
                fatal = 1;
                rd_kafka_error_destroy(ae);
        }
fail:
        if (fatal || rd_kafka_fatal_error(rk, NULL, 0))
                sl_reg_drop_producer(srv, errstr);
        free(drs);
        return SL_ERR_KAFKA;
}

sl_err_t sl_reg_leader_write(sl_reg_srv_t *srv, sl_reg_record_t *recs, size_t cnt, char *errstr,
                             size_t errstr_size)
{
        int64_t deadline = sl_reg_now_ms() + srv->write_timeout_ms, last;
        sl_err_t err;

        if (!srv->leading || !srv->producer)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "not the leader");
        if ((err = sl_reg_txn(srv, recs, cnt, &last, errstr, errstr_size))) {
                /* Wake the leadership worker: it re-establishes a producer if we still lead. */
                sl_reg_elect_signal(srv, -1);
                return err;
        }
        srv->last_written_offset = last;
        if (sl_reg_wait_applied(srv, last, deadline))
                return sl_seterr(errstr, errstr_size, SL_ERR_TIMEOUT,
                                 "the write (offset %lld) was committed but not read back within "
                                 "registry.write.timeout.ms=%d",
                                 (long long)last, srv->write_timeout_ms);
        return SL_OK;
}

int sl_reg_leader_sync(sl_reg_srv_t *srv, int64_t deadline_ms)
{
        if (srv->last_written_offset < 0)
                return 0;
        return sl_reg_wait_applied(srv, srv->last_written_offset, deadline_ms);
}

/* Takes the lead (write_lock held): fences the previous leader, writes the NOOP, reads it. */
static int sl_reg_become_leader(sl_reg_srv_t *srv)
{
        int64_t deadline = sl_reg_now_ms() + srv->write_timeout_ms, last;
        rd_kafka_conf_t *c = rd_kafka_conf_dup(srv->producer_conf);
        sl_reg_record_t noop = {0};
        rd_kafka_error_t *e;
        char errstr[512];
        int32_t max_id;

        if (!c)
                return -1;
        if (!(srv->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(c);
                sl_reg_log(srv, SL_LOG_ERROR, "creating the leader's producer: %s", errstr);
                return -1;
        }
        /* Fences the previous leader (same transactional.id) and aborts what it left open. */
        if ((e = rd_kafka_init_transactions(srv->producer, srv->write_timeout_ms))) {
                sl_reg_log(srv, SL_LOG_WARN, "taking the lead: init_transactions: %s",
                           rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                sl_reg_drop_producer(srv, "init_transactions failed");
                return -1;
        }
        if (!sl_reg_is_assigned(srv)) {
                sl_reg_drop_producer(srv, "partition revoked while taking the lead");
                return -1;
        }
        if (sl_reg_record_set(&noop, sl_reg_key_noop(), sl_reg_value_noop(srv->advertised_url)) ||
            !noop.value) {
                sl_reg_records_free(&noop, 1);
                sl_reg_drop_producer(srv, "out of memory");
                return -1;
        }
        if (sl_reg_txn(srv, &noop, 1, &last, errstr, sizeof(errstr))) {
                sl_reg_records_free(&noop, 1);
                sl_reg_log(srv, SL_LOG_WARN, "taking the lead: writing the NOOP record: %s",
                           errstr);
                sl_reg_drop_producer(srv, "NOOP not written");
                return -1;
        }
        sl_reg_records_free(&noop, 1);
        srv->last_written_offset = last;
        if (sl_reg_wait_applied(srv, last, deadline)) {
                sl_reg_log(srv, srv->stopping ? SL_LOG_DEBUG : SL_LOG_WARN,
                           "taking the lead: NOOP at offset %lld not read back in time",
                           (long long)last);
                sl_reg_drop_producer(srv, "NOOP not read back");
                return -1;
        }
        if (!sl_reg_is_assigned(srv)) {
                sl_reg_drop_producer(srv, "partition revoked while taking the lead");
                return -1;
        }
        pthread_rwlock_rdlock(&srv->store.lock);
        max_id = srv->store.max_id;
        pthread_rwlock_unlock(&srv->store.lock);
        srv->leading = 1;
        sl_reg_log(srv, SL_LOG_INFO, "leading (topic %s, NOOP at offset %lld): next id %d",
                   srv->topic, (long long)last, (int)max_id + 1);
        return 0;
}

static int sl_reg_parts_have_p0(sl_reg_srv_t *srv, const rd_kafka_topic_partition_list_t *parts)
{
        for (int i = 0; parts && i < parts->cnt; i++)
                if (parts->elems[i].partition == 0 && !strcmp(parts->elems[i].topic, srv->topic))
                        return 1;
        return 0;
}

/* Stops leading before the partition goes to someone else (eager: before we rejoin). */
static void sl_reg_step_down(sl_reg_srv_t *srv, const char *why)
{
        /* Clear "assigned" first so that a leadership attempt in progress gives up early. */
        sl_reg_elect_signal(srv, 0);
        pthread_mutex_lock(&srv->write_lock);
        if (srv->leading)
                sl_reg_log(srv, SL_LOG_INFO, "stepping down: %s", why);
        srv->leading = 0;
        pthread_mutex_unlock(&srv->write_lock);
}

static void sl_reg_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        sl_reg_srv_t *srv = opaque;
        int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        int p0 = sl_reg_parts_have_p0(srv, parts);
        rd_kafka_error_t *e = NULL;

        switch (err) {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                if (coop)
                        e = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
                /* Never consume through the election consumer. */
                rd_kafka_pause_partitions(rk, parts);
                if (p0) {
                        sl_reg_log(srv, SL_LOG_INFO, "assigned %s [0] in group %s: taking the lead",
                                   srv->topic, srv->group_id);
                        sl_reg_elect_signal(srv, 1);
                }
                break;
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
                if (p0)
                        sl_reg_step_down(srv, rd_kafka_assignment_lost(rk)
                                                  ? "partition lost (session timed out?)"
                                                  : "partition revoked");
                if (coop)
                        e = rd_kafka_incremental_unassign(rk, parts);
                else
                        rd_kafka_assign(rk, NULL);
                break;
        default:
                sl_reg_log(srv, SL_LOG_WARN, "election rebalance error: %s", rd_kafka_err2str(err));
                sl_reg_step_down(srv, "rebalance error");
                rd_kafka_assign(rk, NULL);
                break;
        }
        if (e) {
                sl_reg_log(srv, SL_LOG_WARN, "election (re)assignment: %s",
                           rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        }
}

static void *sl_reg_elect_main(void *arg)
{
        sl_reg_srv_t *srv = arg;

        while (!srv->stopping) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(srv->elector, 200);

                if (!rkm)
                        continue;
                if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        sl_reg_log(srv, SL_LOG_DEBUG, "election consumer: %s",
                                   rd_kafka_message_errstr(rkm));
                rd_kafka_message_destroy(rkm);
        }
        /* Leaves the group (revoking partition 0 if we have it): another instance takes over. */
        rd_kafka_consumer_close(srv->elector);
        return NULL;
}

/* Creates and drops the leader's producer as the assignment comes and goes. */
static void *sl_reg_leader_main(void *arg)
{
        sl_reg_srv_t *srv = arg;
        uint64_t seen = 0;

        for (;;) {
                int assigned, stop;

                pthread_mutex_lock(&srv->elect_lock);
                if (!srv->stopping && seen == srv->elect_gen) {
                        struct timespec ts;

                        /* Also retries a failed attempt every second. */
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        ts.tv_sec += 1;
                        pthread_cond_timedwait(&srv->elect_cond, &srv->elect_lock, &ts);
                }
                seen = srv->elect_gen;
                assigned = srv->assigned;
                stop = srv->stopping;
                pthread_mutex_unlock(&srv->elect_lock);
                if (stop)
                        break;

                pthread_mutex_lock(&srv->write_lock);
                /* Lead only once the topic has been read: the NOOP must be read back in time. */
                if (assigned && !srv->leading && sl_reg_is_ready(srv)) {
                        if (srv->producer)
                                sl_reg_drop_producer(srv, "re-establishing the producer");
                        sl_reg_become_leader(srv);
                } else if (!assigned && srv->producer) {
                        sl_reg_drop_producer(srv, "not assigned");
                }
                pthread_mutex_unlock(&srv->write_lock);
        }
        pthread_mutex_lock(&srv->write_lock);
        sl_reg_drop_producer(srv, "shutting down");
        pthread_mutex_unlock(&srv->write_lock);
        return NULL;
}

sl_err_t sl_reg_election_start(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
        char txn_id[512], detail[512];
        /* A dead leader is noticed after session.timeout.ms: short by default. Cooperative
         * rebalancing keeps partition 0 (the lead) where it is when instances join. Both can be
         * overridden (the same way on every instance: protocols cannot be mixed in a group). */
        const char *elect_defaults[] = {"session.timeout.ms",
                                        "10000",
                                        "heartbeat.interval.ms",
                                        "1000",
                                        "partition.assignment.strategy",
                                        "cooperative-sticky",
                                        NULL};
        const char *elect_forced[] = {"group.id",
                                      srv->group_id,
                                      "enable.auto.commit",
                                      "false",
                                      "enable.auto.offset.store",
                                      "false",
                                      "enable.partition.eof",
                                      "false",
                                      "auto.offset.reset",
                                      "latest",
                                      NULL};
        const char *prod_defaults[] = {"linger.ms", "0", NULL};
        const char *prod_forced[] = {
            "transactional.id", txn_id, "enable.idempotence", "true", "acks", "all", NULL};
        rd_kafka_conf_t *c;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t rerr;

        snprintf(txn_id, sizeof(txn_id), "%s-leader", srv->group_id);
        if (!(srv->producer_conf =
                  sl_reg_kafka_conf(srv, conf, prod_defaults, prod_forced, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        rd_kafka_conf_set_dr_msg_cb(srv->producer_conf, sl_reg_dr_cb);

        if (!(c = sl_reg_kafka_conf(srv, conf, elect_defaults, elect_forced, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        rd_kafka_conf_set_rebalance_cb(c, sl_reg_rebalance_cb);
        rd_kafka_conf_set_opaque(c, srv);
        if (!(srv->elector = rd_kafka_new(RD_KAFKA_CONSUMER, c, detail, sizeof(detail)))) {
                rd_kafka_conf_destroy(c);
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                 "creating the election consumer: %s", detail);
        }
        rd_kafka_poll_set_consumer(srv->elector);
        if (!(topics = rd_kafka_topic_partition_list_new(1)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        rd_kafka_topic_partition_list_add(topics, srv->topic, RD_KAFKA_PARTITION_UA);
        rerr = rd_kafka_subscribe(srv->elector, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (rerr)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "joining group %s: %s",
                                 srv->group_id, rd_kafka_err2str(rerr));

        if (pthread_create(&srv->leader_thr, NULL, sl_reg_leader_main, srv))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "starting a thread: %s",
                                 strerror(errno));
        srv->leader_started = 1;
        if (pthread_create(&srv->elect_thr, NULL, sl_reg_elect_main, srv))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "starting a thread: %s",
                                 strerror(errno));
        srv->elect_started = 1;
        return SL_OK;
}

void sl_reg_election_stop(sl_reg_srv_t *srv)
{
        if (srv->elect_started) {
                pthread_join(srv->elect_thr, NULL);
                srv->elect_started = 0;
        } else if (srv->elector) {
                rd_kafka_consumer_close(srv->elector);
        }
        sl_reg_elect_signal(srv, 0);
        if (srv->leader_started) {
                pthread_join(srv->leader_thr, NULL);
                srv->leader_started = 0;
        }
        if (srv->elector) {
                rd_kafka_destroy(srv->elector);
                srv->elector = NULL;
        }
        if (srv->producer_conf) {
                rd_kafka_conf_destroy(srv->producer_conf);
                srv->producer_conf = NULL;
        }
}
