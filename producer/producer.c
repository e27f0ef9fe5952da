/*
 * The producer: stamping, routing, schema ids, the outbox, idempotent production, coalescing of
 * heartbeat and usage events under backpressure, lag-driven heartbeat throttling.
 *
 * A record (sl_rec_t) is one allocation holding the encoded event, its key and routing. It lives
 * in exactly one place at a time: parked (per node, not accepted yet), pending (accepted, waiting
 * for room in librdkafka's queue, in acceptance order), or in flight (handed to librdkafka, which
 * references its bytes until the delivery report frees it or sends it back to pending).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer_int.h"
#include "sl_kafka.h"
#include "sl_registry.h"

#define SL_TOPIC_BUCKETS    256
#define SL_CREATE_RETRY_MS  5000
#define SL_ADMIN_TIMEOUT_MS 10000

typedef struct sl_topic_s sl_topic_t;
typedef struct sl_node_s sl_node_t;

typedef struct sl_rec_s {
        struct sl_rec_s *next, *prev; /**< Pending list, or in-flight list. */
        sl_topic_t *topic;
        sl_node_t *node; /**< Parked records only. */
        uint64_t id;     /**< Outbox sequence; 0: not in the outbox. */
        int64_t inc, seq;
        char *key;
        size_t key_len;
        void *val;
        size_t val_len;
        size_t cap; /**< Bytes after the struct, for reuse from the pool. */
} sl_rec_t;

/*
 * Without the outbox, encoded values are written one after the other into slabs and produced
 * without a copy; a slab is reused or freed once librdkafka reported every record in it. So
 * steady production costs librdkafka's own allocation per record and nothing of ours.
 */
#define SL_SLAB_SIZE (256 * 1024)
#define SL_SLAB_KEEP 128 /**< Empty slabs kept for reuse (32 MiB: a full librdkafka queue). */

typedef struct sl_slab_s {
        struct sl_slab_s *prev, *next; /**< Every slab of the producer. */
        struct sl_slab_s *free_next;   /**< Empty slabs kept for reuse. */
        uint64_t refs;                 /**< Values in it not reported (or dropped) yet. */
        size_t used, cap;
        uint8_t data[];
} sl_slab_t;

/* A record's opaque for librdkafka: an sl_rec_t, or a slab tagged with the low bit. */
#define SL_SLAB_TAG(slab)     ((void *)((uintptr_t)(slab) | 1))
#define SL_IS_SLAB(opaque)    (((uintptr_t)(opaque)&1) != 0)
#define SL_SLAB_UNTAG(opaque) ((sl_slab_t *)((uintptr_t)(opaque) & ~(uintptr_t)1))

/* One event of a publish call, validated, encoded and routed, not accepted yet. */
typedef struct {
        sl_topic_t *topic;
        sl_node_t *node;
        sl_rec_t *rec;   /**< With the outbox, or when parked; else the value is in a slab: */
        sl_slab_t *slab; /**< holding a reference for this event, */
        const void *val; /**< at this address. */
        size_t len, key_len;
        int64_t inc, seq;
        int coalescible, park;
} sl_prep_t;

/* Delivered records are kept for reuse, so steady production does not malloc per record. */
#define SL_REC_POOL_MAX 4096

typedef enum {
        SL_TOPIC_CREATE_NEEDED,
        SL_TOPIC_CREATING,
        SL_TOPIC_CREATE_DONE,
} sl_topic_create_t;

struct sl_topic_s {
        sl_topic_t *next;
        rd_kafka_topic_t *rkt;
        int32_t schema_id; /**< 0: not known yet. */
        sl_topic_create_t create;
        int64_t create_retry_ms;
        char name[];
};

struct sl_node_s {
        sl_node_t *next;
        sl_node_t *parked_next, *parked_prev; /**< In the list of nodes with a parked record. */
        int stamped;
        int64_t inc, next_seq;          /**< Stamping. */
        int stored;                     /**< stored_* are valid. */
        int64_t stored_inc, stored_seq; /**< Last pair persisted in the outbox. */
        uint64_t batch_gen;             /**< The publish call batch_* belong to. */
        int64_t batch_inc, batch_seq;   /**< Newest pair written in that call's transaction. */
        sl_rec_t *parked;
        uint64_t run_gen; /**< The produce_batch() run the node is in, see sl_prep_produce_all. */
        size_t id_len;
        char id[];
};

typedef struct {
        sl_rec_t *head, *tail;
        uint64_t cnt;
} sl_list_t;

struct sl_producer_s {
        rd_kafka_t *rk;
        rd_kafka_queue_t *admin_q;
        sl_codec_t *codec;
        sl_registry_client_t *registry;
        sl_outbox_t *ob;
        sl_control_t *ctl;

        char *tmpl;
        int create;
        int partitions, replication;
        int schema_mode; /**< 0 register, 1 lookup, 2 fixed */
        int32_t fixed_id;
        int64_t start_ms;
        char *control_topic;

        sl_buf_t buf;
        sl_topic_t *topics[SL_TOPIC_BUCKETS];
        sl_node_t **nodes;
        size_t node_buckets, node_cnt;
        sl_node_t *parked_head;

        sl_list_t pending;
        sl_list_t in_flight;
        uint64_t copied_in_flight; /**< Handed to librdkafka from a slab, no record of ours. */
        sl_prep_t *prep;           /**< The publish call's events. */
        size_t prep_cap;
        rd_kafka_message_t *msgs; /**< prep_cap of them, for rd_kafka_produce_batch(). */
        uint64_t run_gen;
        sl_slab_t *slab;      /**< The slab values are written to. */
        sl_slab_t *slabs;     /**< Every slab (the list through prev and next). */
        sl_slab_t *slab_free; /**< Empty slabs for reuse. */
        size_t slab_free_cnt;
        sl_rec_t *pool; /**< Free records (singly linked through next). */
        size_t pool_cnt;
        /* The last (region, type) routed and its topic: most events repeat them. */
        char last_region[SL_NAME_MAX + 1], last_type[SL_NAME_MAX + 1];
        sl_topic_t *last_topic;
        int queue_full;
        int closing;
        size_t max_record; /**< librdkafka's message.max.bytes, less room for the headers. */

        uint64_t *done;
        size_t done_cnt, done_cap;
        uint64_t batch_gen;    /**< Counts publish calls, for sl_node_t.batch_*. */
        int64_t parked_err_ms; /**< When a failure to accept parked events may be logged. */

        sl_producer_stats_t st;

        int64_t hb_normal, hb_max, hb_cur, hb_changed_ms, lag_high, lag_low;

        sl_producer_dr_cb_t *dr_cb;
        void *dr_opaque;
        sl_producer_accept_cb_t *accept_cb;
        void *accept_opaque;
};

