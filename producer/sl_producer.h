/**
 * @file sl_producer.h
 * @brief Publishing NodeStateEvents: topic routing, schema ids through the registry, a durable
 *        outbox, idempotent production, coalescing under backpressure, lag-driven throttling.
 *
 * The path of one event:
 *  1. sl_producer_stamp() gives it (incarnation, seq) from the producer's persistent sequence
 *     (see below), an event id and an event time, unless the caller set them.
 *  2. sl_producer_publish() validates it, routes it (topic.template), encodes it (the schema id
 *     from schema.mode) and *accepts* it: with outbox.enable the encoded record is written to the
 *     outbox (LMDB, one durable transaction per call or per sl_producer_publish_batch()) before
 *     it is handed to librdkafka. The record leaves the outbox only on a successful delivery
 *     report; records whose delivery failed are produced again. At start every record left in
 *     the outbox is produced again, in order. So an accepted event reaches Kafka at least once;
 *     a duplicate always carries the same (incarnation, seq) and event id.
 *  3. librdkafka produces it with enable.idempotence=true, acks=all, partitioner=murmur2_random,
 *     message.timeout.ms=delivery.timeout.ms (defaults the user's properties may override, except
 *     that idempotence and acks=all cannot be turned off: sl_producer_new() refuses).
 *
 * Backpressure (local): when librdkafka's queue is full (QUEUE_FULL) coalescible events (kind
 * heartbeat or usage) are not accepted but parked, one per node: a newer coalescible event of the
 * node replaces the parked one (counted in `coalesced`), a non-coalescible event of the node
 * (join, status_change, services, leave) drops it (it carries the full state anyway) and is
 * accepted at once, never dropped. Parked events are accepted by sl_producer_poll() as soon as the
 * queue has room. Without the outbox a non-coalescible event meeting a full queue waits in
 * sl_producer_publish() (serving delivery reports) until there is room.
 *
 * Backpressure (readers' lag): see sl_producer_heartbeat_interval().
 *
 * Sequence: per node id, the last (incarnation, seq) given out is stored in the outbox
 * environment in the same transaction as the record, so after a restart seq goes on from there
 * and is never reused; the incarnation of a node is fixed when the producer first stamps it:
 * the start time in ms, or the stored one + 1 if the clock went back. Without the outbox the
 * sequence lives in memory (the new incarnation after a restart keeps (incarnation, seq) unique).
 *
 * Threads: one producer is used by one thread (it runs librdkafka's callbacks from
 * sl_producer_poll()). Errors: sl_err_t plus errstr, as everywhere.
 */
#ifndef SL_PRODUCER_H
#define SL_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_event.h"
#include "sl_name.h"

typedef struct sl_producer_s sl_producer_t;

/** Counters; all cumulative since sl_producer_new() except the gauges. */
typedef struct {
        uint64_t accepted;     /**< Events accepted (in the outbox, or handed to librdkafka). */
        uint64_t sent;         /**< Successful delivery reports. */
        uint64_t retried;      /**< Records produced again after a failed delivery report. */
        uint64_t replayed;     /**< Records found in the outbox at start and produced again. */
        uint64_t coalesced;    /**< Parked coalescible events replaced or dropped. */
        uint64_t rejected;     /**< Events refused by sl_producer_publish() (bad input). */
        uint64_t outbox_depth; /**< Gauge: records in the outbox, not yet delivered. */
        uint64_t parked;       /**< Gauge: coalescible events waiting for queue room. */
        uint64_t in_flight;    /**< Gauge: records handed to librdkafka, not yet reported. */
        int64_t lag;           /**< Gauge: the largest reader lag seen on control.topic, -1 none. */
        int throttled;         /**< Gauge: 1 while lag stretches the heartbeat interval. */
} sl_producer_stats_t;

/**
 * @brief Creates a producer from @p conf (bootstrap.servers, every librdkafka property, topic.*,
 *        schema.*, registry.*, outbox.*, control.topic, lag.*, heartbeat.*).
 *
 * Opens (creates) the outbox and produces again what it holds. Does not wait for the broker: a
 * producer starts and accepts events with the broker down.
 * @returns NULL with the reason in @p errstr (a bad property, an outbox that cannot be opened
 *          or is locked by another process, idempotence or acks=all turned off).
 */
