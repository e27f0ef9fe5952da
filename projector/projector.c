/* The projector: the state topics into the store, exactly once (see sl_projector.h). */
#include "sl_projector.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "sl_event.h"
#include "sl_fs.h"
#include "sl_kafka.h"
#include "sl_liveness.h"
#include "sl_producer.h" /* the control topic's record (sl_lag_report_t) */
#include "sl_registry.h"

#define SL_PROJ_RETRY_MS          1000    /**< Pause before a failed batch is read again. */
#define SL_PROJ_FULL_RETRY_MS     2000    /**< ... when it failed because the store is full. */
#define SL_PROJ_FULL_LOG_MS       30000   /**< How often a full store is said again. */
#define SL_PROJ_DLQ_TIMEOUT       30000   /**< How long a batch waits for its dead letters. */
#define SL_PROJ_IDS_RETRY_MS      5000    /**< First retry of the projector's own schema ids. */
#define SL_PROJ_LIVENESS_HELD_MAX 1000000 /**< Liveness changes held while it fails, at most. */
#define SL_PROJ_CLOSE_TIMEOUT     10000
#define SL_PROJ_TICK_MS           250   /**< Liveness is decided this often. */
#define SL_PROJ_RESOLVE_TIMEOUT   5000  /**< For the first offsets of new partitions. */
#define SL_PROJ_CHUNK             10000 /**< Records read at a time into a batch. */
#define SL_PROJ_WARM_TIMEOUT      1000  /**< For a topic's metadata at start (best effort). */

/* One assigned (or once assigned) partition. */
typedef struct {
        char *topic;
        int32_t partition;
        int64_t next;       /**< Next offset to read, as committed to the store; -1 unknown. */
        int64_t batch_next; /**< After the current batch's last record of it; -1 none. */
        int assigned;
        int eof;            /**< Read to its end since it was assigned or last had a record, */
        int64_t eof_offset; /**< which was there. */
        int had_record;     /**< A record arrived since it was assigned. */
        int64_t lag;        /**< At the last lag report; -1 unknown. */
        int paused;
        /* A replay's partition (sl_projector_new_replay()): */
        int64_t end;     /**< Records from this offset on are not applied; -1: no end. */
        int end_seen;    /**< Read up to the end: a record or the partition's end past it. */
        int64_t read_to; /**< After the last record read before the end since the rewind. */
} sl_part_t;

/* A node's newest event in the current batch. */
typedef struct {
        size_t off;     /**< In arena: the node id (id_len bytes and a NUL). */
        size_t val_off; /**< In arena: the store value (val_len bytes, room for val_cap). */
        uint32_t id_len, val_len, val_cap;
        uint64_t hash;
        int64_t inc, seq, time_ms;
        size_t slot;           /**< Its index in slots. */
        const char *src_topic; /**< Where the event was read (a sl_part_t's topic). */
        int32_t src_partition;
        int64_t src_offset;
        sl_event_kind_t kind;
        sl_node_status_t status;
        sl_source_t source;
        int takeover;   /**< sl_event_takeover() */
        int64_t rec_ms; /**< The record's timestamp (a replay's liveness clock). */
        int applied;    /**< Set by the writer: stored (newer than the stored state). */
} sl_pending_t;

/* A pending node's place in the sorted order. */
typedef struct {
        uint64_t key; /**< See sl_pend_sort(). */
        uint32_t idx; /**< In pend. */
} sl_sort_t;

/* A partition's next offset after a batch. */
typedef struct {
        const char *topic; /**< A sl_part_t's: lives as long as the projector. */
        int32_t partition;
        int64_t next;
} sl_batch_part_t;

/*
 * One batch on its way to the store: read (decoded, coalesced, sorted) by the polling thread,
 * then written by the writer thread while the polling thread reads the next one.
 */
typedef struct {
        sl_buf_t arena;     /**< Each pending node's id, then its store value. */
        sl_pending_t *pend; /**< The newest event per node; batch_max entries. */
        sl_sort_t *order;   /**< pend sorted by node id. */
        size_t pend_cnt;
        sl_batch_part_t *parts; /**< Every partition the batch read. */
        size_t part_cnt, part_cap;
        /* Pending values stored before the sorted ones, in log order: a node's events switched
         * between bridged and native within the batch (see sl_pend()). */
        sl_pending_t *early;
        size_t early_cnt, early_cap;
        size_t records;
        int64_t received; /**< Wall clock when read: the events' receipt time, for liveness. */
        uint64_t ignored, superseded, dead;
        /* The writer's results. */
        uint64_t applied, nodes, write_us, commit_us;
        int rc;   /**< 0 committed, 1 given up (read it again), -1 fatal. */
        int full; /**< Given up because the store has no room (SL_ERR_NO_SPACE). */
        char errstr[512];
} sl_batch_t;

/* A liveness change held until the registry gives the liveness schema an id. */
typedef struct {
        sl_liveness_record_t rec; /**< rec.node_id points to node_id. */
        char *node_id;
} sl_lv_held_t;

struct sl_projector_s {
        rd_kafka_t *rk;  /**< The consumer. */
        rd_kafka_t *dlq; /**< The dead-letter producer. */
        char *dlq_topic;
        rd_kafka_t *txp;      /**< The changelog's transactional producer; NULL: none. */
        char *changelog;      /**< The changelog topic. */
        int32_t changelog_id; /**< Schema id of its values. */
        int txn_open;         /**< A Kafka transaction was begun for the current batch. */
        sl_buf_t buf;
        sl_liveness_t *lv;
        sl_liveness_conf_t lv_conf;
        char *liveness_topic; /**< Where changes go; NULL: not published. */
        int32_t liveness_id;
        /* The registry did not answer at start: the subject to register and the changes held
         * (under lv_lock) until it does; retried at ids_retry_ms. */
        char *liveness_subject, *control_subject, *changelog_subject;
        int schema_register; /**< schema.mode=register (else lookup). */
        int64_t ids_retry_ms, ids_backoff_ms;
        sl_lv_held_t *held;
        size_t held_cnt, held_cap;
        uint64_t held_dropped;
        int64_t hb_interval, next_tick_ms;
        int64_t hb_normal, hb_max;
        char *group, *control_topic; /**< Lag reports go to control.topic; NULL: not sent. */
        int32_t control_id;
        int64_t lag_interval, next_lag_ms, lag_high, lag_low;
        int lag_stretched; /**< Reported lag went past lag.high, not yet under lag.low. */
        int64_t paused_at; /**< When the busiest partitions were paused; 0: none paused. */
        sl_partition_lag_t *lags;
        char instance[128]; /**< group.instance.id, also the liveness records' projector_id. */
        sl_store_t *store;
        sl_codec_t *codec;
        sl_registry_client_t *registry;
        sl_event_t *ev;
        int cooperative;
        size_t batch_max;
        size_t max_record; /**< project.max.record.bytes. */
        size_t chunk;      /**< Records taken from the consumer at a time (msgs holds them). */
        rd_kafka_message_t **msgs;
        /* Two batches: one being read here, one at the writer thread. */
        sl_batch_t *batch[2];
        int fill;        /**< The one being read. */
        uint32_t *slots; /**< The batch being read: pend indices + 1 by node id hash (0: empty). */
        size_t slot_mask;
        pthread_t w_thread;
        pthread_mutex_t w_lock; /**< Guards w_job, w_done and w_stop. */
        pthread_cond_t w_cond;  /**< Signalled when any of them changes. */
        sl_batch_t *w_job;      /**< Handed to the writer, not finished. */
        sl_batch_t *w_done;     /**< Finished by the writer, not yet taken in. */
        int w_stop, w_started;
        sl_buf_t w_buf;             /**< The writer's: changelog records. */
        sl_projector_watch_t watch; /**< Set before the first poll; read by both threads. */
        /* What other threads see (sl_projector_stats(), sl_projector_lags()), published by the
         * polling thread after each poll. */
        pthread_mutex_t pub_lock;
        sl_projector_stats_t pub;
        sl_partition_lag_t *pub_lags;
        size_t pub_lag_cnt, pub_lag_cap;
        pthread_mutex_t lv_lock; /**< Guards lv: the writer observes, this thread ticks. */
        sl_part_t *parts;
        size_t part_cnt, part_cap;
        size_t part_last;   /**< The partition sl_part_get() found last: records come in runs. */
        int64_t dlq_failed; /**< Dead letters whose delivery failed in the current batch. */
        int64_t retry_at_ms;
        int64_t full_since_ms, full_log_ms; /**< The store is full (see sl_full_later()). */
        char fatal[512]; /**< Set by the rebalance callback when the store cannot be read. */
        sl_projector_stats_t st;
        int replay;       /**< sl_projector_new_replay(): assigned, bounded, publishing nothing. */
        int64_t clock_ms; /**< A replay's liveness clock; 0: the wall clock. */
};

/* The writer thread (see sl_batch_write()). */
static void *sl_writer_main(void *arg);
static void sl_writer_idle(sl_projector_t *p);
static sl_batch_t *sl_writer_collect(sl_projector_t *p);

static int64_t sl_proj_mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t sl_proj_mono_ms(void)
{
        return sl_proj_mono_us() / 1000;
}

static sl_part_t *sl_part_get(sl_projector_t *p, const char *topic, int32_t partition)
{
        sl_part_t *pt;

        if (p->part_last < p->part_cnt && p->parts[p->part_last].partition == partition &&
            !strcmp(p->parts[p->part_last].topic, topic))
                return &p->parts[p->part_last];
        for (size_t i = 0; i < p->part_cnt; i++)
                if (p->parts[i].partition == partition && !strcmp(p->parts[i].topic, topic)) {
                        p->part_last = i;
                        return &p->parts[i];
                }
        if (p->part_cnt == p->part_cap) {
                size_t cap = p->part_cap ? p->part_cap * 2 : 64;
                sl_partition_lag_t *lags;

                if (!(pt = realloc(p->parts, cap * sizeof(*pt))))
                        return NULL;
                p->parts = pt;
                if (!(lags = realloc(p->lags, cap * sizeof(*lags))))
                        return NULL;
                p->lags = lags;
                p->part_cap = cap;
        }
        pt = &p->parts[p->part_cnt];
        memset(pt, 0, sizeof(*pt));
        if (!(pt->topic = strdup(topic)))
                return NULL;
        pt->partition = partition;
        pt->next = pt->batch_next = -1;
        pt->lag = -1;
        pt->end = -1;
        p->part_last = p->part_cnt++;
        return pt;
}

/* ---- assignment: the store says where to start ---- */

/*
 * Turns the partitions of @p parts to be read from the beginning (RD_KAFKA_OFFSET_BEGINNING)
 * into their first offsets, asked of the brokers in one ListOffsets round (timestamp -2 means
 * "earliest"). librdkafka 2.0.2 resolves a logical offset itself, but when the assignment comes
 * before it has bound the new partition to its leader, it finds "no current leader" and tries
 * again only 500 ms later; a numeric offset starts fetching as soon as the partition is bound.
 * A partition that cannot be resolved is left at BEGINNING for librdkafka to resolve.
 */
static void sl_resolve_beginnings(sl_projector_t *p, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);

        if (!q)
                return;
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING)
                        rd_kafka_topic_partition_list_add(q, parts->elems[i].topic,
                                                          parts->elems[i].partition)
                            ->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (q->cnt && !rd_kafka_offsets_for_times(p->rk, q, SL_PROJ_RESOLVE_TIMEOUT)) {
                for (int i = 0; i < q->cnt; i++) {
                        rd_kafka_topic_partition_t *r = &q->elems[i], *tp;

                        if (r->err || r->offset < 0)
                                continue;
                        tp = rd_kafka_topic_partition_list_find(parts, r->topic, r->partition);
                        if (tp)
                                tp->offset = r->offset;
                }
        }
        rd_kafka_topic_partition_list_destroy(q);
}