int64_t sl_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts one accepted event and tells the accept callback, if any. */
static void sl_accepted(sl_producer_t *p, const sl_node_t *n, int64_t inc, int64_t seq)
{
        p->st.accepted++;
        if (p->accept_cb)
                p->accept_cb(n->id, inc, seq, p->accept_opaque);
}

static uint64_t sl_hash(const char *s)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

/* ---- lists ---- */

static void sl_list_push(sl_list_t *l, sl_rec_t *r)
{
        r->next = NULL;
        r->prev = l->tail;
        if (l->tail)
                l->tail->next = r;
        else
                l->head = r;
        l->tail = r;
        l->cnt++;
}

static void sl_list_remove(sl_list_t *l, sl_rec_t *r)
{
        if (r->prev)
                r->prev->next = r->next;
        else
                l->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                l->tail = r->prev;
        r->next = r->prev = NULL;
        l->cnt--;
}

static void sl_list_free(sl_list_t *l)
{
        sl_rec_t *r, *next;

        for (r = l->head; r; r = next) {
                next = r->next;
                free(r);
        }
        l->head = l->tail = NULL;
        l->cnt = 0;
}

static sl_rec_t *sl_rec_fill(sl_rec_t *r, size_t cap, sl_topic_t *t, const void *key,
                             size_t key_len, const void *val, size_t val_len)
{
        memset(r, 0, sizeof(*r));
        r->cap = cap;
        r->topic = t;
        r->key = (char *)(r + 1);
        r->key_len = key_len;
        memcpy(r->key, key, key_len);
        r->val = r->key + key_len;
        r->val_len = val_len;
        memcpy(r->val, val, val_len);
        return r;
}

/* A record from the pool when the first free one is large enough, else a new one. */
static sl_rec_t *sl_rec_alloc(sl_producer_t *p, sl_topic_t *t, const void *key, size_t key_len,
                              const void *val, size_t val_len)
{
        size_t need = key_len + val_len + 1, cap;
        sl_rec_t *r = p->pool;

        if (r && r->cap >= need) {
                p->pool = r->next;
                p->pool_cnt--;
                return sl_rec_fill(r, r->cap, t, key, key_len, val, val_len);
        }
        cap = (need + 63) & ~(size_t)63;
        if (!(r = malloc(sizeof(*r) + cap)))
                return NULL;
        return sl_rec_fill(r, cap, t, key, key_len, val, val_len);
}

static void sl_rec_recycle(sl_producer_t *p, sl_rec_t *r)
{
        if (p->pool_cnt >= SL_REC_POOL_MAX) {
                free(r);
                return;
        }
        r->next = p->pool;
        p->pool = r;
        p->pool_cnt++;
}

static sl_rec_t *sl_rec_new(sl_topic_t *t, const void *key, size_t key_len, const void *val,
                            size_t val_len)
{
        size_t cap = key_len + val_len + 1;
        sl_rec_t *r = malloc(sizeof(*r) + cap);

        return r ? sl_rec_fill(r, cap, t, key, key_len, val, val_len) : NULL;
}

/* ---- slabs ---- */

static void sl_slab_release(sl_producer_t *p, sl_slab_t *sl)
{
        if (sl->cap == SL_SLAB_SIZE && p->slab_free_cnt < SL_SLAB_KEEP) {
                sl->used = 0;
                sl->free_next = p->slab_free;
                p->slab_free = sl;
                p->slab_free_cnt++;
                return;
        }
        if (sl->prev)
                sl->prev->next = sl->next;
        else
                p->slabs = sl->next;
        if (sl->next)
                sl->next->prev = sl->prev;
        free(sl);
}

/* Drops one reference to @p sl: a slab no longer written to goes once the last one is gone. */
static void sl_slab_unref(sl_producer_t *p, sl_slab_t *sl)
{
        if (--sl->refs)
                return;
        if (sl == p->slab)
                sl->used = 0; /* nothing in it is referenced: start over */
        else
                sl_slab_release(p, sl);
}

/* Copies @p len bytes into the current slab (a new one when they do not fit), with a reference. */
static const void *sl_slab_put(sl_producer_t *p, const void *data, size_t len, sl_slab_t **slp)
{
        sl_slab_t *sl = p->slab;

        if (!sl || sl->cap - sl->used < len) {
                sl_slab_t *old = sl;

                if (len <= SL_SLAB_SIZE && p->slab_free) {
                        sl = p->slab_free;
                        p->slab_free = sl->free_next;
                        p->slab_free_cnt--;
                } else {
                        size_t cap = len > SL_SLAB_SIZE ? len : SL_SLAB_SIZE;

                        if (!(sl = malloc(sizeof(*sl) + cap)))
                                return NULL;
                        sl->cap = cap;
                        sl->prev = NULL;
                        sl->next = p->slabs;
                        if (p->slabs)
                                p->slabs->prev = sl;
                        p->slabs = sl;
                }
                sl->refs = 0;
                sl->used = 0;
                sl->free_next = NULL;
                p->slab = sl;
                if (old && !old->refs)
                        sl_slab_release(p, old);
        }
        memcpy(sl->data + sl->used, data, len);
        sl->refs++;
        *slp = sl;
        data = sl->data + sl->used;
        /* Keeps the next value 8-byte aligned. */
        sl->used += (len + 7) & ~(size_t)7;
        if (sl->used > sl->cap)
                sl->used = sl->cap;
        return data;
}

/* ---- topics ---- */

static void sl_topic_create_start(sl_producer_t *p, sl_topic_t *t);

static sl_topic_t *sl_topic_get(sl_producer_t *p, const char *name, char *errstr,
                                size_t errstr_size)
{
        uint64_t h = sl_hash(name) % SL_TOPIC_BUCKETS;
        sl_topic_t *t;
        size_t len = strlen(name);

        for (t = p->topics[h]; t; t = t->next)
                if (!strcmp(t->name, name))
                        return t;
        if (!(t = calloc(1, sizeof(*t) + len + 1))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        memcpy(t->name, name, len + 1);
        if (!(t->rkt = rd_kafka_topic_new(p->rk, name, NULL))) {
                sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "topic %s: %s", name,
                          rd_kafka_err2str(rd_kafka_last_error()));
                free(t);
                return NULL;
        }
        t->create = p->create ? SL_TOPIC_CREATE_NEEDED : SL_TOPIC_CREATE_DONE;
        t->next = p->topics[h];
        p->topics[h] = t;
        if (t->create == SL_TOPIC_CREATE_NEEDED)
                sl_topic_create_start(p, t);
        return t;
}

