/**
 * @file sl_store.h
 * @brief The projector's store: the latest state of every node and the Kafka offsets it was
 *        read up to, in one LMDB environment, so that state and offsets move together in one
 *        transaction (exactly-once replay of the state topics).
 *
 * Layout (an LMDB environment in a directory, three named databases):
 *  - "nodes":   node id (bytes, no NUL) -> u8 format version (1), big-endian i64 incarnation,
 *               i64 seq, i64 event_time_ms, then the Avro binary body (no wire header) of the
 *               node's latest event, encoded with the library's own NodeStateEvent schema.
 *               Every event, whatever writer schema it arrived with, is decoded into an
 *               sl_event_t and encoded again here, so the stored bytes are canonical: two stores
 *               fed the same events hold the same bytes (see sl_store_hash()).
 *  - "offsets": topic, a 0 byte, big-endian i32 partition -> big-endian i64 next offset to read.
 *  - "meta":    free key -> value strings (e.g. the consumer group the offsets belong to).
 *  - "sources": node id -> big-endian i32 partition, i64 offset, then the topic: the record
 *               the node's state was read from (sl_store_source_put()). Not hashed, not in
 *               snapshots: a node imported from a snapshot has none until its next event.
 *
 * Ordering: an event replaces a node's state only if it is newer: the node has no state yet, or
 * the event's incarnation is greater, or it is equal and its seq is greater. Duplicates and
 * stale events are ignored, so replaying a topic from any earlier offset is harmless.
 * One exception, for nodes moving from the bridge (`seerlog bridge`, source bridge) to their
 * own agent (any other source: native), so that such a node never flaps between the two
 * (sl_store_supersedes()): a bridged event never replaces a native state unless the node left
 * (status left: the agent was removed, the bridge speaks for it again), and a native event
 * replaces a bridged state whatever their incarnations, unless the bridge took the node back
 * after its agent left (the state carries SL_TAKEOVER_LABEL): then only a newer native event
 * (a reinstalled agent) does, and a stale one (a duplicate of the agent's old events) does not.
 *
 * Transactions: writes go through one write transaction at a time (sl_store_begin()), which
 * ends in sl_store_commit() (durable: LMDB syncs on commit) or sl_store_abort(). Reads
 * (sl_store_node_get(), sl_store_walk(), sl_store_offset_get(), ...) run in their own read
 * transaction and see only committed data, even while a write transaction is open.
 *
 * Threads: a store is used by one thread (it owns one codec and scratch buffers), with one
 * exception: one thread may call sl_store_value() (the codec) while another runs the write
 * transaction with sl_store_put() and sl_store_offset_put() (the projector does), and reads
 * (sl_store_offset_get(), ...) may run beside both. A lock file (`dir/lock`, flock) keeps a
 * second process out of the directory.
 *
 * Errors: sl_err_t plus errstr, as everywhere. A stored entry that cannot be read back (wrong
 * size, unknown format version, an Avro body that does not decode or does not match its key
 * and header) is SL_ERR_IO with the node named in errstr.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"
#include "sl_event.h"

/** Format version of the values in the "nodes" database. */
#define SL_STORE_FORMAT_VERSION 1

/** Bytes before the Avro body in a "nodes" value: format version, incarnation, seq, time. */
#define SL_STORE_NODE_HDR 25

/** Size of the hex digest sl_store_hash() writes, NUL included. */
#define SL_STORE_HASH_HEX_SIZE 65

typedef struct sl_store_s sl_store_t;
typedef struct sl_store_txn_s sl_store_txn_t;

/**
 * @brief Opens the store in @p dir, creating the directory (mkdir -p) and the databases if
 *        needed.
 *
 * @param max_bytes the LMDB map size: the most the store may grow to. A write transaction that
 *        would pass it fails with SL_ERR_NO_SPACE, "store full (max bytes N)"; one that finds
 *        the file system full (ENOSPC, EDQUOT, or a short write with less than 1 MiB left)
 *        fails with SL_ERR_NO_SPACE, "... file system full ...". Either way the transaction
 *        is aborted and the store stays as it was and usable: the caller may try again later.
 *
 * A directory another process has open is refused (SL_ERR_IO, "... is in use by another
 * process ..."). Free with sl_store_close().
 */
sl_err_t sl_store_open(const char *dir, int64_t max_bytes, sl_store_t **sp, char *errstr,
                       size_t errstr_size);

/** sl_store_open_flags(): open an existing store for reading only. */
#define SL_STORE_READONLY 0x1