static void sl_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        sl_projector_t *p = opaque;
        rd_kafka_error_t *error = NULL;
        char errstr[256];

        /* Known once the group is joined (NONE before): cooperative-sticky unless -X changed
         * partition.assignment.strategy. */
        p->cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        sl_kafka_connected(); /* a group was joined */
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                /* The store's offsets, once the batch at the writer is committed (or not). */
                sl_writer_idle(p);
                for (int i = 0; i < parts->cnt; i++) {
                        rd_kafka_topic_partition_t *tp = &parts->elems[i];
                        sl_part_t *pt = sl_part_get(p, tp->topic, tp->partition);
                        int64_t next;
                        sl_err_t serr;

                        serr = sl_store_offset_get(p->store, tp->topic, tp->partition, &next,
                                                   errstr, sizeof(errstr));
                        if (serr == SL_ERR_NOT_FOUND) {
                                next = RD_KAFKA_OFFSET_BEGINNING;
                        } else if (serr) {
                                snprintf(p->fatal, sizeof(p->fatal), "%s", errstr);
                                next = RD_KAFKA_OFFSET_BEGINNING;
                        }
                        tp->offset = next;
                        if (pt) {
                                pt->assigned = 1;
                                pt->eof = 0;
                                pt->had_record = 0;
                                pt->next = next >= 0 ? next : -1;
                                pt->batch_next = -1;
                        } else {
                                snprintf(p->fatal, sizeof(p->fatal), "out of memory");
                        }
                }
                sl_resolve_beginnings(p, parts);
                if (p->cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        err = rd_kafka_assign(rk, parts);
        } else {
                for (int i = 0; i < parts->cnt; i++) {
                        sl_part_t *pt =
                            sl_part_get(p, parts->elems[i].topic, parts->elems[i].partition);

                        if (pt)
                                pt->assigned = pt->paused = 0;
                }
                if (p->cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        err = rd_kafka_assign(rk, NULL);
        }
        if (error) {
                fprintf(stderr, "seerlog: project: rebalance: %s\n", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        p->st.assigned = 0;
        for (size_t i = 0; i < p->part_cnt; i++)
                p->st.assigned += p->parts[i].assigned;
        fprintf(stderr, "seerlog: project: %s %d partitions, %d assigned now\n",
                err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts->cnt,
                p->st.assigned);
}

/* ---- the dead-letter topic ---- */

static void sl_dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        sl_projector_t *p = opaque;

        (void)rk;
        if (rkm->err) {
                p->dlq_failed++;
                fprintf(stderr, "seerlog: project: dead letter not delivered to %s: %s\n",
                        p->dlq_topic, rd_kafka_err2str(rkm->err));
        }
}

/*
 * Produces @p m to the dead-letter topic with the reason. A record larger than
 * project.max.record.bytes goes without its value (its size in seerlog.dlq.size): it might not
 * fit the dead-letter producer's message.max.bytes, and the headers say where to find it.
 */
static sl_err_t sl_dlq_send(sl_projector_t *p, const rd_kafka_message_t *m, const char *reason,
                            sl_err_t why, char *errstr, size_t errstr_size)
{
        int oversize = m->len > p->max_record;
        char part[16], off[32], size[32];
        const char *topic = rd_kafka_topic_name(m->rkt), *code = sl_err_str(why);
        rd_kafka_resp_err_t err;

        if (p->replay) /* the live projector dead-lettered it already: counted only */
                return SL_OK;
        snprintf(part, sizeof(part), "%" PRId32, m->partition);
        snprintf(off, sizeof(off), "%" PRId64, m->offset);
        snprintf(size, sizeof(size), "%zu", m->len);
        for (;;) {
                err = rd_kafka_producev(
                    p->dlq, RD_KAFKA_V_TOPIC(p->dlq_topic),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                    RD_KAFKA_V_VALUE((oversize ? NULL : m->payload), (oversize ? 0 : m->len)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.reason", reason, (ssize_t)strlen(reason)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.error", code, (ssize_t)strlen(code)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.topic", topic, (ssize_t)strlen(topic)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.partition", part, (ssize_t)strlen(part)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.offset", off, (ssize_t)strlen(off)),
                    RD_KAFKA_V_HEADER("seerlog.dlq.size", size, (ssize_t)strlen(size)),
                    RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(p->dlq, 100);
        }
        if (err)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "dead letter to %s: %s",
                                 p->dlq_topic, rd_kafka_err2str(err));
        return SL_OK;
}

/* ---- liveness ---- */

static int64_t sl_proj_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
        sl_projector_t *p;
        int64_t now;
} sl_tick_ctx_t;

/* Produces one liveness record (best effort: the next change of the node supersedes it). */
static void sl_liveness_produce(sl_projector_t *p, const sl_liveness_record_t *rec)
{
        char errstr[256];
        rd_kafka_resp_err_t err;

        if (sl_liveness_record_encode(rec, p->liveness_id, &p->buf, errstr, sizeof(errstr)))
                return;
        err = rd_kafka_producev(p->dlq, RD_KAFKA_V_TOPIC(p->liveness_topic),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(rec->node_id, strlen(rec->node_id)),
                                RD_KAFKA_V_VALUE(p->buf.data, p->buf.len), RD_KAFKA_V_END);
        if (err)
                fprintf(stderr, "seerlog: project: liveness of %s not published: %s\n",
                        rec->node_id, rd_kafka_err2str(err));
}

/* Holds a change while the liveness schema has no id yet (the registry was down at start). */
static void sl_liveness_hold(sl_projector_t *p, const sl_liveness_record_t *rec)
{
        sl_lv_held_t *h;

        if (p->held_cnt == p->held_cap) {
                size_t cap = p->held_cap ? p->held_cap * 2 : 1024;

                if (cap > SL_PROJ_LIVENESS_HELD_MAX || !(h = realloc(p->held, cap * sizeof(*h)))) {
                        p->held_dropped++;
                        return;
                }
                p->held = h;
                p->held_cap = cap;
        }
        h = &p->held[p->held_cnt];
        h->rec = *rec;
        if (!(h->node_id = strdup(rec->node_id))) {
                p->held_dropped++;
                return;
        }
        h->rec.node_id = h->node_id;
        p->held_cnt++;
}

/* Publishes one liveness change, or holds it until the liveness schema has an id. */
static void sl_liveness_changed(const char *node_id, sl_liveness_state_t old_state,
                                sl_liveness_state_t new_state, int64_t since_ms,
                                int64_t last_heard_ms, void *opaque)
{
        sl_tick_ctx_t *t = opaque;
        sl_projector_t *p = t->p;
        sl_liveness_record_t rec = {
            .node_id = node_id,
            .state = new_state,
            .previous_state = old_state,
            .since_ms = since_ms,
            .last_heard_ms = last_heard_ms,
            .updated_ms = t->now,
            .heartbeat_interval_ms = p->hb_interval,
            .suspect_intervals = p->lv_conf.suspect_intervals,
            .dead_intervals = p->lv_conf.dead_intervals,
            .projector_id = p->instance,
        };

        p->st.liveness_changes++;
        if (p->watch.on_liveness)
                p->watch.on_liveness(p->watch.opaque, node_id, old_state, new_state, since_ms,
                                     last_heard_ms);
        if (p->liveness_subject)
                sl_liveness_hold(p, &rec);
        else if (p->liveness_topic)
                sl_liveness_produce(p, &rec);
}

/* The id of one of the projector's own schemas (liveness, lag reports) from the registry:
 * registered (schema.mode=register) or looked up. */
static sl_err_t sl_own_schema_id(sl_projector_t *p, const char *subject, const char *schema,
                                 int32_t *idp, char *errstr, size_t errstr_size)
{
        if (p->schema_register)
                return sl_registry_register(p->registry, subject, schema, 0, idp, errstr,
                                            errstr_size);
        return sl_registry_lookup(p->registry, subject, schema, 0, idp, NULL, errstr, errstr_size);
}

/* At start: the id of @p schema; or, when the registry does not answer (down, unreachable),
 * *@p pendingp set to the subject to ask again for (sl_own_schema_ids_retry()) and SL_OK: the
 * projector runs without the registry, and what needs the id (@p waits) waits. */
static sl_err_t sl_own_schema_id_or_later(sl_projector_t *p, const char *subject,
                                          const char *schema, int32_t *idp, char **pendingp,
                                          const char *waits, char *errstr, size_t errstr_size)
{
        sl_err_t err = sl_own_schema_id(p, subject, schema, idp, errstr, errstr_size);

        if (err != SL_ERR_IO && err != SL_ERR_TIMEOUT)
                return err;
        fprintf(stderr, "seerlog: project: %s; starting anyway, %s until the registry answers\n",
                errstr, waits);
        if (!(*pendingp = strdup(subject)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        p->ids_backoff_ms = SL_PROJ_IDS_RETRY_MS;
        p->ids_retry_ms = sl_proj_mono_ms() + p->ids_backoff_ms;
        errstr[0] = '\0';
        return SL_OK;
}

/* The liveness schema has its id: the changes held meanwhile are published, in order. */
static void sl_liveness_release(sl_projector_t *p)
{
        pthread_mutex_lock(&p->lv_lock);
        free(p->liveness_subject);
        p->liveness_subject = NULL;
        for (size_t i = 0; i < p->held_cnt; i++) {
                sl_liveness_produce(p, &p->held[i].rec);
                free(p->held[i].node_id);
        }
        fprintf(stderr,
                "seerlog: project: the registry answers: liveness schema id %d; %zu held "
                "liveness changes published to %s",
                p->liveness_id, p->held_cnt, p->liveness_topic);
        if (p->held_dropped)
                fprintf(stderr, " (%llu more were dropped: over %d held)",
                        (unsigned long long)p->held_dropped, SL_PROJ_LIVENESS_HELD_MAX);
        fprintf(stderr, "\n");
        free(p->held);
        p->held = NULL;
        p->held_cnt = p->held_cap = 0;
        pthread_mutex_unlock(&p->lv_lock);
}

/* While the registry has not answered: asks again for the ids still missing, backing off up
 * to a minute; once the liveness id is known, the changes held meanwhile are published. */
static void sl_own_schema_ids_retry(sl_projector_t *p, int64_t now)
{
        char errstr[512];
        sl_err_t err = SL_OK;

        if ((!p->liveness_subject && !p->control_subject && !p->changelog_subject) ||
            now < p->ids_retry_ms)
                return;
        if (p->changelog_subject &&
            !(err = sl_own_schema_id(p, p->changelog_subject, sl_event_schema_text(),
                                     &p->changelog_id, errstr, sizeof(errstr)))) {
                fprintf(stderr, "seerlog: project: the registry answers: applying\n");
                free(p->changelog_subject);
                p->changelog_subject = NULL;
        }
        if (!err && p->control_subject &&
            !(err = sl_own_schema_id(p, p->control_subject, sl_control_schema_text(),
                                     &p->control_id, errstr, sizeof(errstr)))) {
                free(p->control_subject);
                p->control_subject = NULL;
        }
        if (!err && p->liveness_subject &&
            !(err = sl_own_schema_id(p, p->liveness_subject, sl_liveness_schema_text(),
                                     &p->liveness_id, errstr, sizeof(errstr))))
                sl_liveness_release(p);
        if (err) {
                p->ids_backoff_ms = p->ids_backoff_ms * 2 > 60000 ? 60000 : p->ids_backoff_ms * 2;
                p->ids_retry_ms = now + p->ids_backoff_ms;
                if (err != SL_ERR_IO && err != SL_ERR_TIMEOUT)
                        fprintf(stderr, "seerlog: project: %s\n", errstr);
        }
}

/* The gauges of nodes per liveness state and per status, from the tracker (under its lock). */
static void sl_liveness_gauges(sl_projector_t *p, int tick)
{
        sl_tick_ctx_t t = {p, p->clock_ms ? p->clock_ms : sl_proj_wall_ms()};
        size_t counts[SL_LIVENESS__CNT], status_counts[SL_STATUS__CNT];

        pthread_mutex_lock(&p->lv_lock);
        if (tick)
                sl_liveness_tick(p->lv, t.now, p->hb_interval, sl_liveness_changed, &t);
        sl_liveness_counts(p->lv, counts);
        sl_liveness_status_counts(p->lv, status_counts);
        pthread_mutex_unlock(&p->lv_lock);
        for (int i = 0; i < SL_LIVENESS__CNT; i++)
                p->st.liveness[i] = counts[i];
        for (int i = 0; i < SL_STATUS__CNT; i++)
                p->st.status[i] = status_counts[i];
}

static void sl_liveness_tick_now(sl_projector_t *p)
{
        sl_liveness_gauges(p, 1);
}

/* Seeds the tracker with a stored node, received at the projector's start (ctx->now). */
static int sl_liveness_seed_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        const sl_tick_ctx_t *t = opaque;
        sl_err_t err =
            sl_liveness_observe(t->p->lv, node_id, ev->kind, ev->event_time_ms, t->now, NULL, 0);

        if (!err)
                sl_liveness_set_status(t->p->lv, node_id, ev->status);

        /* Only memory can fail here: the store's node ids are valid. */
        return err == SL_ERR_NOMEM ? (int)err : 0;
}

/* The tracker, seeded with the store's nodes and the inventory; the liveness topic's schema. */
static sl_err_t sl_liveness_start(sl_projector_t *p, const sl_conf_t *conf, char *errstr,
                                  size_t errstr_size)
{
        const char *inventory = sl_conf_get(conf, "inventory.file");
        const char *topic = sl_conf_get(conf, "liveness.topic");
        const char *mode = sl_conf_get(conf, "schema.mode");
        sl_tick_ctx_t seed;
        char subject[300];
        sl_err_t err;

        p->hb_interval = sl_conf_get_int(conf, "heartbeat.interval.ms");
        sl_liveness_conf_init(&p->lv_conf, conf);
        if (!(p->lv = sl_liveness_new(&p->lv_conf, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        if (inventory && *inventory &&
            (err = sl_liveness_load_inventory(p->lv, inventory, errstr, errstr_size)))
                return err;
        seed.p = p;
        seed.now = sl_proj_wall_ms();
        errstr[0] = '\0';
        if ((err = sl_store_walk(p->store, sl_liveness_seed_cb, &seed, errstr, errstr_size)))
                return errstr[0] ? err
                                 : sl_seterr(errstr, errstr_size, err,
                                             "seeding liveness from the store: out of memory");
        if (!topic || !*topic || p->replay)
                return SL_OK;
        if (!strcmp(mode, "fixed")) {
                /* Without a registry there is no id for a second schema. */
                fprintf(stderr,
                        "seerlog: project: schema.mode=fixed: liveness changes are not "
                        "published to %s (they need the registry)\n",
                        topic);
                return SL_OK;
        }
        snprintf(subject, sizeof(subject), "%s-value", topic);
        if (!(p->liveness_topic = strdup(topic)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        /* Without the registry (down, unreachable) the projector runs all the same: events
         * whose schema it must fetch wait in their batch, liveness changes are held. */
        return sl_own_schema_id_or_later(p, subject, sl_liveness_schema_text(), &p->liveness_id,
                                         &p->liveness_subject, "liveness changes are held", errstr,
                                         errstr_size);
}

/* ---- lag: reported to the control topic, and the busiest partitions paused ---- */

/* Pauses or resumes partitions @p idx[0..cnt). */
static void sl_pause(sl_projector_t *p, const size_t *idx, size_t cnt, int pause)
{
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)cnt);

        if (!list)
                return;
        for (size_t i = 0; i < cnt; i++) {
                rd_kafka_topic_partition_list_add(list, p->parts[idx[i]].topic,
                                                  p->parts[idx[i]].partition);
                p->parts[idx[i]].paused = pause;
        }
        if (pause)
                rd_kafka_pause_partitions(p->rk, list);
        else
                rd_kafka_resume_partitions(p->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
}

/*
 * When the projector falls behind (total lag above lag.high), partitions with more than twice
 * the mean lag are paused, so that the others — whose nodes' heartbeats keep liveness right —
 * are read up to their end instead of waiting behind a flood; they are resumed once the others
 * are under lag.low, or after 10 lag intervals at most.
 */
static void sl_balance(sl_projector_t *p, int64_t total, int64_t now)
{
        size_t idx[256], cnt = 0, assigned = 0;
        int64_t others = 0;

        for (size_t i = 0; i < p->part_cnt; i++)
                assigned += p->parts[i].assigned;
        if (p->paused_at) {
                for (size_t i = 0; i < p->part_cnt; i++) {
                        if (p->parts[i].paused && cnt < 256)
                                idx[cnt++] = i;
                        else if (p->parts[i].assigned && p->parts[i].lag > 0)
                                others += p->parts[i].lag;
                }
                if (others < p->lag_low || now - p->paused_at > 10 * p->lag_interval) {
                        sl_pause(p, idx, cnt, 0);
                        p->paused_at = 0;
                        p->st.paused = 0;
                }
                return;
        }
        if (total <= p->lag_high || assigned < 2)
                return;
        others = total;
        for (size_t i = 0; i < p->part_cnt && cnt < assigned / 2 && cnt < 256; i++) {
                const sl_part_t *pt = &p->parts[i];

                if (pt->assigned && pt->lag > 2 * (total / (int64_t)assigned)) {
                        idx[cnt++] = i;
                        others -= pt->lag;
                }
        }
        /* Pausing helps only if the others are behind too: else it would just stall. */
        if (cnt && others < p->lag_low)
                cnt = 0;
        if (cnt) {
                sl_pause(p, idx, cnt, 1);
                p->paused_at = now;
                p->st.paused = (int)cnt;
                p->st.pauses++;
        }
}

/* Measures the lag of every assigned partition, reports it, adjusts liveness and pausing. */
static void sl_lag_report(sl_projector_t *p)
{
        sl_lag_report_t rep = {.projector_id = p->instance, .group_id = p->group};
        int64_t total = 0, now = sl_proj_wall_ms();
        size_t n = 0;
        char errstr[256];

        for (size_t i = 0; i < p->part_cnt; i++) {
                sl_part_t *pt = &p->parts[i];
                int64_t lo, hi, pos;

                pt->lag = -1;
                if (!pt->assigned ||
                    rd_kafka_get_watermark_offsets(p->rk, pt->topic, pt->partition, &lo, &hi))
                        continue;
                if (hi < 0)
                        continue; /* not fetched from yet */
                pos = pt->next >= 0 ? pt->next : lo;
                pt->lag = hi > pos ? hi - pos : 0;
                total += pt->lag;
                p->lags[n++] = (sl_partition_lag_t){pt->topic, pt->partition, pt->lag};
        }
        p->st.lag = total;
        pthread_mutex_lock(&p->pub_lock);
        if (n > p->pub_lag_cap) {
                sl_partition_lag_t *nl = realloc(p->pub_lags, n * sizeof(*nl));

                if (nl) {
                        p->pub_lags = nl;
                        p->pub_lag_cap = n;
                }
        }
        p->pub_lag_cnt = n <= p->pub_lag_cap ? n : 0;
        if (p->pub_lag_cnt)
                memcpy(p->pub_lags, p->lags, n * sizeof(*p->lags));
        pthread_mutex_unlock(&p->pub_lock);
        /* Agents stretch their heartbeats while some projector reports lag above lag.high
         * (hysteresis down to lag.low): liveness judges by the stretched interval meanwhile. */
        if (total > p->lag_high)
                p->lag_stretched = 1;
        else if (total < p->lag_low)
                p->lag_stretched = 0;
        p->hb_interval = p->lag_stretched ? p->hb_max : p->hb_normal;
        sl_balance(p, total, now);
        if (!p->control_topic || p->control_subject)
                return;
        rep.lag = total;
        rep.updated_ms = now;
        rep.partitions = p->lags;
        rep.partition_cnt = n;
        if (sl_lag_report_encode(&rep, p->control_id, &p->buf, errstr, sizeof(errstr)) ||
            rd_kafka_producev(p->dlq, RD_KAFKA_V_TOPIC(p->control_topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(p->instance, strlen(p->instance)),
                              RD_KAFKA_V_VALUE(p->buf.data, p->buf.len), RD_KAFKA_V_END))
                fprintf(stderr, "seerlog: project: lag report to %s not sent\n", p->control_topic);
}

/* Where lag reports go, and the schema id of control.avsc (schema.mode, as 'seerlog control'). */
static sl_err_t sl_lag_start(sl_projector_t *p, const sl_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
        const char *topic = sl_conf_get(conf, "control.topic");
        const char *mode = sl_conf_get(conf, "schema.mode");
        char subject[300];
        sl_err_t err = SL_OK;

        p->hb_normal = p->hb_interval;
        p->hb_max = sl_conf_get_int(conf, "heartbeat.max.interval.ms");
        if (p->hb_max < p->hb_normal)
                p->hb_max = p->hb_normal;
        p->lag_interval = sl_conf_get_int(conf, "project.lag.interval.ms");
        p->lag_high = sl_conf_get_int(conf, "lag.high");
        p->lag_low = sl_conf_get_int(conf, "lag.low");
        if (!(p->group = strdup(sl_conf_get(conf, "project.group.id"))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (p->replay)
                p->lag_interval = 0;
        if (!p->lag_interval || !topic || !*topic)
                return SL_OK;
        snprintf(subject, sizeof(subject), "%s-value", topic);
        if (!strcmp(mode, "fixed"))
                p->control_id = (int32_t)sl_conf_get_int(conf, "schema.id");
        else
                err = sl_own_schema_id_or_later(p, subject, sl_control_schema_text(),
                                                &p->control_id, &p->control_subject,
                                                "lag reports are not sent", errstr, errstr_size);
        if (!err && !(p->control_topic = strdup(topic)))
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return err;
}

/* ---- creation ---- */

/* The consumer's -X properties mean nothing to the producers: not worth a warning each. */
static void sl_proj_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        sl_kafka_log_check(level, fac, buf);
        if (!strcmp(fac, "CONFWARN") && rd_kafka_type(rk) == RD_KAFKA_PRODUCER &&
            strstr(buf, "consumer property"))
                return;
        fprintf(stderr, "%%%d|%s|%s: %s\n", level, fac, rd_kafka_name(rk), buf);
}

static rd_kafka_conf_t *sl_proj_kafka_conf(const sl_conf_t *conf, const char *const *defaults,
                                           char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *c = rd_kafka_conf_new();

        if (!c) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        for (; *defaults; defaults += 2)
                if (rd_kafka_conf_set(c, defaults[0], defaults[1], errstr, errstr_size)) {
                        sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s rejected", defaults[0],
                                  defaults[1]);
                        rd_kafka_conf_destroy(c);
                        return NULL;
                }
        if (sl_conf_kafka_apply(conf, c, errstr, errstr_size)) {
                rd_kafka_conf_destroy(c);
                return NULL;
        }
        rd_kafka_conf_set_log_cb(c, sl_proj_log_cb);
        return c;
}

/*
 * The store's identity as a static group member (group.instance.id): made once, kept in the
 * store's meta. A projector restarted on its store (after a crash too) takes its partitions back
 * at once instead of waiting for the dead member's session to time out.
 */
static sl_err_t sl_instance_id(sl_projector_t *p, char *buf, size_t size, char *errstr,
                               size_t errstr_size)
{
        char id[64];
        sl_store_txn_t *txn;
        sl_err_t err;

        err = sl_store_meta_get(p->store, "instance.id", id, sizeof(id), errstr, errstr_size);
        if (err == SL_ERR_NOT_FOUND) {
                if ((err = sl_event_new_id(p->ev)))
                        return sl_seterr(errstr, errstr_size, err, "instance id: %s",
                                         sl_err_str(err));
                snprintf(id, sizeof(id), "%s", p->ev->event_id);
                if ((err = sl_store_begin(p->store, &txn, errstr, errstr_size)))
                        return err;
                if ((err = sl_store_meta_put(txn, "instance.id", id, errstr, errstr_size))) {
                        sl_store_abort(txn);
                        return err;
                }
                err = sl_store_commit(txn, errstr, errstr_size);
        }
        if (!err)
                snprintf(buf, size, "seerlog-project-%s", id);
        return err;
}

/* ---- the changelog: the latest state per node, compacted, in the batch's transaction ---- */

/* Creates the compacted changelog topic unless it exists. */
static sl_err_t sl_changelog_create(sl_projector_t *p, const sl_conf_t *conf, char *errstr,
                                    size_t errstr_size)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(p->txp);
        rd_kafka_NewTopic_t *nt = NULL;
        rd_kafka_AdminOptions_t *o = NULL;
        rd_kafka_event_t *ev = NULL;
        sl_err_t err = SL_OK;
        char e[256];

        if (!q || !(nt = rd_kafka_NewTopic_new(
                        p->changelog, (int)sl_conf_get_int(conf, "project.changelog.partitions"),
                        (int)sl_conf_get_int(conf, "topic.replication.factor"), e, sizeof(e)))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "changelog topic %s: %s",
                                p->changelog, q ? e : "out of memory");
                goto done;
        }
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
        o = rd_kafka_AdminOptions_new(p->txp, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(o, 30000, NULL, 0);
        rd_kafka_CreateTopics(p->txp, &nt, 1, o, q);
        if (!(ev = sl_kafka_queue_poll(q, 35000))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_TIMEOUT,
                                "creating the changelog topic %s: no answer in 35 s", p->changelog);
                goto done;
        }
        {
                size_t cnt;
                const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
                    rd_kafka_event_CreateTopics_result(ev), &cnt);
                rd_kafka_resp_err_t rerr = rd_kafka_event_error(ev)
                                               ? rd_kafka_event_error(ev)
                                               : (cnt ? rd_kafka_topic_result_error(res[0]) : 0);

                if (rerr && rerr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                        "creating the changelog topic %s: %s", p->changelog,
                                        rd_kafka_err2str(rerr));
        }

done:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (o)
                rd_kafka_AdminOptions_destroy(o);
        if (nt)
                rd_kafka_NewTopic_destroy(nt);
        if (q)
                rd_kafka_queue_destroy(q);
        return err;
}

/* The transactional producer, the topic and the schema id of the changelog. */
/*
 * Asks for @p topic's metadata now, so that the first record @p rk produces to it is not held
 * back until librdkafka learns where its partitions are: librdkafka 2.0.2 asks for a topic it
 * has not seen at its next topic scan, up to a second later (the projector's first lag report,
 * and the changelog's first batch, waited about 0.9 s). Best effort: the producer asks again by
 * itself. NULL or "" does nothing.
 */
static void sl_warm_metadata(rd_kafka_t *rk, const char *topic)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;

        if (!topic || !*topic || !(rkt = rd_kafka_topic_new(rk, topic, NULL)))
                return;
        if (!rd_kafka_metadata(rk, 0, rkt, &md, SL_PROJ_WARM_TIMEOUT))
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static sl_err_t sl_changelog_start(sl_projector_t *p, const sl_conf_t *conf, const char *instance,
                                   const char *level, char *errstr, size_t errstr_size)
{
        const char *defaults[] = {"client.id", "seerlog-project-changelog", "log_level", level,
                                  "transactional.id", instance, "enable.idempotence", "true",
                                  "acks", "all", "partitioner", "murmur2_random",
                                  /* A batch's records (up to project.batch.max) fit in the
                                   * queue: the transaction's commit sends what is left. */
                                  "queue.buffering.max.messages", "1000000", NULL};
        const char *mode = sl_conf_get(conf, "schema.mode");
        rd_kafka_conf_t *c;
        rd_kafka_error_t *error;
        char subject[300];
        sl_err_t err;

        if (!(c = sl_proj_kafka_conf(conf, defaults, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        if (!(p->txp = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, errstr_size)))
                return SL_ERR_CONFIG;
        if (sl_conf_get_bool(conf, "topic.create") &&
            (err = sl_changelog_create(p, conf, errstr, errstr_size)))
                return err;
        snprintf(subject, sizeof(subject), "%s-value", p->changelog);
        if (!strcmp(mode, "fixed"))
                p->changelog_id = (int32_t)sl_conf_get_int(conf, "schema.id");
        else if ((err = sl_own_schema_id_or_later(p, subject, sl_event_schema_text(),
                                                  &p->changelog_id, &p->changelog_subject,
                                                  "batches wait", errstr, errstr_size)))
                return err;
        /* Fences an earlier incarnation of this store's projector (a zombie). In slices (a
         * timed-out call resumes) to stop at once on wrong credentials (sl_kafka.h). */
        for (int waited = 0;; waited += 1000) {
                error = rd_kafka_init_transactions(p->txp, 1000);
                if (!error || rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__TIMED_OUT ||
                    waited >= 60000 || sl_kafka_fatal(NULL, 0))
                        break;
                rd_kafka_error_destroy(error);
        }
        if (error) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                "changelog: initialising transactions: %s",
                                rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                return err;
        }
        sl_warm_metadata(p->txp, p->changelog);
        return SL_OK;
}

/* Produces a node's state (a store value, see sl_store.h) to the changelog, in the open
 * transaction. */
static sl_err_t sl_changelog_put(sl_projector_t *p, const char *node_id, size_t id_len,
                                 const uint8_t *value, size_t value_len, char *errstr,
                                 size_t errstr_size)
{
        size_t body_len = value_len - SL_STORE_NODE_HDR;
        rd_kafka_resp_err_t err;

        if (sl_buf_reserve(&p->w_buf, SL_WIRE_HEADER_SIZE + body_len))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        p->w_buf.data[0] = 0;
        sl_be32(p->w_buf.data + 1, (uint32_t)p->changelog_id);
        memcpy(p->w_buf.data + SL_WIRE_HEADER_SIZE, value + SL_STORE_NODE_HDR, body_len);
        p->w_buf.len = SL_WIRE_HEADER_SIZE + body_len;
        for (;;) {
                err = rd_kafka_producev(
                    p->txp, RD_KAFKA_V_TOPIC(p->changelog),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(node_id, id_len),
                    RD_KAFKA_V_VALUE(p->w_buf.data, p->w_buf.len), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                /* No delivery callback: this only waits (briefly) for the queue to drain. */
                rd_kafka_poll(p->txp, 5);
        }
        if (err)
                return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "changelog %s: %s",
                                 p->changelog, rd_kafka_err2str(err));
        return SL_OK;
}

/*
 * Commits the batch's changelog records together with its offsets (for the group) in the open
 * transaction. @returns 0, 1 (aborted: retry the batch) or -1 (fatal).
 */
static int sl_changelog_commit(sl_projector_t *p, rd_kafka_topic_partition_list_t *list,
                               char *errstr, size_t errstr_size)
{
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(p->rk);
        rd_kafka_error_t *error = NULL;
        int rc = 0;

        if (list->cnt)
                error = rd_kafka_send_offsets_to_transaction(p->txp, list, cgmd, 60000);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (!error)
                error = rd_kafka_commit_transaction(p->txp, 60000);
        if (!error) {
                p->txn_open = 0;
                return 0;
        }
        sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "changelog transaction: %s",
                  rd_kafka_error_string(error));
        rc = rd_kafka_error_is_fatal(error) ? -1 : 1;
        rd_kafka_error_destroy(error);
        return rc;
}

/* Aborts the open transaction, if any (the batch is being given up). */
static void sl_changelog_abort(sl_projector_t *p)
{
        rd_kafka_error_t *error;

        if (!p->txn_open)
                return;
        p->txn_open = 0;
        if ((error = rd_kafka_abort_transaction(p->txp, 60000))) {
                fprintf(stderr, "seerlog: project: aborting the changelog transaction: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

/* The decoding codec: the built-in schema, or as project.reader.schema's older version. */
static sl_err_t sl_proj_codec(sl_projector_t *p, const sl_conf_t *conf, char *errstr,
                              size_t errstr_size)
{
        const char *path = sl_conf_get(conf, "project.reader.schema");
        int32_t id = (int32_t)sl_conf_get_int(conf, "schema.id");
        char *text = NULL;
        FILE *f;
        long len;

        if (!path || !*path) {
                if (!(p->codec = sl_codec_new(id, errstr, errstr_size)))
                        return SL_ERR_SCHEMA;
                goto ids;
        }
        if (!(f = fopen(path, "r")))
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "project.reader.schema %s: %s",
                                 path, strerror(errno));
        if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || len > (1 << 20) ||
            fseek(f, 0, SEEK_SET) || !(text = calloc(1, (size_t)len + 1)) ||
            fread(text, 1, (size_t)len, f) != (size_t)len) {
                fclose(f);
                free(text);
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "project.reader.schema %s: cannot read it (at most 1 MiB)", path);
        }
        fclose(f);
        p->codec = sl_codec_new_reader(id, text, errstr, errstr_size);
        free(text);
        if (!p->codec)
                return SL_ERR_CONFIG;
        fprintf(stderr, "seerlog: project: decoding as a reader of %s\n", path);
ids:
        /* With a registry in use every id is the registry's to say: its id schema.id may
         * belong to another version of the schema. */
        if (sl_conf_registry_in_use(conf))
                sl_codec_forget_schema(p->codec, id);
        return SL_OK;
}

/*
 * A replay's partitions: each from the store's offset (the log's start when it has none) up to
 * its end, assigned without a group. A partition with nothing to read counts as read.
 */
static sl_err_t sl_replay_assign(sl_projector_t *p, const sl_replay_t *replay, char *errstr,
                                 size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *parts =
            rd_kafka_topic_partition_list_new((int)replay->part_cnt + 1);
        rd_kafka_topic_partition_list_t *list = NULL;
        rd_kafka_resp_err_t kerr;
        sl_err_t err = SL_OK;

        if (!parts)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < replay->part_cnt; i++) {
                const sl_replay_part_t *rp = &replay->parts[i];
                int64_t next;

                err = sl_store_offset_get(p->store, rp->topic, rp->partition, &next, errstr,
                                          errstr_size);
                if (err == SL_ERR_NOT_FOUND)
                        next = RD_KAFKA_OFFSET_BEGINNING;
                else if (err)
                        goto done;
                err = SL_OK;
                rd_kafka_topic_partition_list_add(parts, rp->topic, rp->partition)->offset = next;
        }
        sl_resolve_beginnings(p, parts);
        if (!(list = rd_kafka_topic_partition_list_new(parts->cnt + 1))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                sl_part_t *pt = sl_part_get(p, tp->topic, tp->partition);

                if (!pt) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                if (tp->offset < 0) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                        "%s [%d]: the start of the log is not known", tp->topic,
                                        (int)tp->partition);
                        goto done;
                }
                pt->end = replay->parts[i].end;
                pt->next = pt->read_to = tp->offset;
                pt->assigned = 1;
                if (tp->offset >= pt->end) {
                        pt->end_seen = 1;
                        continue;
                }
                rd_kafka_topic_partition_list_add(list, tp->topic, tp->partition)->offset =
                    tp->offset;
        }
        p->st.assigned = (int)p->part_cnt;
        if (list->cnt && (kerr = rd_kafka_assign(p->rk, list)))
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "assigning partitions: %s",
                                rd_kafka_err2str(kerr));
done:
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_topic_partition_list_destroy(parts);
        return err;
}