static void sl_topic_create_start(sl_producer_t *p, sl_topic_t *t)
{
        char errstr[256];
        rd_kafka_NewTopic_t *nt;
        rd_kafka_AdminOptions_t *o;

        nt = rd_kafka_NewTopic_new(t->name, p->partitions, p->replication, errstr, sizeof(errstr));
        if (!nt) {
                fprintf(stderr, "seerlog: producer: cannot create topic %s: %s\n", t->name, errstr);
                t->create = SL_TOPIC_CREATE_DONE;
                return;
        }
        o = rd_kafka_AdminOptions_new(p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        if (o) {
                rd_kafka_AdminOptions_set_request_timeout(o, SL_ADMIN_TIMEOUT_MS, errstr,
                                                          sizeof(errstr));
                rd_kafka_AdminOptions_set_opaque(o, t);
        }
        rd_kafka_CreateTopics(p->rk, &nt, 1, o, p->admin_q);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_NewTopic_destroy(nt);
        t->create = SL_TOPIC_CREATING;
}

/* Serves CreateTopics results and starts creations that are due. */
static void sl_topic_create_serve(sl_producer_t *p)
{
        rd_kafka_event_t *ev;
        int64_t now = sl_mono_ms();

        while ((ev = rd_kafka_queue_poll(p->admin_q, 0))) {
                sl_topic_t *t = rd_kafka_event_opaque(ev);
                const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
                const rd_kafka_topic_result_t **trs;
                size_t cnt = 0;
                rd_kafka_resp_err_t err = rd_kafka_event_error(ev);

                if (!err && res) {
                        trs = rd_kafka_CreateTopics_result_topics(res, &cnt);
                        err = cnt ? rd_kafka_topic_result_error(trs[0]) : RD_KAFKA_RESP_ERR__FAIL;
                }
                if (t) {
                        if (!err || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                                t->create = SL_TOPIC_CREATE_DONE;
                        } else if (err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                                   err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                                   err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
                                   err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                                   err == RD_KAFKA_RESP_ERR_NOT_CONTROLLER ||
                                   err == RD_KAFKA_RESP_ERR__WAIT_COORD) {
                                /* The broker is away: try again later. */
                                t->create = SL_TOPIC_CREATE_NEEDED;
                                t->create_retry_ms = now + SL_CREATE_RETRY_MS;
                        } else {
                                /* Policy, authorization, bad replication factor: the operator's
                                 * to fix; produce anyway (auto-creation or an existing topic). */
                                fprintf(stderr, "seerlog: producer: creating topic %s failed: %s\n",
                                        t->name, rd_kafka_err2str(err));
                                t->create = SL_TOPIC_CREATE_DONE;
                        }
                }
                rd_kafka_event_destroy(ev);
        }
        for (int b = 0; b < SL_TOPIC_BUCKETS; b++)
                for (sl_topic_t *t = p->topics[b]; t; t = t->next)
                        if (t->create == SL_TOPIC_CREATE_NEEDED && now >= t->create_retry_ms)
                                sl_topic_create_start(p, t);
}

static sl_err_t sl_topic_schema_id(sl_producer_t *p, sl_topic_t *t, char *errstr,
                                   size_t errstr_size)
{
        char subject[300];
        sl_err_t err;

        if (t->schema_id)
                return SL_OK;
        if (p->schema_mode == 2) {
                t->schema_id = p->fixed_id;
                return SL_OK;
        }
        snprintf(subject, sizeof(subject), "%s-value", t->name);
        if (p->schema_mode == 0)
                err = sl_registry_register(p->registry, subject, sl_event_schema_text(), 0,
                                           &t->schema_id, errstr, errstr_size);
        else
                err = sl_registry_lookup(p->registry, subject, sl_event_schema_text(), 0,
                                         &t->schema_id, NULL, errstr, errstr_size);
        if (err)
                t->schema_id = 0;
        return err;
}

/* ---- nodes ---- */

static sl_err_t sl_node_grow(sl_producer_t *p)
{
        size_t nb = p->node_buckets ? p->node_buckets * 2 : 1024;
        sl_node_t **nodes = calloc(nb, sizeof(*nodes));

        if (!nodes)
                return SL_ERR_NOMEM;
        for (size_t i = 0; i < p->node_buckets; i++) {
                sl_node_t *n, *next;

                for (n = p->nodes[i]; n; n = next) {
                        size_t h = sl_hash(n->id) % nb;

                        next = n->next;
                        n->next = nodes[h];
                        nodes[h] = n;
                }
        }
        free(p->nodes);
        p->nodes = nodes;
        p->node_buckets = nb;
        return SL_OK;
}

static sl_node_t *sl_node_find(const sl_producer_t *p, const char *id)
{
        if (p->node_buckets) {
                for (sl_node_t *n = p->nodes[sl_hash(id) % p->node_buckets]; n; n = n->next)
                        if (!strcmp(n->id, id))
                                return n;
        }
        return NULL;
}

static sl_node_t *sl_node_get(sl_producer_t *p, const char *id, char *errstr, size_t errstr_size)
{
        sl_node_t *n;
        size_t h, len = strlen(id);
        sl_err_t err;

        if ((n = sl_node_find(p, id)))
                return n;
        if ((p->node_cnt + 1 > p->node_buckets * 2 && sl_node_grow(p)) ||
            !(n = calloc(1, sizeof(*n) + len + 1))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        memcpy(n->id, id, len + 1);
        n->id_len = len;
        if (p->ob) {
                err = sl_outbox_seq_get(p->ob, id, &n->stored_inc, &n->stored_seq, errstr,
                                        errstr_size);
                if (err && err != SL_ERR_NOT_FOUND) {
                        free(n);
                        return NULL;
                }
                n->stored = !err;
        }
        h = sl_hash(id) % p->node_buckets;
        n->next = p->nodes[h];
        p->nodes[h] = n;
        p->node_cnt++;
        return n;
}

static void sl_node_unpark(sl_producer_t *p, sl_node_t *n)
{
        if (n->parked_prev)
                n->parked_prev->parked_next = n->parked_next;
        else
                p->parked_head = n->parked_next;
        if (n->parked_next)
                n->parked_next->parked_prev = n->parked_prev;
        n->parked_next = n->parked_prev = NULL;
        n->parked = NULL;
        p->st.parked--;
}

/* Drops the parked record of @p n, superseded by a newer event of the node. */
static void sl_node_drop_parked(sl_producer_t *p, sl_node_t *n)
{
        sl_rec_t *r = n->parked;

        if (!r)
                return;
        sl_node_unpark(p, n);
        free(r);
        p->st.coalesced++;
}

static void sl_node_park(sl_producer_t *p, sl_node_t *n, sl_rec_t *r)
{
        if (n->parked) {
                free(n->parked);
                n->parked = r;
                p->st.coalesced++;
                return;
        }
        n->parked = r;
        r->node = n;
        n->parked_prev = NULL;
        n->parked_next = p->parked_head;
        if (p->parked_head)
                p->parked_head->parked_prev = n;
        p->parked_head = n;
        p->st.parked++;
}

/* ---- producing ---- */

static rd_kafka_resp_err_t sl_rec_produce(sl_producer_t *p, sl_rec_t *r)
{
        rd_kafka_resp_err_t err;

        /* No copy: librdkafka references the record's bytes until its delivery report. */
        err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(r->topic->rkt), RD_KAFKA_V_KEY(r->key, r->key_len),
            RD_KAFKA_V_VALUE(r->val, r->val_len), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
        if (!err)
                sl_list_push(&p->in_flight, r);
        return err;
}

/* Produces pending records while librdkafka takes them. @returns 0 when pending is empty. */
static int sl_pending_drain(sl_producer_t *p)
{
        sl_rec_t *r;

        while ((r = p->pending.head)) {
                rd_kafka_resp_err_t err;

                sl_list_remove(&p->pending, r);
                if ((err = sl_rec_produce(p, r))) {
                        /* Queue full, or the topic or partition not known yet: later. */
                        r->prev = NULL;
                        r->next = p->pending.head;
                        if (p->pending.head)
                                p->pending.head->prev = r;
                        else
                                p->pending.tail = r;
                        p->pending.head = r;
                        p->pending.cnt++;
                        p->queue_full = 1;
                        return -1;
                }
        }
        return 0;
}

static int sl_blocked(const sl_producer_t *p)
{
        return p->queue_full || p->pending.head;
}

/* Hands an accepted record to librdkafka, or queues it behind the pending ones. */
static void sl_rec_enqueue(sl_producer_t *p, sl_rec_t *r)
{
        if (p->pending.head || sl_rec_produce(p, r)) {
                sl_list_push(&p->pending, r);
                p->queue_full = 1;
        }
}

static void sl_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        sl_producer_t *p = opaque;
        sl_rec_t *r = rkm->_private;

        if (!rkm->err)
                sl_kafka_connected();
        if (SL_IS_SLAB(r)) {
                /* Produced from a slab, without the outbox: nothing to keep or retry. */
                sl_slab_unref(p, SL_SLAB_UNTAG(r));
                p->copied_in_flight--;
                if (!rkm->err)
                        p->st.sent++;
                if (p->dr_cb)
                        p->dr_cb(rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset,
                                 rkm->err ? SL_ERR_KAFKA : SL_OK,
                                 rkm->err ? rd_kafka_err2str(rkm->err) : "", p->dr_opaque);
                return;
        }
        sl_list_remove(&p->in_flight, r);
        if (!rkm->err) {
                p->st.sent++;
                if (r->id) {
                        if (p->done_cnt == p->done_cap) {
                                size_t cap = p->done_cap ? p->done_cap * 2 : 1024;
                                uint64_t *d = realloc(p->done, cap * sizeof(*d));

                                if (!d) {
                                        /* Stays in the outbox: a duplicate after a restart. */
                                        free(r);
                                        return;
                                }
                                p->done = d;
                                p->done_cap = cap;
                        }
                        p->done[p->done_cnt++] = r->id;
                }
        } else if (r->id && !p->closing) {
                /* Still in the outbox: produce it again. */
                p->st.retried++;
                sl_list_push(&p->pending, r);
                return;
        }
        if (p->dr_cb)
                p->dr_cb(rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset,
                         rkm->err ? SL_ERR_KAFKA : SL_OK,
                         rkm->err ? rd_kafka_err2str(rkm->err) : "", p->dr_opaque);
        sl_rec_recycle(p, r);
}

/* Without the outbox, a record librdkafka refuses outright (not for a full queue) is lost:
 * reported as a failed delivery. */
static void sl_report_fail(sl_producer_t *p, const sl_topic_t *t, const char *reason)
{
        if (p->dr_cb)
                p->dr_cb(t->name, -1, -1, SL_ERR_KAFKA, reason, p->dr_opaque);
        else
                fprintf(stderr, "seerlog: producer: producing to %s: %s\n", t->name, reason);
}

static void sl_rec_fail(sl_producer_t *p, sl_rec_t *r, rd_kafka_resp_err_t err)
{
        sl_report_fail(p, r->topic, rd_kafka_err2str(err));
        free(r);
}

/* Removes delivered records from the outbox, in one transaction. */
static void sl_done_commit(sl_producer_t *p)
{
        sl_outbox_txn_t *txn;
        char errstr[256];

        if (!p->ob || !p->done_cnt)
                return;
        if (sl_outbox_begin(p->ob, &txn, errstr, sizeof(errstr)))
                goto fail;
        for (size_t i = 0; i < p->done_cnt; i++)
                if (sl_outbox_del(txn, p->done[i], errstr, sizeof(errstr))) {
                        sl_outbox_abort(txn);
                        goto fail;
                }
        if (sl_outbox_commit(txn, errstr, sizeof(errstr)))
                goto fail;
        p->done_cnt = 0;
        return;

fail:
        /* Kept for the next poll; at worst they are produced again after a restart. */
        fprintf(stderr, "seerlog: producer: %s\n", errstr);
}

static int sl_pair_newer(int64_t inc, int64_t seq, const sl_node_t *n);
static int sl_pair_newer_in_batch(sl_producer_t *p, sl_node_t *n, const sl_rec_t *r);

/* Accepts the parked records while there is room. */
static void sl_parked_accept(sl_producer_t *p)
{
        sl_outbox_txn_t *txn = NULL;
        rd_kafka_resp_err_t perr;
        char errstr[256];
        sl_node_t *n;

        if (!p->parked_head)
                return;
        if (p->ob) {
                p->batch_gen++;
                if (sl_outbox_begin(p->ob, &txn, errstr, sizeof(errstr)))
                        goto fail;
                for (n = p->parked_head; n; n = n->parked_next) {
                        sl_rec_t *r = n->parked;

                        if (sl_outbox_put(txn, r->topic->name, r->key, r->key_len, r->val,
                                          r->val_len, &r->id, errstr, sizeof(errstr)) ||
                            (sl_pair_newer_in_batch(p, n, r) &&
                             sl_outbox_seq_put(txn, n->id, r->inc, r->seq, errstr,
                                               sizeof(errstr)))) {
                                sl_outbox_abort(txn);
                                goto fail;
                        }
                }
                if (sl_outbox_commit(txn, errstr, sizeof(errstr)))
                        goto fail;
        }
        while ((n = p->parked_head)) {
                sl_rec_t *r = n->parked;

                if (!p->ob && (perr = sl_rec_produce(p, r))) {
                        if (perr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                p->queue_full = 1;
                                return;
                        }
                        sl_node_unpark(p, n);
                        sl_rec_fail(p, r, perr);
                        continue;
                }
                sl_node_unpark(p, n);
                if (p->ob) {
                        if (sl_pair_newer(r->inc, r->seq, n)) {
                                n->stored = 1;
                                n->stored_inc = r->inc;
                                n->stored_seq = r->seq;
                        }
                        p->st.outbox_depth++;
                        sl_rec_enqueue(p, r);
                }
                sl_accepted(p, n, r->inc, r->seq);
        }
        return;

fail:
        /* They stay parked (and keep coalescing); said at most every 10 s. */
        for (n = p->parked_head; n; n = n->parked_next)
                n->parked->id = 0;
        if (sl_mono_ms() >= p->parked_err_ms) {
                p->parked_err_ms = sl_mono_ms() + 10000;
                fprintf(stderr, "seerlog: producer: accepting parked events: %s\n", errstr);
        }
}

/* ---- creation ---- */

static char *sl_outbox_default_dir(void)
{
        const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        char *dir = NULL;

        if (state && *state) {
                if (asprintf(&dir, "%s/seerlog/outbox", state) < 0)
                        dir = NULL;
        } else if (asprintf(&dir, "%s/.local/state/seerlog/outbox", home ? home : ".") < 0) {
                dir = NULL;
        }
        return dir;
}

static int sl_replay_cb(uint64_t id, const char *topic, const void *key, size_t key_len,
                        const void *value, size_t value_len, void *opaque)
{
        sl_producer_t *p = opaque;
        char errstr[256];
        sl_topic_t *t = sl_topic_get(p, topic, errstr, sizeof(errstr));
        sl_rec_t *r;

        if (!t || !(r = sl_rec_new(t, key, key_len, value, value_len)))
                return SL_ERR_NOMEM;
        r->id = id;
        sl_list_push(&p->pending, r);
        p->st.replayed++;
        return 0;
}

static sl_err_t sl_conf_check_value(rd_kafka_conf_t *rk_conf, const char *name,
                                    const char *const *ok, char *errstr, size_t errstr_size)
{
        char val[64];
        size_t size = sizeof(val);

        if (rd_kafka_conf_get(rk_conf, name, val, &size) != RD_KAFKA_CONF_OK)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "cannot read %s", name);
        for (; *ok; ok++)
                if (!strcmp(val, *ok))
                        return SL_OK;
        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                         "%s=%s: the producer needs enable.idempotence=true and acks=all", name,
                         val);
}

