/**
 * @file sl_projector.h
 * @brief The projector: replays the state topics into a store (sl_store.h), exactly once.
 *
 * A consumer in group project.group.id subscribes to the topics matching
 * project.topic.pattern (cooperative-sticky assignment, read_committed, no auto commit). Each
 * sl_projector_poll() takes one batch of up to project.batch.max records, decodes it and keeps
 * the newest event of each node, then hands it to the projector's writer thread, which in ONE
 * store transaction applies those events (the store's (incarnation, seq) guard drops
 * duplicates and stale events) and stores, per partition, the offset after the last record.
 * While the writer stores one batch, the next sl_projector_poll() reads the next; it waits for
 * the writer's result before handing that one over (sl_projector_flush() waits for it alone).
 * The store, not Kafka, decides where reading resumes: on every assignment the consumer starts
 * each partition at the store's offset (the beginning when the store has none). After the
 * store commit the same offsets are committed to Kafka asynchronously, only so that standard
 * lag tools (kafka-consumer-groups) see the group.
 *
 * A record that cannot be decoded (not the wire format, truncated, an unknown schema id, a
 * writer schema that cannot be read as NodeStateEvent, an invalid value, a null value) goes to
 * dlq.topic with its key and value unchanged and headers naming the reason
 * (seerlog.dlq.reason, seerlog.dlq.error), and where it came from (seerlog.dlq.topic,
 * seerlog.dlq.partition, seerlog.dlq.offset); the dead-letter records are delivered before the
 * batch's store commit, so a bad record is never skipped without reaching the DLQ (after a
 * crash it may reach it twice). Errors that are not the record's fault (the registry
 * unreachable, the DLQ undeliverable) abort the batch: nothing of it is stored, the consumer
 * goes back to the stored offsets, and the batch is tried again after a pause.
 */
#ifndef SL_PROJECTOR_H
#define SL_PROJECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_liveness.h"
#include "sl_producer.h" /* sl_partition_lag_t */
#include "sl_store.h"

typedef struct sl_projector_s sl_projector_t;

#define SL_PROJECTOR_LAT_BUCKETS 13
/** Upper bounds (ms) of the batch store time buckets: 1 2 5 10 25 50 100 250 500 1000 2500 5000
 *  10000. */
extern const int64_t sl_projector_latency_bounds_ms[SL_PROJECTOR_LAT_BUCKETS];

/** Counters, cumulative since sl_projector_new(), and gauges. */
typedef struct {
        uint64_t consumed;         /**< Records read (end-of-partition events not counted). */
        uint64_t applied;          /**< Events stored as their node's state. */
        uint64_t superseded;       /**< Newer than the node's state, but followed in the same
                                        batch by a newer event of the node, stored instead. */
        uint64_t ignored;          /**< Duplicate or stale events (the guard). */
        uint64_t dead_lettered;    /**< Records sent to the dead-letter topic. */
        uint64_t batches;          /**< Store transactions committed. */
        uint64_t retried;          /**< Batches aborted (not the records' fault) and read again. */
        uint64_t nodes;            /**< Gauge: nodes in the store. */
        int assigned;              /**< Gauge: partitions assigned. */
        int64_t lag;               /**< Gauge: records behind the ends, at the last report. */
        int paused;                /**< Gauge: partitions paused as the busiest. */
        uint64_t pauses;           /**< Times the busiest partitions were paused. */
        uint64_t liveness_changes; /**< Liveness changes decided (and published). */
        uint64_t liveness[SL_LIVENESS__CNT]; /**< Gauges: nodes per liveness state. */
        uint64_t status[SL_STATUS__CNT];     /**< Gauges: nodes per status (at the last tick). */
        /* Where the time goes (microseconds). The polling thread: */
        uint64_t poll_us; /**< Waiting for and collecting records. */
        uint64_t read_us; /**< Decoding, coalescing and ordering batches. */
        uint64_t wait_us; /**< Waiting for the writer thread. */
        /* The writer thread: */
        uint64_t write_us;  /**< Writing batches (the changelog's records included). */
        uint64_t commit_us; /**< Committing them (the changelog's transaction, then the store). */
        /** Batches by the time they took to store (write and commit), non-cumulative: [i] counts
         *  those over bound i-1 and at most bound i (sl_projector_latency_bounds_ms); longer
         *  ones are batches less the sum of these. */
        uint64_t batch_le[SL_PROJECTOR_LAT_BUCKETS];
        uint64_t batch_us_sum; /**< Their total time. */
        int caught_up;         /**< Gauge: sl_projector_caught_up(). */
        int healthy;           /**< Gauge: 0 once the projector cannot go on. */
        int store_full;        /**< Gauge: 1 while not applying because the store has no room
                                    (its map size or its file system); see sl_projector_poll(). */
        char store_error[512]; /**< Why, while store_full. */
} sl_projector_stats_t;