static sl_projector_t *sl_projector_create(const sl_conf_t *conf, const char *store_dir,
                                           const sl_replay_t *replay, char *errstr,
                                           size_t errstr_size)
{
        static const char *const rk_levels[] = {"3", "4", "6", "7"};
        const char *level = rk_levels[sl_conf_get_enum(conf, "log.level") & 3];
        const char *pattern = sl_conf_get(conf, "project.topic.pattern");
        sl_projector_t *p = calloc(1, sizeof(*p));
        rd_kafka_topic_partition_list_t *subs = NULL;
        rd_kafka_conf_t *c = NULL;
        rd_kafka_resp_err_t err;

        if (!p) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&p->w_lock, NULL);
        pthread_cond_init(&p->w_cond, NULL);
        pthread_mutex_init(&p->lv_lock, NULL);
        pthread_mutex_init(&p->pub_lock, NULL);
        p->replay = replay != NULL;
        p->clock_ms = replay ? replay->clock_ms : 0;
        if (!pattern || pattern[0] != '^') {
                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                          "project.topic.pattern must be a regular expression starting with ^");
                goto fail;
        }
        p->batch_max = (size_t)sl_conf_get_int(conf, "project.batch.max");
        p->max_record = (size_t)sl_conf_get_int(conf, "project.max.record.bytes");
        p->chunk = p->batch_max < SL_PROJ_CHUNK ? p->batch_max : SL_PROJ_CHUNK;
        if (!(p->dlq_topic = strdup(sl_conf_get(conf, "dlq.topic"))) ||
            !(p->msgs = calloc(p->chunk, sizeof(*p->msgs))) || !(p->ev = sl_event_new())) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (int i = 0; i < 2; i++) {
                sl_batch_t *b = p->batch[i] = calloc(1, sizeof(*b));

                if (!b || !(b->pend = calloc(p->batch_max, sizeof(*b->pend))) ||
                    !(b->order = calloc(p->batch_max, sizeof(*b->order)))) {
                        sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto fail;
                }
        }
        for (p->slot_mask = 1; p->slot_mask < 2 * p->batch_max; p->slot_mask <<= 1)
                ;
        if (!(p->slots = calloc(p->slot_mask, sizeof(*p->slots)))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        p->slot_mask--;
        if (!(p->changelog = strdup(sl_conf_get(conf, "project.changelog.topic")))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (!*p->dlq_topic) {
                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "dlq.topic is empty");
                goto fail;
        }
        if (sl_store_open(store_dir, sl_conf_get_int(conf, "store.max.bytes"), &p->store, errstr,
                          errstr_size))
                goto fail;
        if (sl_proj_codec(p, conf, errstr, errstr_size) ||
            !(p->registry = sl_registry_client_new(conf, errstr, errstr_size)))
                goto fail;
        sl_codec_set_fetch_cb(p->codec, sl_registry_fetch_cb, p->registry);

        /* The dead-letter producer (a replay publishes nothing). */
        if (!p->replay) {
                const char *defaults[] = {"client.id",
                                          "seerlog-project-dlq",
                                          "log_level",
                                          level,
                                          "enable.idempotence",
                                          "true",
                                          "acks",
                                          "all",
                                          NULL};

                if (!(c = sl_proj_kafka_conf(conf, defaults, errstr, errstr_size)))
                        goto fail;
                rd_kafka_conf_set_dr_msg_cb(c, sl_dlq_dr_cb);
                rd_kafka_conf_set_opaque(c, p);
                if (!(p->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, errstr_size)))
                        goto fail;
                c = NULL;
        }

        if (p->replay)
                snprintf(p->instance, sizeof(p->instance), "seerlog-replay");
        else if (sl_instance_id(p, p->instance, sizeof(p->instance), errstr, errstr_size))
                goto fail;
        p->schema_register = !strcmp(sl_conf_get(conf, "schema.mode"), "register");
        if (sl_liveness_start(p, conf, errstr, errstr_size) ||
            sl_lag_start(p, conf, errstr, errstr_size))
                goto fail;
        /* What the dead-letter producer writes to: the first record need not wait. */
        if (p->dlq) {
                sl_warm_metadata(p->dlq, p->control_topic);
                sl_warm_metadata(p->dlq, p->liveness_topic);
                sl_warm_metadata(p->dlq, p->dlq_topic);
        }
        /* The consumer: the store keeps the offsets; Kafka's commits are for the lag tools. */
        {
                /* A replay joins no group (librdkafka 2.0.2's assign() still wants a group.id)
                 * and is no static member. */
                const char *defaults[] = {
                    "client.id", p->replay ? "seerlog-replay" : "seerlog-project",
                    p->replay ? "client.id" : "group.instance.id",
                    p->replay ? "seerlog-replay" : p->instance, "log_level", level, "group.id",
                    p->replay ? "seerlog-replay" : sl_conf_get(conf, "project.group.id"),
                    "partition.assignment.strategy", "cooperative-sticky", "isolation.level",
                    "read_committed", "enable.auto.commit", "false", "enable.auto.offset.store",
                    "false", "auto.offset.reset", "earliest", "enable.partition.eof", "true",
                    "topic.metadata.refresh.interval.ms", "5000",
                    /* The end of an idle partition is known after one
                     * long poll: 100 ms rather than 500 (--catch-up). */
                    "fetch.wait.max.ms", "100",
                    /* Room for whole batches while catching up (librdkafka's defaults are
                     * 100000 messages and 64 MiB). librdkafka holds the count against the whole
                     * consumer queue, and a partition that finds it exceeded is not fetched
                     * again for 500 ms (fetch.error.backoff.ms): with 200000, catching up
                     * stalled for 500 ms after every few batches. The bytes bound the memory. */
                    "queued.min.messages", "1000000", "queued.max.messages.kbytes", "131072", NULL};

                if (!(c = sl_proj_kafka_conf(conf, defaults, errstr, errstr_size)))
                        goto fail;
        }
        if (!p->replay)
                rd_kafka_conf_set_rebalance_cb(c, sl_rebalance_cb);
        rd_kafka_conf_set_opaque(c, p);
        if (!(p->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, errstr_size)))
                goto fail;
        c = NULL;
        if (!p->replay && *p->changelog &&
            sl_changelog_start(p, conf, p->instance, level, errstr, errstr_size))
                goto fail;
        rd_kafka_poll_set_consumer(p->rk);
        if (p->replay) {
                if (sl_replay_assign(p, replay, errstr, errstr_size))
                        goto fail;
        } else if (!(subs = rd_kafka_topic_partition_list_new(1))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (subs) {
                rd_kafka_topic_partition_list_add(subs, pattern, RD_KAFKA_PARTITION_UA);
                err = rd_kafka_subscribe(p->rk, subs);
                rd_kafka_topic_partition_list_destroy(subs);
                if (err) {
                        sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "subscribing to %s: %s",
                                  pattern, rd_kafka_err2str(err));
                        goto fail;
                }
        }
        p->st.nodes = sl_store_node_count(p->store);
        if ((errno = pthread_create(&p->w_thread, NULL, sl_writer_main, p))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "starting the writer thread: %s",
                          strerror(errno));
                goto fail;
        }
        p->w_started = 1;
        return p;