sl_producer_t *sl_producer_new(const sl_conf_t *conf, char *errstr, size_t errstr_size)
{
        static const char *const rk_levels[] = {"3", "4", "6", "7"};
        static const char *const true_ok[] = {"true", NULL};
        static const char *const acks_ok[] = {"all", "-1", NULL};
        sl_producer_t *p = calloc(1, sizeof(*p));
        rd_kafka_conf_t *rk_conf = NULL;
        char timeout[32], *dir = NULL;
        const char *s;
        int32_t writer_id;

        if (!p) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        p->start_ms = sl_wall_ms();
        p->create = sl_conf_get_bool(conf, "topic.create");
        p->partitions = (int)sl_conf_get_int(conf, "topic.partitions");
        p->replication = (int)sl_conf_get_int(conf, "topic.replication.factor");
        p->schema_mode = sl_conf_get_enum(conf, "schema.mode");
        p->fixed_id = (int32_t)sl_conf_get_int(conf, "schema.id");
        p->hb_normal = p->hb_cur = sl_conf_get_int(conf, "heartbeat.interval.ms");
        p->hb_max = sl_conf_get_int(conf, "heartbeat.max.interval.ms");
        p->lag_high = sl_conf_get_int(conf, "lag.high");
        p->lag_low = sl_conf_get_int(conf, "lag.low");
        p->st.lag = -1;
        if (p->hb_max < p->hb_normal)
                p->hb_max = p->hb_normal;
        if (!(p->tmpl = strdup(sl_conf_get(conf, "topic.template"))) ||
            !(p->control_topic = strdup(sl_conf_get(conf, "control.topic")))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        /* The template must expand for a sample node. */
        {
                char topic[256];

                if (sl_topic_expand(p->tmpl, "r", "t", topic, sizeof(topic), errstr, errstr_size))
                        goto fail;
        }

        /* librdkafka: our defaults, then every property of the user's, which win. */
        snprintf(timeout, sizeof(timeout), "%lld",
                 (long long)sl_conf_get_int(conf, "delivery.timeout.ms"));
        if (!(rk_conf = rd_kafka_conf_new())) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        {
                const char *defaults[] = {"client.id",
                                          "seerlog",
                                          "log_level",
                                          rk_levels[sl_conf_get_enum(conf, "log.level") & 3],
                                          "enable.idempotence",
                                          "true",
                                          "acks",
                                          "all",
                                          "partitioner",
                                          "murmur2_random",
                                          "message.timeout.ms",
                                          timeout,
                                          NULL};

                /* Topics we create are not to be auto-created first with the broker's
                 * defaults by a metadata request racing the CreateTopics. */
                if (p->create && rd_kafka_conf_set(rk_conf, "allow.auto.create.topics", "false",
                                                   errstr, errstr_size))
                        goto fail;
                for (const char *const *d = defaults; *d; d += 2)
                        if (rd_kafka_conf_set(rk_conf, d[0], d[1], errstr, errstr_size)) {
                                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s rejected",
                                          d[0], d[1]);
                                goto fail;
                        }
        }
        if (sl_conf_kafka_apply(conf, rk_conf, errstr, errstr_size) ||
            sl_conf_check_value(rk_conf, "enable.idempotence", true_ok, errstr, errstr_size) ||
            sl_conf_check_value(rk_conf, "acks", acks_ok, errstr, errstr_size))
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(rk_conf, sl_dr_cb);
        rd_kafka_conf_set_opaque(rk_conf, p);
        if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rk_conf, errstr, errstr_size)))
                goto fail;
        rk_conf = NULL;
        {
                char val[32];
                size_t size = sizeof(val);

                p->max_record = 1000000;
                if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "message.max.bytes", val, &size) ==
                    RD_KAFKA_CONF_OK)
                        p->max_record = (size_t)strtoul(val, NULL, 10);
                /* A record batch of one: its framing, the key, a varint or two. */
                p->max_record = p->max_record > 256 ? p->max_record - 256 : 0;
        }
        if (!(p->admin_q = rd_kafka_queue_new(p->rk))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }

        if (*p->control_topic &&
            !(p->ctl = sl_control_new(conf, p->control_topic, errstr, errstr_size)))
                goto fail;

        writer_id = p->schema_mode == 2 ? p->fixed_id : 1;
        if (!(p->codec = sl_codec_new(writer_id, errstr, errstr_size)))
                goto fail;
        if (p->schema_mode != 2 &&
            !(p->registry = sl_registry_client_new(conf, errstr, errstr_size)))
                goto fail;

        if (sl_conf_get_bool(conf, "outbox.enable")) {
                s = sl_conf_get(conf, "outbox.dir");
                if (!s || !*s) {
                        if (!(dir = sl_outbox_default_dir())) {
                                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto fail;
                        }
                        s = dir;
                }
                if (sl_outbox_open(s, sl_conf_get_int(conf, "outbox.max.bytes"), &p->ob, errstr,
                                   errstr_size))
                        goto fail;
                if (sl_outbox_walk(p->ob, sl_replay_cb, p, errstr, errstr_size))
                        goto fail;
                p->st.outbox_depth = sl_outbox_count(p->ob);
                sl_pending_drain(p);
        }
        free(dir);
        return p;

