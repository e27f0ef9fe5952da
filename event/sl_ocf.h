/**
 * @file sl_ocf.h
 * @brief Writing Avro Object Container Files (Avro 1.11 specification, "Object Container
 *        Files") from record bodies the caller has already encoded: the header (magic, metadata
 *        map, random sync marker), then blocks of records, each optionally compressed with the
 *        "deflate" codec (raw deflate, RFC 1951, as the specification requires; zlib's
 *        windowBits -15, compression level 1).
 *
 * The caller encodes each record's Avro binary body itself (the event codec's output without
 * its wire header, plus any fields of its own with sl_ocf_put_long() and friends) and hands the
 * bytes to sl_ocf_append(); sl_ocf_record_end() counts the record and closes the block once it
 * holds @c max_records records or @c max_bytes bytes. No Avro C generic values are involved, so
 * the metadata may carry keys of our own (Avro C's file writer cannot add any).
 *
 * Ownership: the writer owns its buffers and its zlib stream, never the descriptor, which the
 * caller opens, syncs and closes. Errors: sl_err_t plus errstr (SL_ERR_IO with errno's text for
 * a failed write, SL_ERR_NOMEM); after an error the file is incomplete and the writer is only
 * good for sl_ocf_writer_free().
 */
#ifndef SL_OCF_H
#define SL_OCF_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"
#include "sl_event.h"

/** Size of the sync marker that ends the header and every block. */
#define SL_OCF_SYNC_SIZE 16

typedef enum {
        SL_OCF_CODEC_NULL,    /**< "null": blocks as they are. */
        SL_OCF_CODEC_DEFLATE, /**< "deflate": each block's records compressed as one stream. */
} sl_ocf_codec_t;

/** @returns the avro.codec name ("null", "deflate"). */
const char *sl_ocf_codec_name(sl_ocf_codec_t codec);

/** Name to codec; @returns SL_ERR_INVALID_ARG for anything but "null" and "deflate". */
sl_err_t sl_ocf_codec_parse(const char *name, sl_ocf_codec_t *codecp);

typedef struct sl_ocf_writer_s sl_ocf_writer_t;

/**
 * @brief Writes the header to @p fd and returns a writer for the blocks.
 *
 * @param schema the writer schema's JSON text, stored as avro.schema as it is.
 * @param meta NULL-terminated key, value pairs added to the metadata after avro.schema and
 *        avro.codec (keys must not start with "avro."); may be NULL.
 * @param max_records, max_bytes a block is closed once it holds this many records, or once its
 *        uncompressed records reach this many bytes (both > 0).
 * @param wp receives the writer; free with sl_ocf_writer_free().
 */
sl_err_t sl_ocf_writer_new(int fd, const char *schema, sl_ocf_codec_t codec,
                           const char *const *meta, int64_t max_records, size_t max_bytes,
                           sl_ocf_writer_t **wp, char *errstr, size_t errstr_size);

/** Appends @p len bytes of the current record's body. */
sl_err_t sl_ocf_append(sl_ocf_writer_t *w, const void *data, size_t len, char *errstr,
                       size_t errstr_size);

/** @returns the buffer of the current block, to encode into directly (sl_ocf_put_long() ...);
 *  only ever append to it. */
sl_buf_t *sl_ocf_block_buf(sl_ocf_writer_t *w);

/** Ends the current record: counts it, and writes the block out when it is full. */
sl_err_t sl_ocf_record_end(sl_ocf_writer_t *w, char *errstr, size_t errstr_size);

/** Writes out the current block, if it holds any record. Call before syncing the file. */
sl_err_t sl_ocf_flush(sl_ocf_writer_t *w, char *errstr, size_t errstr_size);

/** @returns the records ended so far. */
int64_t sl_ocf_records(const sl_ocf_writer_t *w);

/** @returns the bytes written to the descriptor so far (header included). */
int64_t sl_ocf_bytes(const sl_ocf_writer_t *w);

/** Frees the writer (not the descriptor); records not flushed are lost. NULL is a no-op. */
void sl_ocf_writer_free(sl_ocf_writer_t *w);

/** Avro binary encoders appending to @p b: a long or int (zig-zag varint), a string or bytes
 *  (long length, then the bytes). @returns 0, or -1 when out of memory. */
int sl_ocf_put_long(sl_buf_t *b, int64_t v);
int sl_ocf_put_bytes(sl_buf_t *b, const void *data, size_t len);

#endif