fail:
        if (c)
                rd_kafka_conf_destroy(c);
        sl_projector_destroy(p);
        return NULL;
}

sl_projector_t *sl_projector_new(const sl_conf_t *conf, const char *store_dir, char *errstr,
                                 size_t errstr_size)
{
        return sl_projector_create(conf, store_dir, NULL, errstr, errstr_size);
}

sl_projector_t *sl_projector_new_replay(const sl_conf_t *conf, const char *store_dir,
                                        const sl_replay_t *replay, char *errstr, size_t errstr_size)
{
        if (!replay || (replay->part_cnt && !replay->parts)) {
                sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "replay: no partitions");
                return NULL;
        }
        return sl_projector_create(conf, store_dir, replay, errstr, errstr_size);
}

void sl_projector_destroy(sl_projector_t *p)
{
        if (!p)
                return;
        if (p->w_started) {
                /* The batch at the writer is finished (committed or not), then the writer. */
                sl_writer_collect(p);
                pthread_mutex_lock(&p->w_lock);
                p->w_stop = 1;
                pthread_cond_broadcast(&p->w_cond);
                pthread_mutex_unlock(&p->w_lock);
                pthread_join(p->w_thread, NULL);
                p->w_started = 0;
        }
        if (p->rk) {
                rd_kafka_consumer_close(p->rk);
                rd_kafka_destroy(p->rk);
        }
        if (p->dlq) {
                rd_kafka_flush(p->dlq, SL_PROJ_CLOSE_TIMEOUT);
                rd_kafka_destroy(p->dlq);
        }
        if (p->txp) {
                sl_changelog_abort(p);
                rd_kafka_destroy(p->txp);
        }
        free(p->changelog);
        free(p->liveness_topic);
        free(p->liveness_subject);
        free(p->control_subject);
        free(p->changelog_subject);
        for (size_t i = 0; i < p->held_cnt; i++)
                free(p->held[i].node_id);
        free(p->held);
        free(p->control_topic);
        free(p->group);
        free(p->lags);
        sl_liveness_destroy(p->lv);
        sl_buf_free(&p->buf);
        sl_store_close(p->store);
        sl_codec_destroy(p->codec);
        sl_registry_client_destroy(p->registry);
        sl_event_destroy(p->ev);
        for (size_t i = 0; i < p->part_cnt; i++)
                free(p->parts[i].topic);
        free(p->parts);
        free(p->msgs);
        for (int i = 0; i < 2; i++) {
                if (!p->batch[i])
                        continue;
                sl_buf_free(&p->batch[i]->arena);
                free(p->batch[i]->pend);
                free(p->batch[i]->order);
                free(p->batch[i]->parts);
                free(p->batch[i]->early);
                free(p->batch[i]);
        }
        free(p->slots);
        sl_buf_free(&p->w_buf);
        free(p->dlq_topic);
        pthread_mutex_destroy(&p->w_lock);
        pthread_cond_destroy(&p->w_cond);
        pthread_mutex_destroy(&p->lv_lock);
        pthread_mutex_destroy(&p->pub_lock);
        free(p->pub_lags);
        free(p);
}