fail:
        free(dir);
        if (rk_conf)
                rd_kafka_conf_destroy(rk_conf);
        p->closing = 1;
        sl_producer_destroy(p, 0);
        return NULL;
}

void sl_producer_destroy(sl_producer_t *p, int timeout_ms)
{
        if (!p)
                return;
        if (p->rk && !p->closing)
                sl_producer_flush(p, timeout_ms);
        p->closing = 1;
        if (p->rk) {
                rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(p->rk, 0);
                sl_done_commit(p);
        }
        if (p->ctl)
                sl_control_destroy(p->ctl);
        for (int b = 0; b < SL_TOPIC_BUCKETS; b++) {
                sl_topic_t *t, *next;

                for (t = p->topics[b]; t; t = next) {
                        next = t->next;
                        rd_kafka_topic_destroy(t->rkt);
                        free(t);
                }
        }
        if (p->admin_q)
                rd_kafka_queue_destroy(p->admin_q);
        if (p->rk)
                rd_kafka_destroy(p->rk);
        /* librdkafka references no record any more. */
        while (p->slabs) {
                sl_slab_t *next = p->slabs->next;
                free(p->slabs);
                p->slabs = next;
        }
        sl_list_free(&p->in_flight);
        sl_list_free(&p->pending);
        while (p->pool) {
                sl_rec_t *next = p->pool->next;
                free(p->pool);
                p->pool = next;
        }
        for (size_t i = 0; i < p->node_buckets; i++) {
                sl_node_t *n, *next;

                for (n = p->nodes[i]; n; n = next) {
                        next = n->next;
                        free(n->parked);
                        free(n);
                }
        }
        free(p->nodes);
        free(p->done);
        sl_outbox_close(p->ob);
        sl_registry_client_destroy(p->registry);
        sl_codec_destroy(p->codec);
        sl_buf_free(&p->buf);
        free(p->prep);
        free(p->msgs);
        free(p->tmpl);
        free(p->control_topic);
        free(p);
}

