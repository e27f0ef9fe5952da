/**
 * @file sl_liveness.h
 * @brief The projector's liveness tracking: which nodes are alive, suspect, dead, left or
 *        missing, derived from the events the projector applies and the passing of time. A pure
 *        module (no Kafka, no LMDB): the projector's consume loop feeds it and publishes what it
 *        reports.
 *
 * **States** (sl_liveness_state_t):
 *  - alive:   heard from within the last `suspect_intervals` heartbeat intervals;
 *  - suspect: silent for more than `suspect_intervals` intervals (and not yet dead);
 *  - dead:    silent for more than `dead_intervals` intervals. Dead is sticky: only a new event
 *             brings the node back (a wider interval later does not);
 *  - left:    its last event was a clean leave (SL_KIND_LEAVE); a left node does not age. Any
 *             later event of another kind makes it alive (or whatever its heard time says) again;
 *  - missing: listed in the inventory (sl_liveness_expect(), sl_liveness_load_inventory()) but
 *             never heard from;
 *  - unknown: known to the tracker but not evaluated by a tick yet (the Avro enum's default).
 *
 * **Thresholds**, with I the heartbeat interval passed to sl_liveness_tick() and silence =
 * now_ms - last_heard_ms: alive while silence <= suspect_intervals * I; suspect when
 * silence > suspect_intervals * I; dead when silence > dead_intervals * I. With the defaults
 * (3, 10) and I = 1000 a node heard at t is alive up to t + 3000 inclusive, suspect from
 * t + 3001, dead from t + 10001.
 *
 * **The interval in effect**: agents stretch their heartbeat interval (doubling up to
 * `heartbeat.max.interval.ms`) while a projector reports a consumer lag above `lag.high`, so the
 * tick takes the interval as a parameter. The projector passes `heartbeat.interval.ms`
 * normally, and `heartbeat.max.interval.ms` while it reports high lag (and for one
 * `heartbeat.max.interval.ms` after its report drops below `lag.low`, the time agents need to
 * read the control topic and send their next heartbeat). A wider interval can turn suspect
 * nodes alive again; a narrower one makes them suspect or dead at the next tick.
 *
 * **Time base**: an event's heard time is min(event_time_ms, receipt_ms): the agent's clock,
 * capped by the projector's wall clock when it applied the event. The node's last_heard_ms is
 * the largest heard time of its events (it never goes back). So:
 *  - replaying old history (a new projector, a rebuild) gives old heard times, and the nodes
 *    whose last event is old come out dead, never briefly alive;
 *  - an agent whose clock runs ahead cannot keep itself alive: its heard time is the receipt
 *    time, and it turns suspect suspect_intervals * I after its last event arrived;
 *  - an agent whose clock runs behind looks older than it is, by its skew: with skew above
 *    suspect_intervals * I it is reported suspect while it heartbeats (run NTP).
 * now_ms, receipt_ms and event_time_ms are all ms since the epoch (wall clock).
 *
 * **Ticks**: sl_liveness_observe() and sl_liveness_expect() only record; every state change is
 * decided and reported by sl_liveness_tick(), which calls the callback once per node whose
 * state changed since the previous tick (changes in between collapse: a node that left and
 * rejoined between two ticks reports nothing if it was alive before). sl_liveness_get() and
 * sl_liveness_counts() report the states as of the last tick. The first tick reports every
 * node known by then, among them each inventory node still missing (unknown -> missing).
 *
 * **Feeding it** (the consume loop): seed it at start from the store (for each stored node,
 * observe its latest event with receipt_ms = now), then observe each event that
 * sl_store_apply() applied, after the transaction committed; tick periodically (e.g. every
 * 100 ms .. 1 s) and publish each change as a NodeLiveness record (sl_liveness_record_encode()).
 *
 * **Cost**: nodes are kept in a hash table (by id) and, when alive or suspect, in a treap ordered
 * by (last_heard_ms, node), whose insertions start from its largest key, where nearly all new
 * heard times land. observe is O(1) expected in that case (O(log N) otherwise); tick is
 * O(log N + D + C), D the nodes observed or expected since the previous tick, C the nodes whose
 * state changed: there is no scan over all nodes. Memory: 48 bytes per node, 8 to 16 bytes of
 * hash table and the id with its NUL, in arrays that grow by doubling. Nodes are never forgotten.
 *
 * Not thread-safe: one tracker per thread, or a lock around every call.
 */
#ifndef SL_LIVENESS_H
#define SL_LIVENESS_H