/* ---- one batch ---- */

/* Whether a decode error is the record's fault (dead letter) rather than ours (retry). */
static int sl_record_fault(sl_err_t err)
{
        switch (err) {
        case SL_ERR_INVALID_ARG:
        case SL_ERR_BAD_MAGIC:
        case SL_ERR_TRUNCATED:
        case SL_ERR_BAD_VARINT:
        case SL_ERR_BAD_LENGTH:
        case SL_ERR_BAD_ENUM:
        case SL_ERR_TRAILING:
        case SL_ERR_BAD_VALUE:
        case SL_ERR_UNKNOWN_SCHEMA:
        case SL_ERR_SCHEMA:
                return 1;
        default:
                return 0;
        }
}

/* Commits the batch's offsets to Kafka, asynchronously, for the lag tools only. */
static void sl_commit_kafka(sl_projector_t *p, rd_kafka_topic_partition_list_t *list)
{
        if (list->cnt)
                rd_kafka_commit(p->rk, list, 1);
}

static uint64_t sl_id_hash(const char *id, size_t len)
{
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

        for (size_t i = 0; i < len; i++)
                h = (h ^ (uint8_t)id[i]) * 0x100000001b3ULL;
        return h;
}

/*
 * Keeps p->ev as its node's pending state in @p b if it is newer than the batch's pending one
 * (the store decides later whether it is newer than the stored one). @returns SL_OK,
 * SL_ERR_NOT_FOUND (stale next to the pending one), or an error of sl_store_value() (an invalid
 * event: the record's fault) or SL_ERR_NOMEM.
 */