rd_kafka_t *sl_producer_rk(sl_producer_t *p)
{
        return p->rk;
}

void sl_producer_set_dr_cb(sl_producer_t *p, sl_producer_dr_cb_t *cb, void *opaque)
{
        p->dr_cb = cb;
        p->dr_opaque = opaque;
}

void sl_producer_set_accept_cb(sl_producer_t *p, sl_producer_accept_cb_t *cb, void *opaque)
{
        p->accept_cb = cb;
        p->accept_opaque = opaque;
}

/* ---- stamping and publishing ---- */

/* Stamps @p ev, whose node id is valid and whose node is @p n (NULL: looked up if needed). */
static sl_err_t sl_stamp(sl_producer_t *p, sl_event_t *ev, sl_node_t *n, char *errstr,
                         size_t errstr_size)
{
        sl_err_t err;

        if ((!ev->event_id || !*ev->event_id) && (err = sl_event_new_id(ev)))
                return sl_seterr(errstr, errstr_size, err, "event id: %s", sl_err_str(err));
        if (!ev->event_time_ms)
                ev->event_time_ms = sl_wall_ms();
        if (ev->incarnation)
                return SL_OK;
        if (!n && !(n = sl_node_get(p, ev->node_id, errstr, errstr_size)))
                return SL_ERR_NOMEM;
        if (!n->stamped) {
                n->inc = p->start_ms;
                n->next_seq = 0;
                if (n->stored) {
                        if (n->stored_inc >= n->inc)
                                n->inc = n->stored_inc + 1; /* the clock went back */
                        n->next_seq = n->stored_seq + 1;
                }
                n->stamped = 1;
        }
        ev->incarnation = n->inc;
        ev->seq = n->next_seq++;
        return SL_OK;
}

sl_err_t sl_producer_stamp(sl_producer_t *p, sl_event_t *ev, char *errstr, size_t errstr_size)
{
        sl_err_t err;

        if (!ev || !ev->node_id || !*ev->node_id)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "the event has no node_id");
        if (!ev->incarnation &&
            (err = sl_name_validate("node id", ev->node_id, errstr, errstr_size)))
                return err;
        return sl_stamp(p, ev, NULL, errstr, errstr_size);
}

static int sl_kind_coalescible(sl_event_kind_t kind)
{
        return kind == SL_KIND_HEARTBEAT || kind == SL_KIND_USAGE;
}

/*
 * Validates, stamps, encodes and routes @p ev into @p pr. The encoded value goes to a record
 * (from the pool) when @p need_rec, else to a slab, from where it is produced without a copy:
 * without the outbox most events need no record of ours at all.
 */