sl_producer_t *sl_producer_new(const sl_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief Flushes for up to @p timeout_ms (records not delivered by then stay in the outbox for
 *        the next start) and frees the producer.
 */
void sl_producer_destroy(sl_producer_t *p, int timeout_ms);

/**
 * @brief Fills what the caller left empty: event_id (new UUID), event_time (now), and, when
 *        ev->incarnation is 0, the node's incarnation and next seq (see "Sequence" above).
 *        Requires ev->node_id.
 */
sl_err_t sl_producer_stamp(sl_producer_t *p, sl_event_t *ev, char *errstr, size_t errstr_size);

/**
 * @brief Validates, routes, encodes and accepts one event (see above).
 *
 * What the caller did not stamp is stamped first, as sl_producer_stamp() does (so @p ev may be
 * changed even when the call fails; a seq given out then is simply skipped).
 * @returns SL_OK when accepted or parked; SL_ERR_INVALID_ARG / SL_ERR_BAD_VALUE for an event or
 *          name that fails validation, or a record larger than message.max.bytes (nothing is
 *          written); SL_ERR_SCHEMA / SL_ERR_IO / ... when the schema id cannot be had from the
 *          registry; SL_ERR_IO when the outbox write fails (full: "outbox full
 *          (outbox.max.bytes=N)"); SL_ERR_KAFKA once librdkafka's producer failed fatally (an
 *          idempotence error: destroy the producer and create a new one; the outbox keeps
 *          everything accepted). On error nothing was accepted.
 */
sl_err_t sl_producer_publish(sl_producer_t *p, sl_event_t *ev, char *errstr, size_t errstr_size);

/**
 * @brief sl_producer_publish() for @p cnt events in ONE outbox transaction (the way to reach
 *        Kafka's rates with a durable outbox). All or nothing: on error none was accepted.
 */
sl_err_t sl_producer_publish_batch(sl_producer_t *p, sl_event_t *const *evs, size_t cnt,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Serves delivery reports (removing delivered records from the outbox, one transaction
 *        per call), produces again failed records and parked events when there is room, and
 *        reads control.topic. Call it from the publishing loop, at least every 100 ms.
 * @returns the number of events served.
 */
int sl_producer_poll(sl_producer_t *p, int timeout_ms);

/** Polls until nothing is in flight, parked or in the outbox, or @p timeout_ms passes. */
sl_err_t sl_producer_flush(sl_producer_t *p, int timeout_ms);

void sl_producer_stats(const sl_producer_t *p, sl_producer_stats_t *stats);

/**
 * @brief The heartbeat interval to use now: heartbeat.interval.ms normally; when the largest
 *        lag that a reader published on control.topic rises above lag.high, it doubles at each
 *        call made after the current interval elapsed, up to heartbeat.max.interval.ms, and it
 *        returns to normal once the lag falls below lag.low (hysteresis).
 */
int64_t sl_producer_heartbeat_interval(sl_producer_t *p);

/**
 * Called from sl_producer_poll() for every final delivery report: success (@p err SL_OK, the
 * record's @p partition and @p offset), or, without the outbox, failure (@p err SL_ERR_KAFKA,
 * librdkafka's message in @p errstr). With the outbox a failed record is produced again, so
 * only successes are reported. For one-shot tools (seerlog publish prints topic/partition@offset).
 */
typedef void(sl_producer_dr_cb_t)(const char *topic, int32_t partition, int64_t offset,
                                  sl_err_t err, const char *errstr, void *opaque);

/** Sets (NULL: clears) the delivery callback. */
void sl_producer_set_dr_cb(sl_producer_t *p, sl_producer_dr_cb_t *cb, void *opaque);

/**
 * Called for every event at the moment it is accepted (see sl_producer_publish()): with the
 * outbox, after the transaction holding it committed (from sl_producer_publish*() or, for a
 * parked event, from sl_producer_poll()); without it, when librdkafka took it. Gives the node
 * id (valid only during the call), incarnation and seq. For tests and audits that need the
 * exact set of accepted events (seerlog simulate and agent --record FILE); it runs on the
 * publishing thread and should be quick.
 */
typedef void(sl_producer_accept_cb_t)(const char *node_id, int64_t incarnation, int64_t seq,
                                      void *opaque);

/** Sets (NULL: clears) the accept callback. */
void sl_producer_set_accept_cb(sl_producer_t *p, sl_producer_accept_cb_t *cb, void *opaque);

/** @returns the underlying librdkafka handle (for metadata or diagnostics), owned by @p p. */
rd_kafka_t *sl_producer_rk(sl_producer_t *p);

/* ---- Routing and names (no producer needed) ---- */

/* Node ids, regions and types: SL_NAME_MAX and sl_name_validate() in sl_name.h. */

/**
 * @brief Expands @p tmpl ({region}, {type}; any other {...} is an error) for one node into
 *        @p out. The result must be a valid topic name (1..249 characters of [A-Za-z0-9._-],
 *        not "." or "..").
 */
sl_err_t sl_topic_expand(const char *tmpl, const char *region, const char *type, char *out,
                         size_t out_size, char *errstr, size_t errstr_size);

/* ---- The control topic: readers' lag ---- */

/** The schema of control.topic records (schemas/control.avsc, compiled in). */
const char *sl_control_schema_text(void);

/** One partition's lag in a report. */
typedef struct {
        const char *topic;
        int32_t partition;
        int64_t lag;
} sl_partition_lag_t;

/** One lag report, keyed by projector id in control.topic (compacted). */
typedef struct {
        const char *projector_id; /**< Who reports (the key). */
        const char *group_id;     /**< Its consumer group. */
        int64_t lag;              /**< Events behind the end of the log, summed over partitions. */
        int64_t updated_ms;       /**< When the lag was measured, ms since the epoch. */
        const sl_partition_lag_t *partitions; /**< Encoded only; the decoder leaves it NULL. */
        size_t partition_cnt;
} sl_lag_report_t;

/**
 * @brief Encodes @p report in the wire format with schema id @p schema_id into @p out (for
 *        projectors, and for tests that play one).
 */
sl_err_t sl_lag_report_encode(const sl_lag_report_t *report, int32_t schema_id, sl_buf_t *out,
                              char *errstr, size_t errstr_size);

#endif