static sl_err_t sl_pend(sl_projector_t *p, sl_batch_t *b, const sl_part_t *pt, int64_t offset,
                        int64_t rec_ms, char *errstr, size_t errstr_size)
{
        const sl_event_t *ev = p->ev;
        size_t id_len = strlen(ev->node_id), start = b->arena.len, slot, val_len;
        uint64_t h = sl_id_hash(ev->node_id, id_len);
        sl_pending_t *pe = NULL;
        int is_new = 0;
        sl_err_t err;

        for (slot = h & p->slot_mask; p->slots[slot]; slot = (slot + 1) & p->slot_mask) {
                sl_pending_t *q = &b->pend[p->slots[slot] - 1];

                if (q->hash == h && q->id_len == id_len &&
                    !memcmp(b->arena.data + q->off, ev->node_id, id_len)) {
                        pe = q;
                        break;
                }
        }
        /* The value goes to the end of the arena (encoding validates, newer or not). */
        if ((err = sl_store_value(p->store, ev, &b->arena, errstr, errstr_size)))
                return err;
        val_len = b->arena.len - start;
        /*
         * Between a bridged and a native event the rule depends on the stored state (a bridged
         * event replaces a native state only once the node left), so coalescing across the two
         * sides could differ from applying the events one by one. When a node's events switch
         * sides, its pending value is set aside to be stored first, in log order, and the new
         * event starts a new pending value: within one side the numbers decide, and the result
         * equals a one-by-one application whatever the batch boundaries.
         */
        if (pe && (pe->source == SL_SOURCE_BRIDGE) != (ev->source == SL_SOURCE_BRIDGE)) {
                if (b->early_cnt == b->early_cap) {
                        size_t cap = b->early_cap ? 2 * b->early_cap : 16;
                        sl_pending_t *ne = realloc(b->early, cap * sizeof(*ne));

                        if (!ne) {
                                b->arena.len = start;
                                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM,
                                                 "out of memory");
                        }
                        b->early = ne;
                        b->early_cap = cap;
                }
                b->early[b->early_cnt++] = *pe;
                pe->val_off = start; /* a value of its own: the one set aside stays */
                pe->val_cap = (uint32_t)val_len;
                goto fill;
        }
        if (pe && !sl_store_supersedes(ev->incarnation, ev->seq, ev->source, pe->inc, pe->seq,
                                       pe->source, pe->status, pe->takeover)) {
                b->arena.len = start; /* stale next to the batch's pending event */
                return SL_ERR_NOT_FOUND;
        }
        if (pe && val_len <= pe->val_cap) {
                /* Replaces the node's pending value where it is (the arena stays as large as
                 * the batch's nodes, not its events). */
                memcpy(b->arena.data + pe->val_off, b->arena.data + start, val_len);
                b->arena.len = start;
        } else {
                if (!pe) {
                        /* A new node: its id after the value. */
                        if (sl_buf_reserve(&b->arena, b->arena.len + id_len + 1)) {
                                b->arena.len = start;
                                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM,
                                                 "out of memory");
                        }
                        pe = &b->pend[b->pend_cnt];
                        p->slots[slot] = (uint32_t)++b->pend_cnt;
                        pe->slot = slot;
                        pe->hash = h;
                        pe->id_len = (uint32_t)id_len;
                        pe->off = b->arena.len;
                        memcpy(b->arena.data + b->arena.len, ev->node_id, id_len + 1);
                        b->arena.len += id_len + 1;
                        is_new = 1;
                }
                pe->val_off = start;
                pe->val_cap = (uint32_t)val_len;
        }
        if (!is_new)
                b->superseded++;
fill:
        pe->val_len = (uint32_t)val_len;
        pe->inc = ev->incarnation;
        pe->seq = ev->seq;
        pe->time_ms = ev->event_time_ms;
        pe->kind = ev->kind;
        pe->status = ev->status;
        pe->source = ev->source;
        pe->takeover = sl_event_takeover(ev);
        pe->src_topic = pt->topic;
        pe->src_partition = pt->partition;
        pe->src_offset = offset;
        pe->rec_ms = rec_ms;
        return SL_OK;
}

/* The 8 bytes of @p id from @p from on, big-endian, zero-padded: ids hold no NUL, so these
 * keys order as the ids do (bytewise, shorter first) whenever they differ. */
static uint64_t sl_sort_key(const uint8_t *id, size_t len, size_t from)
{
        uint64_t k = 0;

        for (size_t i = 0; i < 8; i++)
                k = k << 8 | (from + i < len ? id[from + i] : 0);
        return k;
}

static void sl_sort_swap(sl_sort_t *a, sl_sort_t *b)
{
        sl_sort_t t = *a;

        *a = *b;
        *b = t;
}

/*
 * Sorts @p o[0..n) by key: quicksort (median of three, the smaller side first by recursion, the
 * larger by iteration: depth O(log n)), insertion sort under 16 elements. glibc's qsort() took 20
 * ms for 100000 keys, most of it in calls of the comparison function.
 */
static void sl_sort_keys(sl_sort_t *o, size_t n)
{
        while (n > 16) {
                size_t m = n / 2, i = 0, j = n - 1;
                uint64_t pivot;

                if (o[m].key < o[0].key)
                        sl_sort_swap(&o[m], &o[0]);
                if (o[n - 1].key < o[0].key)
                        sl_sort_swap(&o[n - 1], &o[0]);
                if (o[n - 1].key < o[m].key)
                        sl_sort_swap(&o[n - 1], &o[m]);
                pivot = o[m].key;
                for (;;) { /* Hoare: o[0..j] <= pivot <= o[j+1..n) */
                        while (o[i].key < pivot)
                                i++;
                        while (o[j].key > pivot)
                                j--;
                        if (i >= j)
                                break;
                        sl_sort_swap(&o[i++], &o[j--]);
                }
                if (j + 1 < n - j - 1) {
                        sl_sort_keys(o, j + 1);
                        o += j + 1;
                        n -= j + 1;
                } else {
                        sl_sort_keys(o + j + 1, n - j - 1);
                        n = j + 1;
                }
        }
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && o[k].key < o[k - 1].key; k--)
                        sl_sort_swap(&o[k], &o[k - 1]);
}

/*
 * Sorts @p o[0..n) of batch @p b by node id, knowing their first @p from bytes equal: by the
 * next 8 bytes as an integer, then each run of equal keys by the 8 after those (at most
 * SL_NAME_MAX / 8 levels).
 */
static void sl_sort_level(const sl_batch_t *b, sl_sort_t *o, size_t n, size_t from)
{
        for (size_t i = 0; i < n; i++) {
                const sl_pending_t *pe = &b->pend[o[i].idx];

                o[i].key = sl_sort_key(b->arena.data + pe->off, pe->id_len, from);
        }
        sl_sort_keys(o, n);
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i + 1; j < n && o[j].key == o[i].key;)
                        j++;
                /* Equal keys of ids that end within them would be equal ids: not in a batch. */
                if (j - i > 1)
                        sl_sort_level(b, o + i, j - i, from + 8);
        }
}

/* Empties @p b for the next batch (its buffers stay). */
static void sl_batch_reset(sl_batch_t *b)
{
        b->arena.len = 0;
        b->pend_cnt = b->part_cnt = b->early_cnt = 0;
        b->records = b->ignored = b->superseded = b->dead = 0;
        b->applied = b->nodes = 0;
        b->rc = 0;
        b->errstr[0] = '\0';
        b->write_us = b->commit_us = 0;
}

/* Decodes and coalesces msgs[0..cnt) into @p b (adding to what it holds); see
 * sl_batch_finish(). */
static int sl_batch_read(sl_projector_t *p, sl_batch_t *b, size_t cnt, char *errstr,
                         size_t errstr_size)
{
        char derr[512];
        sl_err_t err;

        if (!b->records) {
                p->dlq_failed = 0;
                b->received = sl_proj_wall_ms();
        }
        b->records += cnt;
        for (size_t i = 0; i < cnt; i++) {
                rd_kafka_message_t *m = p->msgs[i];
                sl_part_t *pt;

                if (!(pt = sl_part_get(p, rd_kafka_topic_name(m->rkt), m->partition))) {
                        sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        return -1;
                }
                if (!m->payload) {
                        err = sl_seterr(derr, sizeof(derr), SL_ERR_INVALID_ARG,
                                        "a null value (tombstone) in a state topic");
                } else if (m->len > p->max_record) {
                        err = sl_seterr(derr, sizeof(derr), SL_ERR_BAD_LENGTH,
                                        "record of %zu bytes, more than "
                                        "project.max.record.bytes=%zu",
                                        m->len, p->max_record);
                } else if (!(err = sl_codec_decode(p->codec, m->payload, m->len, p->ev, derr,
                                                   sizeof(derr))) &&
                           !(err = sl_event_check_limits(p->ev, derr, sizeof(derr)))) {
                        err = sl_pend(p, b, pt, m->offset, rd_kafka_message_timestamp(m, NULL),
                                      derr, sizeof(derr));
                        if (err == SL_ERR_NOT_FOUND) {
                                b->ignored++;
                                err = SL_OK;
                        } else if (err == SL_ERR_NOMEM) {
                                snprintf(errstr, errstr_size, "%s", derr);
                                return -1;
                        }
                }
                if (err && !sl_record_fault(err)) {
                        /* e.g. the registry unreachable: read the batch again later. */
                        snprintf(errstr, errstr_size, "%s", derr);
                        return 1;
                }
                if (err) {
                        if (sl_dlq_send(p, m, derr, err, errstr, errstr_size))
                                return 1;
                        b->dead++;
                }
                if (m->offset + 1 > pt->batch_next)
                        pt->batch_next = m->offset + 1;
        }
        return 0;
}

/* Forgets the nodes of @p b in the hash table, which serves the batch being read only. */
static void sl_slots_clear(sl_projector_t *p, const sl_batch_t *b)
{
        for (size_t i = 0; i < b->pend_cnt; i++)
                p->slots[b->pend[i].slot] = 0;
}

/*
 * The polling thread's part of a batch, once sl_batch_read() has decoded its records into @p b
 * (keeping the newest event per node, see sl_pend()) and sent what it could not read to the
 * dead-letter topic: waits for those dead letters' delivery, orders the pending nodes by id and
 * notes each partition's next offset. @returns 0, 1 (retry later: nothing of the batch may be
 * stored) or -1 (fatal), with @p errstr set.
 */
static int sl_batch_finish(sl_projector_t *p, sl_batch_t *b, char *errstr, size_t errstr_size)
{
        sl_slots_clear(p, b);
        /* Dead letters reach their topic before the offsets move past their records. */
        if (b->dead && p->dlq && (rd_kafka_flush(p->dlq, SL_PROJ_DLQ_TIMEOUT) || p->dlq_failed)) {
                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                          "dead letters not delivered to %s within %d s", p->dlq_topic,
                          SL_PROJ_DLQ_TIMEOUT / 1000);
                return 1;
        }
        for (size_t i = 0; i < b->pend_cnt; i++)
                b->order[i].idx = (uint32_t)i;
        sl_sort_level(b, b->order, b->pend_cnt, 0);
        for (size_t i = 0; i < p->part_cnt; i++) {
                sl_part_t *pt = &p->parts[i];

                if (pt->batch_next < 0)
                        continue;
                if (b->part_cnt == b->part_cap) {
                        size_t cap = b->part_cap ? 2 * b->part_cap : 16;
                        sl_batch_part_t *np = realloc(b->parts, cap * sizeof(*np));

                        if (!np) {
                                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                return -1;
                        }
                        b->parts = np;
                        b->part_cap = cap;
                }
                /* (Topic names live as long as the projector.) */
                b->parts[b->part_cnt++] =
                    (sl_batch_part_t){pt->topic, pt->partition, pt->batch_next};
                pt->batch_next = -1;
        }
        return 0;
}