static sl_err_t sl_prepare(sl_producer_t *p, sl_event_t *ev, int need_rec, sl_prep_t *pr,
                           char *errstr, size_t errstr_size)
{
        char topic_name[256];
        sl_topic_t *t;
        sl_node_t *n;
        sl_err_t err;

        if (!ev)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "no event");
        /* A node known already has a valid id. */
        n = ev->node_id ? sl_node_find(p, ev->node_id) : NULL;
        /* The region and type of the last event were validated and routed already. */
        t = p->last_topic && ev->region && ev->node_type && !strcmp(ev->region, p->last_region) &&
                    !strcmp(ev->node_type, p->last_type)
                ? p->last_topic
                : NULL;
        if ((!n && (err = sl_name_validate("node id", ev->node_id, errstr, errstr_size))) ||
            (!t && (err = sl_name_validate("region", ev->region, errstr, errstr_size))) ||
            (!t && (err = sl_name_validate("type", ev->node_type, errstr, errstr_size))) ||
            (!n && !(n = sl_node_get(p, ev->node_id, errstr, errstr_size)) &&
             (err = SL_ERR_NOMEM)) ||
            (err = sl_stamp(p, ev, n, errstr, errstr_size)) ||
            /* Validates the rest of the event as it writes it. */
            (err = sl_codec_encode(p->codec, ev, &p->buf, errstr, errstr_size)) ||
            (!t && (err = sl_topic_expand(p->tmpl, ev->region, ev->node_type, topic_name,
                                          sizeof(topic_name), errstr, errstr_size)))) {
                if (err != SL_ERR_NOMEM)
                        p->st.rejected++;
                return err;
        }
        if (p->buf.len + n->id_len > p->max_record) {
                p->st.rejected++;
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "event of node %s encodes to %zu bytes, more than librdkafka's "
                                 "message.max.bytes allows",
                                 ev->node_id, p->buf.len);
        }
        if (!t) {
                if (!(t = sl_topic_get(p, topic_name, errstr, errstr_size)))
                        return SL_ERR_NOMEM;
                /* Validated above: both fit SL_NAME_MAX. */
                snprintf(p->last_region, sizeof(p->last_region), "%s", ev->region);
                snprintf(p->last_type, sizeof(p->last_type), "%s", ev->node_type);
                p->last_topic = t;
        }
        if ((err = sl_topic_schema_id(p, t, errstr, errstr_size)))
                return err;
        /* The codec writes its own id; the topic's may differ (registry modes). */
        p->buf.data[1] = (uint8_t)(t->schema_id >> 24);
        p->buf.data[2] = (uint8_t)(t->schema_id >> 16);
        p->buf.data[3] = (uint8_t)(t->schema_id >> 8);
        p->buf.data[4] = (uint8_t)t->schema_id;

        memset(pr, 0, sizeof(*pr));
        pr->topic = t;
        pr->node = n;
        pr->key_len = n->id_len;
        pr->len = p->buf.len;
        pr->inc = ev->incarnation;
        pr->seq = ev->seq;
        pr->coalescible = sl_kind_coalescible(ev->kind);
        if (need_rec) {
                if (!(pr->rec = sl_rec_alloc(p, t, n->id, n->id_len, p->buf.data, p->buf.len)))
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                pr->rec->inc = pr->inc;
                pr->rec->seq = pr->seq;
                return SL_OK;
        }
        if (!(pr->val = sl_slab_put(p, p->buf.data, p->buf.len, &pr->slab)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}

static int sl_pair_newer(int64_t inc, int64_t seq, const sl_node_t *n)
{
        return !n->stored || inc > n->stored_inc || (inc == n->stored_inc && seq > n->stored_seq);
}

/*
 * Whether @p r's pair is newer than what the node has stored and than what this call's
 * transaction already wrote for it (events given explicit, out-of-order pairs must not move the
 * stored pair back). Updates the latter.
 */
static int sl_pair_newer_in_batch(sl_producer_t *p, sl_node_t *n, const sl_rec_t *r)
{
        if (n->batch_gen != p->batch_gen) {
                n->batch_gen = p->batch_gen;
                n->batch_inc = n->stored ? n->stored_inc : -1;
                n->batch_seq = n->stored ? n->stored_seq : -1;
        }
        if (r->inc < n->batch_inc || (r->inc == n->batch_inc && r->seq <= n->batch_seq))
                return 0;
        n->batch_inc = r->inc;
        n->batch_seq = r->seq;
        return 1;
}

/*
 * Without the outbox: hands a prepared event to librdkafka, waiting for queue room, or parks it
 * when it is coalescible. Its slab reference goes to the record, or is dropped.
 */
static void sl_prep_produce(sl_producer_t *p, sl_prep_t *pr)
{
        sl_node_t *n = pr->node;
        rd_kafka_resp_err_t err;
        sl_rec_t *r;

        for (;;) {
                err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(pr->topic->rkt),
                                        RD_KAFKA_V_KEY(n->id, pr->key_len),
                                        RD_KAFKA_V_VALUE((void *)pr->val, pr->len),
                                        RD_KAFKA_V_OPAQUE(SL_SLAB_TAG(pr->slab)), RD_KAFKA_V_END);
                if (!err) {
                        pr->slab = NULL; /* the record's now */
                        p->copied_in_flight++;
                        sl_accepted(p, n, pr->inc, pr->seq);
                        return;
                }
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                p->queue_full = 1;
                if (pr->coalescible) {
                        /* Waits for room as the node's latest heartbeat or usage event. */
                        if (!(r = sl_rec_new(pr->topic, n->id, pr->key_len, pr->val, pr->len)))
                                break;
                        r->inc = pr->inc;
                        r->seq = pr->seq;
                        sl_node_park(p, n, r);
                        return; /* the caller drops the slab reference */
                }
                rd_kafka_poll(p->rk, 10);
        }
        /* Refused outright (or no memory to park it): without the outbox, it is lost. */
        sl_report_fail(p, pr->topic, err ? rd_kafka_err2str(err) : "out of memory");
}

/*
 * Without the outbox: hands the publish call's prepared events to librdkafka, parking those
 * marked so. Runs of events with one topic go in one rd_kafka_produce_batch() call (one topic
 * lock and clock reading per run instead of per event); a run holds at most one event per
 * node, so retrying an event that found the queue full can never put it behind a newer event
 * of its node.
 */
static void sl_prep_produce_all(sl_producer_t *p, size_t cnt)
{
        size_t i = 0, j, k;

        while (i < cnt) {
                sl_prep_t *pr = &p->prep[i];

                if (pr->park) {
                        sl_node_park(p, pr->node, pr->rec);
                        pr->rec = NULL;
                        i++;
                        continue;
                }
                p->run_gen++;
                for (j = i; j < cnt; j++) {
                        sl_prep_t *q = &p->prep[j];

                        if (q->park || q->topic != pr->topic || q->node->run_gen == p->run_gen)
                                break;
                        q->node->run_gen = p->run_gen;
                        /* A parked heartbeat or usage event is superseded by this one. */
                        sl_node_drop_parked(p, q->node);
                        p->msgs[j - i] = (rd_kafka_message_t){
                            .payload = (void *)q->val,
                            .len = q->len,
                            .key = q->node->id,
                            .key_len = q->key_len,
                            ._private = SL_SLAB_TAG(q->slab),
                        };
                }
                rd_kafka_produce_batch(pr->topic->rkt, RD_KAFKA_PARTITION_UA, 0, p->msgs,
                                       (int)(j - i));
                for (k = i; k < j; k++) {
                        rd_kafka_resp_err_t err = p->msgs[k - i].err;

                        if (!err) {
                                p->prep[k].slab = NULL; /* the record's now */
                                p->copied_in_flight++;
                                sl_accepted(p, p->prep[k].node, p->prep[k].inc, p->prep[k].seq);
                        } else if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                sl_prep_produce(p, &p->prep[k]); /* waits, or parks */
                        } else {
                                sl_report_fail(p, pr->topic, rd_kafka_err2str(err));
                        }
                }
                i = j;
        }
}