/**
 * @brief sl_store_open() with @p flags. SL_STORE_READONLY opens an existing store (SL_ERR_NOT_FOUND
 *        when @p dir holds none) without taking its lock, beside the projector that may be
 *        writing it (LMDB coordinates the processes); @p max_bytes is ignored and
 *        sl_store_begin() fails. Use sl_store_pin() for a consistent view.
 */
sl_err_t sl_store_open_flags(const char *dir, int64_t max_bytes, int flags, sl_store_t **sp,
                             char *errstr, size_t errstr_size);

/**
 * @brief Until sl_store_unpin(), every read of @p s (not of its readers) sees the one committed
 *        state the pin found: offsets, nodes, node count and hash agree even while another
 *        process commits (one LMDB read transaction). Only the pinning thread may use @p s
 *        meanwhile, and writes (sl_store_begin()) fail.
 */
sl_err_t sl_store_pin(sl_store_t *s, char *errstr, size_t errstr_size);
void sl_store_unpin(sl_store_t *s);

/** Closes the store (aborting a write transaction left open) and releases the lock. */
void sl_store_close(sl_store_t *s);

/** @returns the directory given to sl_store_open(); owned by the store. */
const char *sl_store_dir(const sl_store_t *s);

/**
 * @brief Begins the write transaction; every path must end in sl_store_commit() or
 *        sl_store_abort().
 *
 * Only one may be open at a time (SL_ERR_INVALID_ARG otherwise). The transaction object is
 * owned by the store and valid until it is committed or aborted.
 */
sl_err_t sl_store_begin(sl_store_t *s, sl_store_txn_t **txnp, char *errstr, size_t errstr_size);

/**
 * @brief Stores @p ev as its node's state if it is newer than the stored one (see Ordering).
 *
 * @param appliedp set to 1 if stored, 0 if the event is a duplicate or stale and was ignored.
 *
 * @p ev is validated and encoded first, whether or not it turns out newer: an invalid event is
 * always an error (the codes and messages of sl_codec_encode()), and nothing is written.
 * Allocation-free once the store's buffers are large enough.
 *
 * @remark After an error that is not a validation error (e.g. the store is full) the
 *         transaction is unusable and must be aborted.
 */
sl_err_t sl_store_apply(sl_store_txn_t *txn, const sl_event_t *ev, int *appliedp, char *errstr,
                        size_t errstr_size);

/**
 * @brief Validates and encodes @p ev into the value the "nodes" database holds for it (see
 *        Layout), appended to @p out, for sl_store_put().
 *
 * Errors: those of sl_codec_encode() (an invalid event), SL_ERR_INVALID_ARG for a node_id longer
 * than LMDB's key limit, SL_ERR_NOMEM; @p out then keeps its length. Needs no transaction.
 */
sl_err_t sl_store_value(sl_store_t *s, const sl_event_t *ev, sl_buf_t *out, char *errstr,
                        size_t errstr_size);

/**
 * @returns 1 when an event (@p inc, @p seq, @p source) replaces a node's state (@p s_inc,
 *          @p s_seq, @p s_source, @p s_status, @p s_takeover: the state carries
 *          SL_TAKEOVER_LABEL), 0 when it is a duplicate, stale, or a bridged event for a node
 *          that speaks for itself (see Ordering). The store's guard and the
 *          projector's coalescing of a batch both decide by it.
 */
static inline int sl_store_supersedes(int64_t inc, int64_t seq, sl_source_t source, int64_t s_inc,
                                      int64_t s_seq, sl_source_t s_source,
                                      sl_node_status_t s_status, int s_takeover)
{
        int bridged = source == SL_SOURCE_BRIDGE, s_bridged = s_source == SL_SOURCE_BRIDGE;
        int newer = inc > s_inc || (inc == s_inc && seq > s_seq);

        if (bridged && !s_bridged)
                return s_status == SL_STATUS_LEFT;
        if (!bridged && s_bridged)
                return !s_takeover || newer;
        return newer;
}

/**
 * @brief Stores @p value, made by sl_store_value() from an event of node @p node_id
 *        (@p id_len bytes) whose source is @p source, as that node's state if it supersedes
 *        the stored one (see Ordering).
 *
 * sl_store_apply() is sl_store_value() and this. Puts in ascending node id order cost less:
 * LMDB's pages along the way stay in the cache. Deciding between a bridged and a native state
 * reads the stored state's source and status (a decode, on the bridged path only).
 *
 * @param appliedp set to 1 if stored, 0 if the event is a duplicate or stale and was ignored.
 * @returns SL_ERR_INVALID_ARG when @p value does not start with a value header; after other
 *          errors (e.g. the store is full) the transaction must be aborted.
 */