/*
 * The writer thread's part of a batch: one store transaction holding each pending node that is
 * newer than its stored state and each partition's next offset, with the changelog's Kafka
 * transaction committed first. Sets b->rc: 0, 1 (retry the batch) or -1 (fatal), and
 * b->errstr.
 */
static void sl_batch_write(sl_projector_t *p, sl_batch_t *b)
{
        rd_kafka_topic_partition_list_t *list = NULL;
        sl_store_txn_t *txn = NULL;
        int64_t t0 = sl_proj_mono_us(), t1;
        char *errstr = b->errstr;
        size_t errstr_size = sizeof(b->errstr);
        sl_err_t serr = SL_OK; /* the store's error */
        int fatal = -1;

        b->full = 0;
        if ((serr = sl_store_begin(p->store, &txn, errstr, errstr_size)))
                goto fail;
        if (p->txp) {
                rd_kafka_error_t *error = rd_kafka_begin_transaction(p->txp);

                if (error) {
                        sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "changelog: %s",
                                  rd_kafka_error_string(error));
                        fatal = rd_kafka_error_is_fatal(error) ? -1 : 1;
                        rd_kafka_error_destroy(error);
                        goto fail;
                }
                p->txn_open = 1;
        }
        for (size_t i = 0; i < b->early_cnt + b->pend_cnt; i++) {
                sl_pending_t *pe =
                    i < b->early_cnt ? &b->early[i] : &b->pend[b->order[i - b->early_cnt].idx];
                const char *id = (const char *)b->arena.data + pe->off;
                const uint8_t *val = b->arena.data + pe->val_off;
                int done = 0;

                /* The store failing (e.g. full) is not the record's fault. */
                if ((serr = sl_store_put(txn, id, pe->id_len, val, pe->val_len, pe->source, &done,
                                         errstr, errstr_size)))
                        goto fail;
                pe->applied = done;
                if (!done) {
                        b->ignored++;
                        continue;
                }
                if ((serr =
                         sl_store_source_put(txn, id, pe->id_len, pe->src_topic, pe->src_partition,
                                             pe->src_offset, errstr, errstr_size)))
                        goto fail;
                if (p->txp &&
                    sl_changelog_put(p, id, pe->id_len, val, pe->val_len, errstr, errstr_size)) {
                        fatal = 1;
                        goto fail;
                }
                b->applied++;
        }
        if (!(list = rd_kafka_topic_partition_list_new((int)b->part_cnt + 1))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < b->part_cnt; i++) {
                const sl_batch_part_t *bp = &b->parts[i];

                if ((serr = sl_store_offset_put(txn, bp->topic, bp->partition, bp->next, errstr,
                                                errstr_size)))
                        goto fail;
                rd_kafka_topic_partition_list_add(list, bp->topic, bp->partition)->offset =
                    bp->next;
        }
        t1 = sl_proj_mono_us();
        b->write_us = (uint64_t)(t1 - t0);
        /* The changelog first: a crash between the two commits leaves the changelog ahead of the
         * store, and the store's replay of the batch writes the same states to it again. */
        if (p->txp && (fatal = sl_changelog_commit(p, list, errstr, errstr_size)))
                goto fail;
        fatal = -1;
        if ((serr = sl_store_commit(txn, errstr, errstr_size))) {
                txn = NULL;
                goto fail;
        }
        txn = NULL;
        b->commit_us = (uint64_t)(sl_proj_mono_us() - t1);
        if (!p->txp && !p->replay)
                sl_commit_kafka(p, list);
        rd_kafka_topic_partition_list_destroy(list);
        b->nodes = sl_store_node_count(p->store);
        /* (After the commit: a batch given up is observed when read again.) */
        pthread_mutex_lock(&p->lv_lock);
        for (size_t i = 0; i < b->pend_cnt; i++) {
                const sl_pending_t *pe = &b->pend[i];

                if (pe->applied) {
                        const char *id = (const char *)b->arena.data + pe->off;

                        /* A replay hears each event when the log got it. */
                        sl_liveness_observe(p->lv, id, pe->kind, pe->time_ms,
                                            p->replay && pe->rec_ms > 0 ? pe->rec_ms : b->received,
                                            NULL, 0);
                        sl_liveness_set_status(p->lv, id, pe->status);
                }
        }
        pthread_mutex_unlock(&p->lv_lock);
        if (p->watch.on_state && (!p->watch.wanted || p->watch.wanted(p->watch.opaque)))
                for (size_t i = 0; i < b->pend_cnt; i++) {
                        const sl_pending_t *pe = &b->pend[b->order[i].idx];

                        if (pe->applied)
                                p->watch.on_state(p->watch.opaque,
                                                  (const char *)b->arena.data + pe->off,
                                                  b->arena.data + pe->val_off, pe->val_len);
                }
        b->rc = 0;
        return;

fail:
        if (txn)
                sl_store_abort(txn);
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        if (p->txp)
                sl_changelog_abort(p);
        /* A full store is not fatal: nothing of the batch was stored (its offsets neither), so
         * it is read again once there is room (a changelog transaction committed before the
         * store's failed commit only repeats states, as after a crash between the two). A replay,
         * which has no one to wait for room, fails. */
        if (serr == SL_ERR_NO_SPACE && !p->replay) {
                b->full = 1;
                fatal = 1;
        }
        b->rc = fatal;
}

/* ---- the writer thread ---- */

static void *sl_writer_main(void *arg)
{
        sl_projector_t *p = arg;

        pthread_mutex_lock(&p->w_lock);
        for (;;) {
                sl_batch_t *b;

                while (!p->w_job && !p->w_stop)
                        pthread_cond_wait(&p->w_cond, &p->w_lock);
                if (!(b = p->w_job))
                        break;
                pthread_mutex_unlock(&p->w_lock);
                sl_batch_write(p, b);
                pthread_mutex_lock(&p->w_lock);
                p->w_job = NULL;
                p->w_done = b;
                pthread_cond_broadcast(&p->w_cond);
        }
        pthread_mutex_unlock(&p->w_lock);
        return NULL;
}

/* Hands @p b to the writer; the one before must have been collected. */
static void sl_writer_give(sl_projector_t *p, sl_batch_t *b)
{
        pthread_mutex_lock(&p->w_lock);
        p->w_job = b;
        pthread_cond_broadcast(&p->w_cond);
        pthread_mutex_unlock(&p->w_lock);
}

/* Waits until the writer has no batch in hand (the store's offsets are then current). */
static void sl_writer_idle(sl_projector_t *p)
{
        int64_t t0;

        if (!p->w_started)
                return;
        t0 = sl_proj_mono_us();
        pthread_mutex_lock(&p->w_lock);
        while (p->w_job)
                pthread_cond_wait(&p->w_cond, &p->w_lock);
        pthread_mutex_unlock(&p->w_lock);
        p->st.wait_us += (uint64_t)(sl_proj_mono_us() - t0);
}

/* @returns the batch the writer finished and nobody collected yet (after waiting), or NULL. */
static sl_batch_t *sl_writer_collect(sl_projector_t *p)
{
        sl_batch_t *b;

        sl_writer_idle(p);
        pthread_mutex_lock(&p->w_lock);
        b = p->w_done;
        p->w_done = NULL;
        pthread_mutex_unlock(&p->w_lock);
        return b;
}

/* Sends the consumer back to the stored offsets of every assigned partition, and forgets the
 * batch being read: nothing after what the store holds counts. */
static void sl_rewind(sl_projector_t *p)
{
        for (size_t i = 0; i < p->part_cnt; i++) {
                sl_part_t *pt = &p->parts[i];
                rd_kafka_topic_t *rkt;

                pt->batch_next = -1;
                pt->eof = 0;
                if (!pt->assigned)
                        continue;
                if (p->replay) {
                        if (pt->next >= pt->end)
                                continue;
                        pt->end_seen = 0;
                        pt->read_to = pt->next;
                        sl_pause(p, &(size_t){(size_t)(pt - p->parts)}, 1, 0);
                }
                if (!(rkt = rd_kafka_topic_new(p->rk, pt->topic, NULL)))
                        continue;
                /* librdkafka drops what it fetched past that point. */
                rd_kafka_seek(rkt, pt->partition,
                              pt->next >= 0 ? pt->next : RD_KAFKA_OFFSET_BEGINNING, 5000);
                rd_kafka_topic_destroy(rkt);
        }
}