sl_err_t sl_producer_publish_batch(sl_producer_t *p, sl_event_t *const *evs, size_t cnt,
                                   char *errstr, size_t errstr_size)
{
        sl_outbox_txn_t *txn = NULL;
        sl_err_t err = SL_OK;
        size_t i, prepared = 0;
        int blocked = sl_blocked(p);

        if (!cnt)
                return SL_OK;
        {
                char reason[256];
                rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(p->rk, reason, sizeof(reason));

                /* An idempotent producer that lost its sequence state (e.g. records deleted
                 * by retention under it) cannot go on; the outbox keeps every record. */
                if (fatal)
                        return sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                         "the Kafka producer failed fatally (%s: %s): destroy "
                                         "this producer and create a new one; the outbox "
                                         "keeps what was accepted",
                                         rd_kafka_err2name(fatal), reason);
        }
        if (cnt > p->prep_cap) {
                sl_prep_t *prep = realloc(p->prep, cnt * sizeof(*prep));
                rd_kafka_message_t *msgs;

                if (prep)
                        p->prep = prep;
                if (!prep || !(msgs = realloc(p->msgs, cnt * sizeof(*msgs))))
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                p->msgs = msgs;
                p->prep_cap = cnt;
        }
        for (i = 0; i < cnt; i++, prepared++) {
                int park = blocked && evs[i] && sl_kind_coalescible(evs[i]->kind);

                if ((err = sl_prepare(p, evs[i], p->ob || park, &p->prep[i], errstr, errstr_size)))
                        goto done;
                p->prep[i].park = park;
        }

        if (p->ob) {
                p->batch_gen++;
                if ((err = sl_outbox_begin(p->ob, &txn, errstr, errstr_size)))
                        goto done;
                for (i = 0; i < cnt; i++) {
                        sl_rec_t *r = p->prep[i].rec;

                        if (p->prep[i].park)
                                continue;
                        if ((err = sl_outbox_put(txn, r->topic->name, r->key, r->key_len, r->val,
                                                 r->val_len, &r->id, errstr, errstr_size)))
                                goto done;
                        if (sl_pair_newer_in_batch(p, p->prep[i].node, r) &&
                            (err = sl_outbox_seq_put(txn, p->prep[i].node->id, r->inc, r->seq,
                                                     errstr, errstr_size)))
                                goto done;
                }
                err = sl_outbox_commit(txn, errstr, errstr_size);
                txn = NULL;
                if (err)
                        goto done;
        }

        /* Accepted (or parked): nothing can fail from here on. */
        if (!p->ob) {
                /* librdkafka's queue is the only place the records can wait. */
                sl_prep_produce_all(p, cnt);
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                sl_prep_t *pr = &p->prep[i];
                sl_rec_t *r = pr->rec;
                sl_node_t *n = pr->node;

                pr->rec = NULL;
                if (pr->park) {
                        sl_node_park(p, n, r);
                        continue;
                }
                sl_node_drop_parked(p, n);
                if (sl_pair_newer(r->inc, r->seq, n)) {
                        n->stored = 1;
                        n->stored_inc = r->inc;
                        n->stored_seq = r->seq;
                }
                p->st.outbox_depth++;
                sl_accepted(p, n, r->inc, r->seq);
                sl_rec_enqueue(p, r);
        }

done:
        if (txn)
                sl_outbox_abort(txn);
        for (i = 0; i < prepared; i++) {
                if (p->prep[i].rec)
                        sl_rec_recycle(p, p->prep[i].rec);
                if (p->prep[i].slab)
                        sl_slab_unref(p, p->prep[i].slab);
                p->prep[i].rec = NULL;
                p->prep[i].slab = NULL;
        }
        return err;
}

sl_err_t sl_producer_publish(sl_producer_t *p, sl_event_t *ev, char *errstr, size_t errstr_size)
{
        return sl_producer_publish_batch(p, &ev, 1, errstr, errstr_size);
}

int sl_producer_poll(sl_producer_t *p, int timeout_ms)
{
        int served = rd_kafka_poll(p->rk, timeout_ms);

        sl_done_commit(p);
        if (p->ob)
                p->st.outbox_depth = sl_outbox_count(p->ob);
        sl_topic_create_serve(p);
        p->queue_full = 0;
        if (!sl_pending_drain(p))
                sl_parked_accept(p);

        if (p->ctl)
                p->st.lag = sl_control_poll(p->ctl);
        return served;
}

sl_err_t sl_producer_flush(sl_producer_t *p, int timeout_ms)
{
        int64_t deadline = sl_mono_ms() + timeout_ms;

        for (;;) {
                int64_t left;

                sl_producer_poll(p, 0);
                if (!p->in_flight.cnt && !p->copied_in_flight && !p->pending.cnt &&
                    !p->parked_head && (!p->ob || !sl_outbox_count(p->ob)))
                        return SL_OK;
                if ((left = deadline - sl_mono_ms()) <= 0)
                        return SL_ERR_TIMEOUT;
                rd_kafka_poll(p->rk, left < 100 ? (int)left : 100);
        }
}

void sl_producer_stats(const sl_producer_t *p, sl_producer_stats_t *stats)
{
        *stats = p->st;
        stats->in_flight = p->in_flight.cnt + p->copied_in_flight;
        stats->outbox_depth = p->ob ? sl_outbox_count(p->ob) : 0;
}

int64_t sl_producer_heartbeat_interval(sl_producer_t *p)
{
        int64_t now = sl_mono_ms(), lag = p->st.lag;

        if (lag > p->lag_high) {
                if (!p->st.throttled) {
                        p->st.throttled = 1;
                        p->hb_changed_ms = now;
                } else if (now - p->hb_changed_ms >= p->hb_cur && p->hb_cur < p->hb_max) {
                        p->hb_cur = p->hb_cur * 2 > p->hb_max ? p->hb_max : p->hb_cur * 2;
                        p->hb_changed_ms = now;
                }
        } else if (p->st.throttled && lag < p->lag_low) {
                p->st.throttled = 0;
                p->hb_cur = p->hb_normal;
        }
        return p->hb_cur;
}
