/**
 * @file sl_snapshot.h
 * @brief Snapshots of the projector's store (sl_store.h) as Avro Object Container Files, so a new
 *        projector can start from a snapshot instead of replaying the whole log, and analysts can
 *        read the node states with standard Avro tools (fastavro, Avro Java/Python, Spark,
 *        DuckDB).
 *
 * File format (Avro 1.11 "Object Container Files"):
 *  - the 4 bytes "Obj\x01";
 *  - the file metadata, an Avro map of bytes:
 *     - `avro.schema`: the NodeStateEvent schema, exactly sl_event_schema_text();
 *     - `avro.codec`: "null" (blocks are not compressed);
 *     - `seerlog.offsets`: JSON array of {"topic": T, "partition": P, "offset": O}, the next
 *       offset to read of each partition (sl_store_offsets()), ordered by topic, then partition;
 *     - `seerlog.nodes`: the number of records, in decimal;
 *     - `seerlog.hash`: sl_store_hash() of the store the snapshot was taken from (64 hex digits);
 *     - `seerlog.created_ms`: when the snapshot was written, ms since the epoch, in decimal;
 *  - a 16-byte random sync marker;
 *  - blocks of at most SL_SNAPSHOT_BLOCK_RECORDS records or about SL_SNAPSHOT_BLOCK_BYTES bytes:
 *    record count (Avro long), byte size (Avro long), the records' Avro binary bodies, the sync
 *    marker.
 *
 * Every record is one node's latest state, in node id order (bytewise): the bytes the store holds
 * after its 25-byte header (see the "nodes" layout in sl_store.h).
 *
 * Errors: sl_err_t plus errstr. Malformed files are refused with SL_ERR_BAD_MAGIC (not an OCF),
 * SL_ERR_TRUNCATED, SL_ERR_BAD_VARINT, SL_ERR_BAD_LENGTH (a count or size negative or beyond the
 * file), SL_ERR_BAD_VALUE (sync marker mismatch, a codec other than null and deflate, bad deflate
 * data, bad seerlog.* metadata, hash mismatch), SL_ERR_SCHEMA (no schema, or one the codec cannot
 * read as NodeStateEvent) or the codec's own decode errors, with the file, block and record named
 * in errstr.
 */
#ifndef SL_SNAPSHOT_H
#define SL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"
#include "sl_store.h"

/** Most records in one block of a written file. */
#define SL_SNAPSHOT_BLOCK_RECORDS 1000
/** A block is closed once its records reach this many bytes. */
#define SL_SNAPSHOT_BLOCK_BYTES (1 << 20)

/** sl_snapshot_import_flags(): import into a store that already has nodes. */
#define SL_SNAPSHOT_FORCE 0x1

/** One entry of `seerlog.offsets`. */
typedef struct {
        char *topic; /**< Owned by the info (sl_snapshot_info_clear()). */
        int32_t partition;
        int64_t offset; /**< The next offset to read. */
} sl_snapshot_offset_t;

/**
 * What a snapshot holds. Filled by the calls below, which overwrite it without freeing: pass a
 * zeroed struct, and free what it owns with sl_snapshot_info_clear().
 */
typedef struct {
        int64_t nodes;                 /**< Records written / read / announced (seerlog.nodes);
                                            -1 when sl_snapshot_read_info() finds no such key. */
        sl_snapshot_offset_t *offsets; /**< `seerlog.offsets`, in file order. */
        size_t offset_cnt;
        char hash[SL_STORE_HASH_HEX_SIZE]; /**< `seerlog.hash`, "" when absent. */
        int64_t created_ms;                /**< `seerlog.created_ms`, -1 when absent. */
        int64_t bytes;                     /**< Size of the file. */
        char codec[16];                    /**< `avro.codec`: "null" (export) or "deflate". */
        char *schema;                      /**< `avro.schema`, NUL-terminated; owned. */
} sl_snapshot_info_t;

/** Frees what @p info owns and zeroes it. NULL is a no-op. */
void sl_snapshot_info_clear(sl_snapshot_info_t *info);

/**
 * @brief Writes a snapshot of @p s into @p path.
 *
 * The file is written as PATH.tmp with sl_snapshot_write(), fsynced and renamed over @p path
 * (and the directory fsynced), so @p path is either the complete new snapshot or what it was
 * before; on failure PATH.tmp is removed.
 *
 * @param info if not NULL, receives nodes, offsets, bytes, hash, created_ms, codec and schema
 *             (on success only).
 */
sl_err_t sl_snapshot_export(sl_store_t *s, const char *path, sl_snapshot_info_t *info, char *errstr,
                            size_t errstr_size);

/**
 * @brief Writes a snapshot of @p s (the file format above) to @p fd, from its current position;
 *        @p name names the output in messages. @p fd is neither synced nor closed.
 *
 * The node states, offsets, count and hash are read in one read transaction (a pinned
 * sl_store_reader_t), so they belong to one committed state even while another thread or
 * process commits to the store: the projector's HTTP API serves snapshots of its live store
 * with it (GET /v1/snapshot).
 *
 * @param info as sl_snapshot_export()'s.
 */
sl_err_t sl_snapshot_write(sl_store_t *s, int fd, const char *name, sl_snapshot_info_t *info,
                           char *errstr, size_t errstr_size);

/**
 * @brief Reads the snapshot @p path into @p s: every record is applied with sl_store_apply()
 *        and every `seerlog.offsets` entry stored with sl_store_offset_put(), in one store
 *        transaction, which is committed only if the whole file is valid.
 *
 * The file may also come from another writer (fastavro, Spark, ...), as long as its schema is a
 * NodeStateEvent version the codec can resolve by field name (sl_codec_add_schema()) and its
 * codec is "null" or "deflate" (a block may inflate to 256 MiB at most); the `seerlog.*` keys
 * are then optional.
 *
 * When the store was empty and the file has `seerlog.hash`, the records must be in strictly
 * increasing node id order (as exported) and the hash of the resulting node states is checked
 * against it before the commit: a mismatch is SL_ERR_BAD_VALUE and nothing is stored. When the
 * file has `seerlog.nodes`, the number of records must match it.
 *
 * A store that already has nodes is refused (SL_ERR_INVALID_ARG); see
 * sl_snapshot_import_flags().
 *
 * @param info if not NULL, receives the file's metadata, with nodes = the records read.
 */
sl_err_t sl_snapshot_import(const char *path, sl_store_t *s, sl_snapshot_info_t *info, char *errstr,
                            size_t errstr_size);

/**
 * @brief sl_snapshot_import() with @p flags: SL_SNAPSHOT_FORCE merges the snapshot into a store
 *        that already has nodes. The store's ordering decides per node (the newer of the stored
 *        and the snapshot's state wins), an offset is only ever moved forward, and the hash is
 *        not checked (the result is the union of both).
 */
sl_err_t sl_snapshot_import_flags(const char *path, sl_store_t *s, int flags,
                                  sl_snapshot_info_t *info, char *errstr, size_t errstr_size);

/**
 * @brief Reads only the header of the snapshot @p path (magic, metadata, sync marker) into
 *        @p info, checking the metadata as sl_snapshot_import() does; the blocks are not read.
 */
sl_err_t sl_snapshot_read_info(const char *path, sl_snapshot_info_t *info, char *errstr,
                               size_t errstr_size);

#endif