const int64_t sl_projector_latency_bounds_ms[SL_PROJECTOR_LAT_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

/* Counts a batch that took @p us to store in the first bucket whose bound it does not pass. */
static void sl_batch_latency(sl_projector_stats_t *st, uint64_t us)
{
        int i = 0;

        while (i < SL_PROJECTOR_LAT_BUCKETS &&
               us > (uint64_t)sl_projector_latency_bounds_ms[i] * 1000)
                i++;
        if (i < SL_PROJECTOR_LAT_BUCKETS)
                st->batch_le[i]++;
        st->batch_us_sum += us;
}

/* A batch given up (@p rc 1): read again from the store's offsets after a pause. */
static void sl_retry_later(sl_projector_t *p, size_t records, const char *why)
{
        fprintf(stderr, "seerlog: project: batch of %zu records not applied, retrying: %s\n",
                records, why);
        p->st.retried++;
        sl_rewind(p);
        p->retry_at_ms = sl_proj_mono_ms() + SL_PROJ_RETRY_MS;
}

/*
 * A batch given up because the store has no room: the projector stops applying (not ready,
 * store_full), reads the batch again every SL_PROJ_FULL_RETRY_MS and goes on by itself once a
 * try succeeds. Said when it starts and then every SL_PROJ_FULL_LOG_MS, not at every try.
 */
static void sl_full_later(sl_projector_t *p, size_t records, const char *why)
{
        int64_t now = sl_proj_mono_ms();

        if (!p->full_since_ms || now >= p->full_log_ms) {
                fprintf(stderr,
                        "seerlog: project: %s: not applying (a batch of %zu records waits, "
                        "nothing is lost; retrying every %d s%s)\n",
                        why, records, SL_PROJ_FULL_RETRY_MS / 1000,
                        p->full_since_ms ? "" : "; free space or raise store.max.bytes");
                p->full_log_ms = now + SL_PROJ_FULL_LOG_MS;
        }
        if (!p->full_since_ms)
                p->full_since_ms = now;
        p->st.store_full = 1;
        snprintf(p->st.store_error, sizeof(p->st.store_error), "%s", why);
        p->st.retried++;
        sl_rewind(p);
        p->retry_at_ms = now + SL_PROJ_FULL_RETRY_MS;
}

/*
 * Takes in the result of the batch the writer finished, if any (waiting for it). @returns 0
 * (none, or committed), 1 (given up: the consumer was sent back, the batch being read must be
 * dropped) or -1 (fatal, @p errstr set).
 */
static int sl_collect(sl_projector_t *p, char *errstr, size_t errstr_size)
{
        sl_batch_t *b = sl_writer_collect(p);
        int rc;

        if (!b)
                return 0;
        rc = b->rc;
        if (!rc) {
                for (size_t i = 0; i < b->part_cnt; i++) {
                        sl_part_t *pt = sl_part_get(p, b->parts[i].topic, b->parts[i].partition);

                        if (pt && b->parts[i].next > pt->next)
                                pt->next = b->parts[i].next;
                }
                p->st.applied += b->applied;
                p->st.superseded += b->superseded;
                p->st.ignored += b->ignored;
                p->st.dead_lettered += b->dead;
                p->st.batches++;
                p->st.nodes = b->nodes;
                p->st.write_us += b->write_us;
                p->st.commit_us += b->commit_us;
                sl_batch_latency(&p->st, b->write_us + b->commit_us);
                /* The statuses the batch changed; a replay's liveness moves with its batches,
                 * all judged at its clock. */
                sl_liveness_gauges(p, p->replay);
                if (p->full_since_ms) {
                        fprintf(stderr,
                                "seerlog: project: the store has room again: applying (stopped "
                                "%.1f s)\n",
                                (double)(sl_proj_mono_ms() - p->full_since_ms) / 1000.0);
                        p->full_since_ms = 0;
                        p->st.store_full = 0;
                        p->st.store_error[0] = '\0';
                }
        } else if (rc > 0 && b->full) {
                sl_full_later(p, b->records, b->errstr);
        } else if (rc > 0) {
                sl_retry_later(p, b->records, b->errstr);
        } else {
                snprintf(errstr, errstr_size, "%s", b->errstr);
        }
        sl_batch_reset(b);
        return rc;
}

/* Whether the writer holds a batch (@p or_result: or a result not yet taken in). */
static int sl_writer_busy(sl_projector_t *p, int or_result)
{
        int busy;

        pthread_mutex_lock(&p->w_lock);
        busy = p->w_job || (or_result && p->w_done);
        pthread_mutex_unlock(&p->w_lock);
        return busy;
}

/*
 * A replay's partition @p pt has something at @p offset (a record, or its end): @returns 1 when
 * a record there is to be applied, 0 when it is at or past the partition's end, which is then
 * reached (the partition is paused: fetching further would only fill memory).
 */
static int sl_replay_keep(sl_projector_t *p, sl_part_t *pt, int64_t offset)
{
        int keep = offset < pt->end;

        if (keep && offset + 1 > pt->read_to)
                pt->read_to = offset + 1;
        if (!pt->end_seen && (!keep || offset + 1 >= pt->end)) {
                pt->end_seen = 1;
                sl_pause(p, &(size_t){(size_t)(pt - p->parts)}, 1, 1);
        }
        return keep;
}

/*
 * Takes up to @p max records into p->msgs, waiting up to @p timeout_ms for the first.
 * End-of-partition events come in order with the records: the last one seen for a partition
 * says whether the batch leaves it at its end. @returns the number of records, or -1 (a fatal
 * consumer error, @p errstr set; the records taken are destroyed).
 */
static int sl_take(sl_projector_t *p, size_t max, int timeout_ms, char *errstr, size_t errstr_size)
{
        size_t cnt = 0;
        rd_kafka_message_t *m;

        for (m = rd_kafka_consumer_poll(p->rk, timeout_ms); m;
             m = cnt < max ? rd_kafka_consumer_poll(p->rk, 0) : NULL) {
                sl_part_t *pt =
                    m->rkt ? sl_part_get(p, rd_kafka_topic_name(m->rkt), m->partition) : NULL;

                if (!m->err && pt && pt->end >= 0 && !sl_replay_keep(p, pt, m->offset)) {
                        rd_kafka_message_destroy(m); /* past a replay's end */
                        continue;
                }
                if (!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        sl_kafka_connected();
                if (!m->err) {
                        if (pt) {
                                pt->eof = 0;
                                pt->had_record = 1;
                        }
                        p->msgs[cnt++] = m;
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (pt) {
                                pt->eof = 1;
                                pt->eof_offset = m->offset;
                                if (pt->end >= 0 && m->offset >= pt->end)
                                        sl_replay_keep(p, pt, m->offset);
                        }
                } else {
                        fprintf(stderr, "seerlog: project: consumer: %s\n",
                                rd_kafka_message_errstr(m));
                        if (rd_kafka_fatal_error(p->rk, NULL, 0)) {
                                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                          "fatal consumer error: %s", rd_kafka_message_errstr(m));
                                rd_kafka_message_destroy(m);
                                for (size_t i = 0; i < cnt; i++)
                                        rd_kafka_message_destroy(p->msgs[i]);
                                return -1;
                        }
                }
                rd_kafka_message_destroy(m);
                if (!cnt)
                        break;
        }
        return (int)cnt;
}

/*
 * The batch being read cannot be stored (@p rc 1: retry later, -1: fatal, @p errstr set): it
 * is dropped once the writer's batch is taken in (that one's offsets precede it). @returns 0
 * or -1 (fatal).
 */
static int sl_batch_drop(sl_projector_t *p, sl_batch_t *b, int rc, char *errstr, size_t errstr_size)
{
        char werr[512];
        int wrc = sl_collect(p, werr, sizeof(werr));
        size_t records = b->records;

        sl_slots_clear(p, b);
        sl_batch_reset(b);
        if (wrc < 0) {
                snprintf(errstr, errstr_size, "%s", werr);
                return -1;
        }
        if (rc < 0)
                return -1;
        if (!wrc) /* else the writer's failure already sent the consumer back */
                sl_retry_later(p, records, errstr);
        return 0;
}

static int sl_poll(sl_projector_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
        int64_t now = sl_proj_mono_ms(), t0;
        sl_batch_t *b = p->batch[p->fill];
        int rc = 0, n, timeout;

        if (p->fatal[0]) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s", p->fatal);
                return -1;
        }
        if (now < p->retry_at_ms) {
                int64_t wait = p->retry_at_ms - now;

                /* Keeps serving the group (heartbeats are librdkafka's) while waiting. */
                usleep((useconds_t)(wait < timeout_ms ? wait : timeout_ms) * 1000);
                return 0;
        }
        if (p->dlq)
                rd_kafka_poll(p->dlq, 0);
        if (p->lag_interval && now >= p->next_lag_ms) {
                sl_lag_report(p);
                p->next_lag_ms = now + p->lag_interval;
        }
        sl_own_schema_ids_retry(p, now);
        if (now >= p->next_tick_ms) {
                sl_liveness_tick_now(p);
                p->next_tick_ms = now + SL_PROJ_TICK_MS;
        }
        if (p->changelog_subject) {
                /* The changelog's schema has no id yet (the registry did not answer): no batch
                 * can be committed, so none is read. librdkafka keeps the group's heartbeats;
                 * past max.poll.interval.ms (5 min) the group moves the partitions on, and
                 * this projector joins again once it polls. */
                usleep((useconds_t)(timeout_ms < 200 ? timeout_ms : 200) * 1000);
                return 0;
        }
        /*
         * Reads chunks into the batch while the writer is busy with the one before (group
         * commit: the slower the store, the larger the batches, the more events of a node
         * coalesce), until the batch is full or nothing more has arrived. With the writer idle,
         * what has arrived goes to it at once. While the writer is busy nothing is waited for.
         */
        timeout = sl_writer_busy(p, 1) ? 0 : timeout_ms;
        for (;;) {
                size_t want = p->batch_max - b->records;

                if (want > p->chunk)
                        want = p->chunk;
                t0 = sl_proj_mono_us();
                n = sl_take(p, want, timeout, errstr, errstr_size);
                p->st.poll_us += (uint64_t)(sl_proj_mono_us() - t0);
                if (n < 0) {
                        sl_batch_drop(p, b, -1, errstr, errstr_size);
                        return -1;
                }
                if (!n)
                        break;
                timeout = 0;
                p->st.consumed += (uint64_t)n;
                t0 = sl_proj_mono_us();
                rc = sl_batch_read(p, b, (size_t)n, errstr, errstr_size);
                p->st.read_us += (uint64_t)(sl_proj_mono_us() - t0);
                for (int i = 0; i < n; i++)
                        rd_kafka_message_destroy(p->msgs[i]);
                if (rc)
                        return sl_batch_drop(p, b, rc, errstr, errstr_size);
                if (b->records >= p->batch_max || (size_t)n < want || !sl_writer_busy(p, 0))
                        break;
        }
        if (!b->records) {
                rc = sl_collect(p, errstr, errstr_size);
                return rc < 0 ? -1 : 0;
        }
        t0 = sl_proj_mono_us();
        rc = sl_batch_finish(p, b, errstr, errstr_size);
        p->st.read_us += (uint64_t)(sl_proj_mono_us() - t0);
        if (rc)
                return sl_batch_drop(p, b, rc, errstr, errstr_size);
        n = (int)b->records;
        if ((rc = sl_collect(p, errstr, errstr_size))) {
                /* The batch before was given up, so this one cannot be stored either. */
                sl_batch_reset(b);
                return rc < 0 ? -1 : 0;
        }
        sl_writer_give(p, b);
        p->fill ^= 1;
        return n;
}

/* Makes the counters and gauges visible to other threads (sl_projector_stats()). */
static void sl_publish(sl_projector_t *p)
{
        p->st.caught_up = sl_projector_caught_up(p);
        p->st.healthy = !p->fatal[0];
        pthread_mutex_lock(&p->pub_lock);
        p->pub = p->st;
        pthread_mutex_unlock(&p->pub_lock);
}

int sl_projector_poll(sl_projector_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
        int rc = sl_poll(p, timeout_ms, errstr, errstr_size);

        if (rc < 0 && !p->fatal[0])
                snprintf(p->fatal, sizeof(p->fatal), "%s", errstr);
        sl_publish(p);
        return rc;
}

void sl_projector_flush(sl_projector_t *p)
{
        char errstr[512];

        if (sl_collect(p, errstr, sizeof(errstr)) < 0)
                snprintf(p->fatal, sizeof(p->fatal), "%s", errstr);
        sl_publish(p);
}

void sl_projector_set_watch(sl_projector_t *p, const sl_projector_watch_t *w)
{
        p->watch = *w;
}

sl_err_t sl_projector_liveness(sl_projector_t *p, const char *node_id, sl_liveness_state_t *statep,
                               int64_t *sincep, int64_t *last_heardp)
{
        sl_err_t err;

        pthread_mutex_lock(&p->lv_lock);
        err = sl_liveness_get(p->lv, node_id, statep, sincep, last_heardp);
        pthread_mutex_unlock(&p->lv_lock);
        return err;
}

size_t sl_projector_lags(sl_projector_t *p, sl_partition_lag_t *out, size_t max)
{
        size_t n;

        pthread_mutex_lock(&p->pub_lock);
        n = p->pub_lag_cnt;
        if (out && n && max) /* (pub_lags is NULL before the first lag report) */
                memcpy(out, p->pub_lags, (n < max ? n : max) * sizeof(*out));
        pthread_mutex_unlock(&p->pub_lock);
        return n;
}

int sl_projector_caught_up(const sl_projector_t *p)
{
        int assigned = 0;

        if (p->replay) {
                /* Every partition read to its end, and stored up to what was read. */
                for (size_t i = 0; i < p->part_cnt; i++) {
                        const sl_part_t *pt = &p->parts[i];

                        if (pt->next < pt->end && (!pt->end_seen || pt->next < pt->read_to))
                                return 0;
                }
                return 1;
        }

        for (size_t i = 0; i < p->part_cnt; i++) {
                const sl_part_t *pt = &p->parts[i];

                if (!pt->assigned)
                        continue;
                /* An end-of-partition event queued before a rewind (a retried batch) is stale:
                 * the end counts only once the store's offset reached it. */
                if (!pt->eof || (pt->had_record && pt->next < pt->eof_offset))
                        return 0;
                assigned++;
        }
        return assigned > 0;
}

void sl_projector_stats(sl_projector_t *p, sl_projector_stats_t *stats)
{
        pthread_mutex_lock(&p->pub_lock);
        *stats = p->pub;
        pthread_mutex_unlock(&p->pub_lock);
}

sl_store_t *sl_projector_store(sl_projector_t *p)
{
        return p->store;
}