#include <stddef.h>
#include <stdint.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_event.h"

/** The states. The values are the symbols' indices in schemas/liveness.avsc. */
typedef enum {
        SL_LIVENESS_UNKNOWN = 0, /**< Not evaluated yet; the Avro enum's default. */
        SL_LIVENESS_ALIVE,
        SL_LIVENESS_SUSPECT,
        SL_LIVENESS_DEAD,
        SL_LIVENESS_LEFT,
        SL_LIVENESS_MISSING,
        SL_LIVENESS__CNT
} sl_liveness_state_t;

/** @returns the Avro symbol of @p state ("alive", ...), or "unknown" for a value out of range. */
const char *sl_liveness_state_name(sl_liveness_state_t state);

/** Symbol to value; @returns SL_ERR_BAD_ENUM for a symbol that is not in the schema. */
sl_err_t sl_liveness_state_parse(const char *name, sl_liveness_state_t *statep);

typedef struct {
        int64_t suspect_intervals; /**< liveness.suspect.intervals: >= 1. */
        int64_t dead_intervals;    /**< liveness.dead.intervals: > suspect_intervals. */
} sl_liveness_conf_t;

/**
 * Fills @p lconf from `liveness.suspect.intervals` and `liveness.dead.intervals` of @p conf, or
 * with their defaults (3, 10) when @p conf is NULL.
 */
void sl_liveness_conf_init(sl_liveness_conf_t *lconf, const sl_conf_t *conf);

typedef struct sl_liveness_s sl_liveness_t;

/**
 * @returns a new, empty tracker, or NULL with @p errstr set: thresholds out of range
 *          (suspect_intervals < 1, dead_intervals <= suspect_intervals, either above 1000000),
 *          or "out of memory". Free with sl_liveness_destroy().
 */
sl_liveness_t *sl_liveness_new(const sl_liveness_conf_t *lconf, char *errstr, size_t errstr_size);
void sl_liveness_destroy(sl_liveness_t *lv);

/**
 * @brief Records an event of @p node_id.
 *
 * @param kind the event's kind: SL_KIND_LEAVE makes the node left, any other kind undoes that.
 * @param event_time_ms the event's event_time (the agent's clock).
 * @param receipt_ms when the projector applied the event (its wall clock).
 *
 * The node's last_heard_ms becomes max(last_heard_ms, min(event_time_ms, receipt_ms)); its state
 * changes at the next tick.
 * @returns SL_OK; SL_ERR_INVALID_ARG for a node id sl_name_validate() rejects or a negative
 *          time; SL_ERR_NOMEM (nothing recorded).
 */
sl_err_t sl_liveness_observe(sl_liveness_t *lv, const char *node_id, sl_event_kind_t kind,
                             int64_t event_time_ms, int64_t receipt_ms, char *errstr,
                             size_t errstr_size);

/**
 * @brief Adds @p node_id to the inventory: a node that is never heard from is reported missing.
 *        Expecting a node already known (heard from or expected) changes nothing.
 * @returns SL_OK, SL_ERR_INVALID_ARG (sl_name_validate()'s message) or SL_ERR_NOMEM.
 */
sl_err_t sl_liveness_expect(sl_liveness_t *lv, const char *node_id, char *errstr,
                            size_t errstr_size);

/**
 * @brief Reads an inventory file and expects every node in it.
 *
 * One node id per line; everything from a `#` to the end of the line is a comment; whitespace
 * around the id is trimmed; blank lines are skipped; duplicates are allowed. Loading adds to the
 * inventory (nothing is removed). All or nothing: on error no node of the file is added.
 *
 * @returns SL_OK; SL_ERR_IO when the file cannot be read ("PATH: strerror"); SL_ERR_CONFIG for a
 *          line that is not a valid node id ("PATH:LINE: " and sl_name_validate()'s message, or
 *          "... contains a NUL byte"); SL_ERR_NOMEM.
 */
sl_err_t sl_liveness_load_inventory(sl_liveness_t *lv, const char *path, char *errstr,
                                    size_t errstr_size);

/**
 * Called by sl_liveness_tick() for each state change.
 *
 * @param node_id owned by the tracker, valid until sl_liveness_destroy().
 * @param since_ms when the node entered @p new_state, as far as the tracker can tell: alive: the
 *        heard time of its latest event (or now_ms when a wider interval withdrew a suspicion);
 *        suspect, dead: the first millisecond at which its silence passed the threshold under the
 *        tick's interval (last_heard_ms + k * I + 1); left: the heard time of the leave;
 *        missing: now_ms. Never before the previous since_ms, never after now_ms.
 * @param last_heard_ms -1 if never heard from.
 *
 * The callback must not call sl_liveness_observe(), _expect(), _load_inventory() or _tick() on
 * the same tracker.
 */
