/**
 * @file export_format.h
 * @brief The row writers of `seerlog export`: NodeStateEvents, each with where it came from,
 *        as an Avro Object Container File, JSON lines or RFC 4180 CSV, written to a descriptor.
 *
 * Two kinds of rows:
 *  - events (the log): the Kafka coordinates of the record (topic, partition, offset,
 *    timestamp) and the event;
 *  - state (a store's node states): the event, and for JSON lines and CSV the record the state
 *    was read from (topic, partition, offset; unknown for a node imported from a snapshot).
 *
 * Avro: events are records of seerlog.ExportedEvent (sl_export_events_schema(): the four
 * coordinates, then NodeStateEvent's fields, taken from sl_event_schema_text()); state rows are
 * records of NodeStateEvent itself, as in a snapshot. JSON lines: sl_event_to_json()'s members
 * after `_topic,_partition,_offset,_timestamp` (events) or
 * `_source_topic,_source_partition,_source_offset` (state, null when unknown), written directly
 * but byte for byte as jansson's JSON_COMPACT writes them (`seerlog tail`'s lines). CSV: the
 * columns of sl_export_csv_header(), CRLF line ends.
 *
 * Every event is validated (sl_event_validate(), the projector's rule) before it is written, in
 * every format alike; an invalid one is refused with *invalidp set and nothing written.
 *
 * Ownership: the writer never owns the descriptor (the caller syncs and closes it). After an
 * error other than an invalid event the output is incomplete.
 */
#ifndef SL_EXPORT_FORMAT_H
#define SL_EXPORT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"
#include "sl_event.h"
#include "sl_ocf.h"

typedef enum {
        SL_EXPORT_AVRO,
        SL_EXPORT_JSONL,
        SL_EXPORT_CSV,
} sl_export_format_t;

/** "avro", "jsonl", "csv" to a format; @returns SL_ERR_INVALID_ARG for any other name. */
sl_err_t sl_export_format_parse(const char *name, sl_export_format_t *fmtp);

/** Where a row comes from. */
typedef struct {
        const char *topic; /**< NULL: unknown (state rows only). */
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /**< The record's Kafka timestamp (events only). */
} sl_export_coord_t;

typedef struct sl_export_writer_s sl_export_writer_t;

/**
 * @brief A writer of @p fmt rows to @p fd; writes the header now (Avro: magic, metadata, sync
 *        marker; CSV: the header row).
 * @param state 0: event rows; 1: state rows.
 * @param codec Avro only: the blocks' codec.
 * @param meta Avro only: NULL-terminated key, value pairs for the file metadata; may be NULL.
 */
sl_err_t sl_export_writer_new(sl_export_format_t fmt, int state, int fd, sl_ocf_codec_t codec,
                              const char *const *meta, sl_export_writer_t **wp, char *errstr,
                              size_t errstr_size);

/**
 * @brief Writes one row: @p ev from @p coord.
 * @param invalidp set to 1 when @p ev was refused as invalid (errstr says why; nothing was
 *        written and the writer goes on), else 0.
 */
sl_err_t sl_export_writer_row(sl_export_writer_t *w, const sl_export_coord_t *coord,
                              const sl_event_t *ev, int *invalidp, char *errstr,
                              size_t errstr_size);

/** Writes out everything buffered (Avro: the last block). */
sl_err_t sl_export_writer_finish(sl_export_writer_t *w, char *errstr, size_t errstr_size);

/** @returns the rows written, and the bytes handed to the descriptor so far. */
int64_t sl_export_writer_rows(const sl_export_writer_t *w);
int64_t sl_export_writer_bytes(const sl_export_writer_t *w);

void sl_export_writer_free(sl_export_writer_t *w);

/**
 * @brief The Avro schema of exported events: record seerlog.ExportedEvent with the fields
 *        topic, partition, offset, timestamp, then every field of NodeStateEvent as
 *        sl_event_schema_text() defines it (doc, defaults and named types included).
 * @param flags jansson's dump flags (JSON_COMPACT, JSON_INDENT(2)).
 * @returns a malloc()ed string, or NULL with errstr set.
 */
char *sl_export_events_schema(size_t flags, char *errstr, size_t errstr_size);

/** @returns the CSV header row (without the line end) of event or state rows. */
const char *sl_export_csv_header(int state);

#endif
