/* Internals of the producer library: shared by producer.c, outbox.c, route.c, control.c only. */
#ifndef SL_PRODUCER_INT_H
#define SL_PRODUCER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sl_producer.h"

/* ---- The outbox: an LMDB environment in outbox.dir ---- */

typedef struct sl_outbox_s sl_outbox_t;
typedef struct sl_outbox_txn_s sl_outbox_txn_t;

/**
 * Opens (creates, mkdir -p) the outbox in @p dir with a map of @p max_bytes, locked against any
 * other process by flock() on dir/lock. SL_ERR_IO with the reason.
 */
sl_err_t sl_outbox_open(const char *dir, int64_t max_bytes, sl_outbox_t **obp, char *errstr,
                        size_t errstr_size);
void sl_outbox_close(sl_outbox_t *ob);
/** Records in the outbox (committed). */
uint64_t sl_outbox_count(const sl_outbox_t *ob);
const char *sl_outbox_dir(const sl_outbox_t *ob);

/** A write transaction; every path ends in sl_outbox_commit() or sl_outbox_abort(). */
sl_err_t sl_outbox_begin(sl_outbox_t *ob, sl_outbox_txn_t **txnp, char *errstr, size_t errstr_size);
/** Adds a record; *idp is its outbox sequence (valid once committed). */
sl_err_t sl_outbox_put(sl_outbox_txn_t *txn, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, uint64_t *idp, char *errstr,
                       size_t errstr_size);
sl_err_t sl_outbox_del(sl_outbox_txn_t *txn, uint64_t id, char *errstr, size_t errstr_size);
/** Stores the last (incarnation, seq) given out to @p node. */
sl_err_t sl_outbox_seq_put(sl_outbox_txn_t *txn, const char *node, int64_t incarnation, int64_t seq,
                           char *errstr, size_t errstr_size);
sl_err_t sl_outbox_commit(sl_outbox_txn_t *txn, char *errstr, size_t errstr_size);
void sl_outbox_abort(sl_outbox_txn_t *txn);

/** Reads the stored (incarnation, seq) of @p node: SL_ERR_NOT_FOUND when there is none. */
sl_err_t sl_outbox_seq_get(sl_outbox_t *ob, const char *node, int64_t *incp, int64_t *seqp,
                           char *errstr, size_t errstr_size);

/**
 * Calls @p cb for every record in outbox order. The pointers are valid only during the call.
 * A non-zero return from @p cb stops the walk and is returned.
 */
typedef int(sl_outbox_walk_cb_t)(uint64_t id, const char *topic, const void *key, size_t key_len,
                                 const void *value, size_t value_len, void *opaque);
sl_err_t sl_outbox_walk(sl_outbox_t *ob, sl_outbox_walk_cb_t *cb, void *opaque, char *errstr,
                        size_t errstr_size);

/* ---- The control topic ---- */

/** Decodes a control record (wire format, fields of schemas/control.avsc in order). */
sl_err_t sl_lag_report_decode(const void *data, size_t len, sl_lag_report_t *report, char *buf,
                              size_t buf_size, char *errstr, size_t errstr_size);

typedef struct sl_control_s sl_control_t;

/** A reader of @p topic (all partitions, from the beginning). NULL with errstr on failure. */
sl_control_t *sl_control_new(const sl_conf_t *conf, const char *topic, char *errstr,
                             size_t errstr_size);
void sl_control_destroy(sl_control_t *ctl);
/** Reads what arrived (never blocks long). @returns the largest lag known, or -1. */
int64_t sl_control_poll(sl_control_t *ctl);

/** Monotonic milliseconds. */
int64_t sl_mono_ms(void);
/** Milliseconds since the epoch. */
int64_t sl_wall_ms(void);

#endif