sl_err_t sl_store_put(sl_store_txn_t *txn, const char *node_id, size_t id_len, const uint8_t *value,
                      size_t value_len, sl_source_t source, int *appliedp, char *errstr,
                      size_t errstr_size);

/**
 * @brief Records that @p topic / @p partition is to be read from @p next_offset on.
 *
 * @p partition and @p next_offset must not be negative (SL_ERR_INVALID_ARG).
 */
sl_err_t sl_store_offset_put(sl_store_txn_t *txn, const char *topic, int32_t partition,
                             int64_t next_offset, char *errstr, size_t errstr_size);

/** Sets the meta entry @p key (not empty) to @p value, replacing any previous value. */
sl_err_t sl_store_meta_put(sl_store_txn_t *txn, const char *key, const char *value, char *errstr,
                           size_t errstr_size);

/**
 * @brief Commits the transaction durably (LMDB's default sync). The transaction is over either
 *        way: on failure nothing of it was stored.
 */
sl_err_t sl_store_commit(sl_store_txn_t *txn, char *errstr, size_t errstr_size);

/** Discards everything the transaction wrote. NULL, or a transaction already over, is a no-op. */
void sl_store_abort(sl_store_txn_t *txn);

/**
 * @brief Reads the next offset stored for @p topic / @p partition into @p *nextp.
 * @returns SL_ERR_NOT_FOUND if none is stored.
 */
sl_err_t sl_store_offset_get(sl_store_t *s, const char *topic, int32_t partition, int64_t *nextp,
                             char *errstr, size_t errstr_size);

/**
 * Called for each stored offset. @p topic is valid only during the call. A non-zero return stops
 * the walk.
 */
typedef int(sl_store_offset_cb_t)(const char *topic, int32_t partition, int64_t next_offset,
                                  void *opaque);

/**
 * @brief Calls @p cb for every stored offset, ordered by topic, then partition.
 * @returns SL_OK, an error, or the callback's non-zero return value as is (so a callback may
 *          stop the walk with an sl_err_t of its own; errstr is then untouched).
 */
sl_err_t sl_store_offsets(sl_store_t *s, sl_store_offset_cb_t *cb, void *opaque, char *errstr,
                          size_t errstr_size);

/**
 * @brief Reads the state of @p node_id into @p ev (reset first): the stored event, decoded.
 *
 * ev->incarnation and ev->seq are the stored (incarnation, seq) the ordering compares against.
 * @returns SL_ERR_NOT_FOUND (@p ev left reset) if the node is unknown.
 */
sl_err_t sl_store_node_get(sl_store_t *s, const char *node_id, sl_event_t *ev, char *errstr,
                           size_t errstr_size);

/**
 * Called for each node. @p node_id and @p ev are owned by the store and valid only during the
 * call (sl_event_copy() keeps one). A non-zero return stops the walk. The callback may read the
 * store (sl_store_node_get(), ...) and write through a transaction, but not start another
 * sl_store_walk(); the walk goes on over the snapshot it began with.
 */
typedef int(sl_store_walk_cb_t)(const char *node_id, const sl_event_t *ev, void *opaque);

/**
 * @brief Calls @p cb for every node, in key order (bytewise by node id), with its state decoded.
 * @returns SL_OK, an error (a corrupt entry stops the walk), or the callback's non-zero return
 *          value as is (errstr then untouched).
 */
sl_err_t sl_store_walk(sl_store_t *s, sl_store_walk_cb_t *cb, void *opaque, char *errstr,
                       size_t errstr_size);

/** @returns the number of nodes with a committed state. */
uint64_t sl_store_node_count(const sl_store_t *s);

/**
 * @brief The canonical hash of the node states: SHA-256 over, for each node in key order,
 *        u32 big-endian key length, key, u32 big-endian value length, value (the stored bytes
 *        described above), as 64 lowercase hex digits and a NUL.
 *
 * Offsets and meta are not hashed: two projectors that read the same log (in different consumer
 * groups, in different batches, from different writer schema ids) agree. An empty store hashes
 * to SHA-256 of nothing (e3b0c442...b855).
 */
sl_err_t sl_store_hash(sl_store_t *s, char hex[SL_STORE_HASH_HEX_SIZE], char *errstr,
                       size_t errstr_size);

/**
 * @brief Copies the meta value of @p key, NUL-terminated, into @p buf.
 * @returns SL_ERR_NOT_FOUND if @p key has no value, SL_ERR_INVALID_ARG if it
 *          does not fit in @p buf_size bytes (the size needed is in errstr).
 */
sl_err_t sl_store_meta_get(sl_store_t *s, const char *key, char *buf, size_t buf_size, char *errstr,
                           size_t errstr_size);