/**
 * @brief Opens the store in @p store_dir and starts the consumer (it joins the group and gets
 *        partitions during the following polls).
 * @returns NULL with the reason in @p errstr (bad configuration, store in use or unreadable).
 */
sl_projector_t *sl_projector_new(const sl_conf_t *conf, const char *store_dir, char *errstr,
                                 size_t errstr_size);

/** One partition of a replay. */
typedef struct {
        const char *topic;
        int32_t partition;
        int64_t end; /**< Offset of the first record NOT to apply (the stretch's end). */
} sl_replay_part_t;

/** What a replay reads (sl_projector_new_replay()). */
typedef struct {
        const sl_replay_part_t *parts;
        size_t part_cnt;
        int64_t clock_ms; /**< Liveness is judged at this time (ms since the epoch); 0: now. */
} sl_replay_t;

/**
 * @brief A projector that replays a fixed stretch of the log into @p store_dir, on its own: the
 *        partitions of @p replay, each from the store's offset (the log's start when the store
 *        has none) up to its end, assigned without joining any group.
 *
 * It applies events exactly as sl_projector_new()'s does (same batches, same guard, same store
 * layout, so the same events give the same hash), but publishes nothing: no changelog, no lag
 * reports, no liveness records, no dead letters (records that cannot be decoded are counted in
 * dead_lettered only), no offsets committed to Kafka. Liveness hears each event at its record's
 * timestamp and is judged at @p replay->clock_ms. sl_projector_caught_up() is 1 once every
 * partition was stored up to its end; records past an end are never applied.
 */
sl_projector_t *sl_projector_new_replay(const sl_conf_t *conf, const char *store_dir,
                                        const sl_replay_t *replay, char *errstr,
                                        size_t errstr_size);

/**
 * @brief Leaves the group (its partitions are revoked) and closes the store. What was committed
 *        stays; a batch in progress is not (there is none between polls).
 */
void sl_projector_destroy(sl_projector_t *p);

/**
 * @brief Waits up to @p timeout_ms for records (not at all while the writer has a batch), reads
 *        one batch and hands it to the writer thread after taking in the result of the batch
 *        before it (see the file comment).
 * @returns the number of records in the batch (0: none arrived), or -1 with @p errstr set when
 *          the projector cannot go on (the store broken, a fatal Kafka error). Transient
 *          failures are retried by later calls and counted in `retried`. A store without room
 *          (store.max.bytes reached, or its file system full: SL_ERR_NO_SPACE) is not fatal:
 *          the batch is not stored (nor its offsets), the `store_full` gauge is set, and the
 *          batch is read again every 2 s until a try succeeds (the file system has room again;
 *          a map size is raised only by a restart with a larger store.max.bytes).
 */
int sl_projector_poll(sl_projector_t *p, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Waits for the batch the writer thread is storing, if any, and takes in its result
 *        (stats, offsets). A fatal failure of it is reported by the next sl_projector_poll().
 */
void sl_projector_flush(sl_projector_t *p);

/**
 * @returns 1 when partitions are assigned and every one of them was read to its end (the
 *          log's end at the time it was reached), else 0.
 */
int sl_projector_caught_up(const sl_projector_t *p);

/** The counters and gauges as of the end of the last sl_projector_poll(); any thread. */
void sl_projector_stats(sl_projector_t *p, sl_projector_stats_t *stats);

/**
 * @brief The lag of each assigned partition at the last lag report (project.lag.interval.ms);
 *        any thread. Copies up to @p max into @p out (topic names live as long as the
 *        projector). @returns how many there are.
 */
size_t sl_projector_lags(sl_projector_t *p, sl_partition_lag_t *out, size_t max);

/** sl_liveness_get() on the projector's tracker; any thread. */
sl_err_t sl_projector_liveness(sl_projector_t *p, const char *node_id, sl_liveness_state_t *statep,
                               int64_t *sincep, int64_t *last_heardp);

/** Who wants to hear of changes as they happen (the HTTP API's watch stream). */
typedef struct {
        void *opaque;
        /** Asked once per committed batch (writer thread): 0 skips on_state for it. */
        int (*wanted)(void *opaque);
        /** A node's new state, committed (writer thread): a value as sl_store.h describes. */
        void (*on_state)(void *opaque, const char *node_id, const uint8_t *value, size_t value_len);
        /** A liveness change (polling thread, in sl_projector_poll()). */
        void (*on_liveness)(void *opaque, const char *node_id, sl_liveness_state_t old_state,
                            sl_liveness_state_t new_state, int64_t since_ms, int64_t last_heard_ms);
} sl_projector_watch_t;

/** Installs @p w (copied); before the first sl_projector_poll(). */
void sl_projector_set_watch(sl_projector_t *p, const sl_projector_watch_t *w);

/** The projector's store, for reads (sl_store_hash(), sl_store_node_get(), ...). */
sl_store_t *sl_projector_store(sl_projector_t *p);

#endif