typedef void(sl_liveness_change_cb_t)(const char *node_id, sl_liveness_state_t old_state,
                                      sl_liveness_state_t new_state, int64_t since_ms,
                                      int64_t last_heard_ms, void *opaque);

/**
 * @brief Decides every state change up to @p now_ms, calling @p cb (may be NULL) for each.
 *
 * @param now_ms the projector's wall clock, ms since the epoch. It may go back (a clock step):
 *        states follow the thresholds either way, except that dead stays dead.
 * @param heartbeat_interval_ms the interval in effect (see "The interval in effect" above);
 *        values below 1 are taken as 1.
 * @returns the number of changes (callbacks). Cannot fail: it allocates nothing.
 */
size_t sl_liveness_tick(sl_liveness_t *lv, int64_t now_ms, int64_t heartbeat_interval_ms,
                        sl_liveness_change_cb_t *cb, void *opaque);

/**
 * @brief A node's state as of the last tick; NULL out-pointers are skipped.
 *
 * since_ms is -1 for a node never evaluated (unknown); last_heard_ms is -1 for a node never
 * heard from.
 * @returns SL_OK, or SL_ERR_NOT_FOUND for a node neither heard from nor expected.
 */
sl_err_t sl_liveness_get(const sl_liveness_t *lv, const char *node_id, sl_liveness_state_t *statep,
                         int64_t *sincep, int64_t *last_heardp);

/** Fills @p counts with the number of nodes in each state (as of the last tick). */
void sl_liveness_counts(const sl_liveness_t *lv, size_t counts[SL_LIVENESS__CNT]);

/**
 * @brief Records @p node_id's status (its latest event's), for sl_liveness_status_counts(): a
 *        convenience for the projector, which reports nodes per status without reading its
 *        store. The node must be known (observed). Costs no memory: the byte fits the node's 48.
 * @returns SL_OK, SL_ERR_NOT_FOUND (an unknown node), SL_ERR_INVALID_ARG (a status out of range).
 */
sl_err_t sl_liveness_set_status(sl_liveness_t *lv, const char *node_id, sl_node_status_t status);

/** Fills @p counts with the number of nodes per status set with sl_liveness_set_status(). */
void sl_liveness_status_counts(const sl_liveness_t *lv, size_t counts[SL_STATUS__CNT]);

/** @returns the number of nodes tracked (heard from or expected). */
size_t sl_liveness_node_count(const sl_liveness_t *lv);

/* ---- The liveness topic ---- */

/**
 * One NodeLiveness record (schemas/liveness.avsc), keyed by node_id in the compacted
 * `liveness.topic`. Strings are borrowed.
 */
typedef struct {
        const char *node_id;                /**< Required, not empty. */
        sl_liveness_state_t state;          /**< The new state. */
        sl_liveness_state_t previous_state; /**< SL_LIVENESS_UNKNOWN for a node's first record. */
        int64_t since_ms;                   /**< When the node entered @c state. */
        int64_t last_heard_ms;              /**< -1 if never heard from. */
        int64_t updated_ms;                 /**< When the projector decided (the tick's now). */
        int64_t heartbeat_interval_ms;      /**< The interval the thresholds were taken from. */
        int64_t suspect_intervals;          /**< The thresholds, in intervals. */
        int64_t dead_intervals;
        const char *projector_id; /**< Who decided; NULL: "". */
} sl_liveness_record_t;

/** @returns the NodeLiveness schema (schemas/liveness.avsc) compiled into the library. */
const char *sl_liveness_schema_text(void);

/**
 * @brief Encodes @p rec in the Confluent wire format (0x00, @p schema_id big-endian, the Avro
 *        binary body in the field order of schemas/liveness.avsc) into @p out, replacing its
 *        contents. Written by hand, as sl_lag_report_encode() is; test_liveness checks the
 *        bytes against Avro C.
 * @returns SL_OK; SL_ERR_INVALID_ARG (no record, output or node id, a state out of range, a
 *          negative schema id), SL_ERR_NOMEM. On error @p out is left empty.
 */
sl_err_t sl_liveness_record_encode(const sl_liveness_record_t *rec, int32_t schema_id,
                                   sl_buf_t *out, char *errstr, size_t errstr_size);

#endif