/**
 * A reader of the node states with its own codec and buffers: one per thread that reads while
 * another uses the store (the projector's HTTP API). Its reads run in their own read
 * transactions, as the store's do, unless it is pinned (sl_store_reader_pin()).
 */
typedef struct sl_store_reader_s sl_store_reader_t;

/** @returns a reader of @p s (which must outlive it), or NULL with @p errstr set. */
sl_store_reader_t *sl_store_reader_new(sl_store_t *s, char *errstr, size_t errstr_size);
/** Unpins @p r and frees it. NULL is a no-op. */
void sl_store_reader_free(sl_store_reader_t *r);

/**
 * @brief Makes every read of @p r, from any thread (one at a time), use one read transaction
 *        begun now, until sl_store_reader_unpin(): its nodes, offsets, count and hash then
 *        belong to one committed state, while the store's writer goes on committing. The
 *        reader's own view only: the store and its other readers are not affected. While a
 *        reader is pinned, LMDB cannot reuse the pages later commits free, so the store file
 *        may grow: unpin as soon as the view is no longer needed. Pinning again starts a
 *        new view.
 */
sl_err_t sl_store_reader_pin(sl_store_reader_t *r, char *errstr, size_t errstr_size);
void sl_store_reader_unpin(sl_store_reader_t *r);

/** The number of nodes: in the pinned view, else sl_store_node_count(). */
uint64_t sl_store_reader_count(const sl_store_reader_t *r);

/** sl_store_hash() through the reader (of its pinned view, if pinned). */
sl_err_t sl_store_reader_hash(sl_store_reader_t *r, char hex[SL_STORE_HASH_HEX_SIZE], char *errstr,
                              size_t errstr_size);

/** sl_store_offsets() through the reader (of its pinned view, if pinned). */
sl_err_t sl_store_reader_offsets(sl_store_reader_t *r, sl_store_offset_cb_t *cb, void *opaque,
                                 char *errstr, size_t errstr_size);

/** sl_store_node_get() through the reader. */
sl_err_t sl_store_reader_get(sl_store_reader_t *r, const char *node_id, sl_event_t *ev,
                             char *errstr, size_t errstr_size);

/** Decodes @p value, a "nodes" value of @p node_id (e.g. from sl_store_value()), into @p ev. */
sl_err_t sl_store_reader_decode(sl_store_reader_t *r, const char *node_id, const uint8_t *value,
                                size_t value_len, sl_event_t *ev, char *errstr, size_t errstr_size);

/**
 * @brief sl_store_walk() through the reader, over the nodes whose id sorts after @p after
 *        (bytewise; NULL or "": from the first), in one read transaction.
 */
sl_err_t sl_store_reader_walk(sl_store_reader_t *r, const char *after, sl_store_walk_cb_t *cb,
                              void *opaque, char *errstr, size_t errstr_size);

/**
 * @brief Records that @p node_id's state was read from @p topic / @p partition at @p offset (in
 *        the same transaction as the state).
 */
sl_err_t sl_store_source_put(sl_store_txn_t *txn, const char *node_id, size_t id_len,
                             const char *topic, int32_t partition, int64_t offset, char *errstr,
                             size_t errstr_size);

/**
 * @brief Where @p node_id's state was read from; the topic is copied into @p topic.
 * @returns SL_ERR_NOT_FOUND when nothing is recorded (e.g. imported from a snapshot).
 */
sl_err_t sl_store_reader_source(sl_store_reader_t *r, const char *node_id, char *topic,
                                size_t topic_size, int32_t *partitionp, int64_t *offsetp,
                                char *errstr, size_t errstr_size);

/**
 * Called by sl_store_diff() for a node whose stored values differ: @p a / @p b is the node's
 * value in each store ("nodes" layout: header and body), NULL when the node is only in the
 * other. Non-zero stops the walk.
 */
typedef int(sl_store_diff_cb_t)(const char *node_id, const uint8_t *a, size_t a_len,
                                const uint8_t *b, size_t b_len, void *opaque);

/**
 * @brief Walks the nodes of @p a and @p b together in node id order (one read transaction on
 *        each, the pinned one if pinned) and calls @p cb for every node whose stored bytes
 *        differ or that only one of them holds. Values are canonical (see the "nodes" layout),
 *        so equal states are equal bytes. @p samep (may be NULL) counts the equal nodes.
 * @returns SL_OK, SL_ERR_INVALID_ARG when @p cb stopped it, or a store error.
 */
sl_err_t sl_store_diff(sl_store_t *a, sl_store_t *b, sl_store_diff_cb_t *cb, void *opaque,
                       uint64_t *samep, char *errstr, size_t errstr_size);

#endif
