/**
 * @file sl_event.h
 * @brief NodeStateEvent: build one, encode it in the Confluent wire format, decode it, render it
 *        as JSON.
 *
 * The schema is `schemas/node_state.avsc` (compiled into the library, see sl_event_schema_text()).
 *
 * Ownership: an sl_event_t owns every string and array it points to. They live in the event's
 * arena, which sl_event_reset() rewinds (keeping its memory, so a reused event decodes without
 * allocating) and sl_event_destroy() frees. Pointers read from an event are therefore valid only
 * until the next sl_event_reset(), sl_codec_decode() or sl_event_from_json() on that event.
 * Set string fields with sl_event_set() so the copy lands in the arena.
 *
 * Wire format: byte 0x00, the writer schema id as a 4-byte big-endian integer, then the Avro
 * binary body. Decoding reads fields **by name** from whatever writer schema the record carries
 * (the codec must know it: sl_codec_add_schema() or a fetch callback), fills reader defaults for
 * fields the writer lacks and maps enums by symbol, so older and newer versions stay readable.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sl_err.h"

/** Wire-format header size: magic byte + 4-byte schema id. */
#define SL_WIRE_HEADER_SIZE 5

typedef enum {
        SL_KIND_UNKNOWN = 0, /**< Default for symbols this reader does not know. */
        SL_KIND_JOIN,
        SL_KIND_HEARTBEAT,
        SL_KIND_STATUS_CHANGE,
        SL_KIND_USAGE,
        SL_KIND_SERVICES,
        SL_KIND_LEAVE,
        SL_KIND__CNT
} sl_event_kind_t;

typedef enum {
        SL_STATUS_UNKNOWN = 0,
        SL_STATUS_UP,
        SL_STATUS_DEGRADED,
        SL_STATUS_DRAINING,
        SL_STATUS_DOWN,
        SL_STATUS_LEFT,
        SL_STATUS_MAINTENANCE, /**< Schema version 2; a version-1 reader reads it as unknown. */
        SL_STATUS__CNT
} sl_node_status_t;

typedef enum {
        SL_SOURCE_UNKNOWN = 0,
        SL_SOURCE_AGENT,
        SL_SOURCE_BRIDGE,
        SL_SOURCE__CNT
} sl_source_t;

/** @returns the Avro symbol of an enum value ("status_change", "up", "bridge", ...). */
const char *sl_event_kind_name(sl_event_kind_t kind);
const char *sl_node_status_name(sl_node_status_t status);
const char *sl_source_name(sl_source_t source);

/** Symbol to value; @returns SL_ERR_BAD_ENUM for a symbol that is not in the schema. */
sl_err_t sl_event_kind_parse(const char *name, sl_event_kind_t *kindp);
sl_err_t sl_node_status_parse(const char *name, sl_node_status_t *statusp);
sl_err_t sl_source_parse(const char *name, sl_source_t *sourcep);

typedef struct {
        const char *key;
        const char *value;
} sl_kv_t;

typedef struct {
        const char *name;
        double value;
} sl_sensor_t;

typedef struct {
        const char *name;
        sl_kv_t *meta;
        size_t meta_cnt;
} sl_service_t;

typedef struct {
        double cpu_percent; /**< 0-100 over all cores. */
        int32_t cpu_count;
        double load1, load5, load15;
        int64_t mem_total, mem_used, mem_available; /**< Bytes. */
        int64_t disk_total, disk_used;              /**< Bytes. */
        sl_sensor_t *sensors;
        size_t sensor_cnt;
} sl_usage_t;

/** Where a node is (schema version 2). */
typedef struct {
        double latitude;  /**< WGS 84 degrees, -90 to 90. */
        double longitude; /**< WGS 84 degrees, -180 to 180. */
        const char *site; /**< "" when not given. */
} sl_geo_t;

/** What a node offers (schema version 2); 0 means not declared. */
typedef struct {
        int32_t cpu_cores;
        int64_t memory_bytes, disk_bytes;
        int32_t max_tasks;
} sl_capacity_t;

typedef struct sl_arena_s sl_arena_t;

/**
 * One NodeStateEvent (schema version 2: version 1 plus status maintenance, geo, capacity). Strings
 * are never NULL after sl_event_reset(): absent optional strings are "". Field names follow the
 * Avro schema.
 */
typedef struct {
        const char *event_id; /**< UUID text; sl_event_new_id() fills one. */
        const char *node_id;
        const char *node_type;
        const char *region;
        const char *cluster;
        int64_t incarnation;   /**< Agent start time, ms since the epoch. */
        int64_t seq;           /**< Strictly increasing within an incarnation. */
        int64_t event_time_ms; /**< timestamp-millis. */
        sl_event_kind_t kind;
        sl_node_status_t status;
        const char *hostname;
        const char **addresses;
        size_t address_cnt;
        sl_service_t *services;
        size_t service_cnt;
        int has_usage; /**< 0: the union is null and @c usage is zeroed. */
        sl_usage_t usage;
        sl_kv_t *labels;
        size_t label_cnt;
        const char *agent_version;
        sl_source_t source;
        int has_geo; /**< 0: the union is null and @c geo is zeroed (site ""). Version 2. */
        sl_geo_t geo;
        int has_capacity; /**< 0: the union is null and @c capacity is zeroed. Version 2. */
        sl_capacity_t capacity;

        sl_arena_t *arena; /**< Private. */
} sl_event_t;

/**
 * @returns a new, reset event, or NULL when out of memory. Free with sl_event_destroy().
 * @remark Always create events with this function: private bookkeeping follows the public struct,
 *         so an sl_event_t on the stack or from malloc() must never be passed to this API.
 */
sl_event_t *sl_event_new(void);
void sl_event_destroy(sl_event_t *ev);

/** Empties every field ("" strings, zero numbers, no arrays), keeping the arena's memory. */
void sl_event_reset(sl_event_t *ev);

/**
 * Copies @p value into the event's arena and stores the copy in @p *fieldp, which must be one of
 * @p ev's string fields: `sl_event_set(ev, &ev->node_id, "n1")`. NULL stores "".
 */
sl_err_t sl_event_set(sl_event_t *ev, const char **fieldp, const char *value);

/** Fills event_id with a new random (version 4) UUID. */
sl_err_t sl_event_new_id(sl_event_t *ev);

/** Appenders: copy their strings into the arena. */
sl_err_t sl_event_add_address(sl_event_t *ev, const char *address);
sl_err_t sl_event_add_label(sl_event_t *ev, const char *key, const char *value);
/** Appends a service; its meta is added with sl_event_add_service_meta() on the last service. */
sl_err_t sl_event_add_service(sl_event_t *ev, const char *name);
sl_err_t sl_event_add_service_meta(sl_event_t *ev, const char *key, const char *value);
/** Sets has_usage. */
sl_err_t sl_event_add_sensor(sl_event_t *ev, const char *name, double value);

/** The label a bridged event carries when the bridge took the node back after its agent left
 *  (value "1"); see sl_store_supersedes(). */
#define SL_TAKEOVER_LABEL "seerlog.takeover"

/** @returns 1 when @p ev is bridged (source bridge) and carries SL_TAKEOVER_LABEL = "1". */
int sl_event_takeover(const sl_event_t *ev);

/** @returns 1 if @p s [0..@p len) is valid UTF-8 (no overlong forms, no surrogates) without
 *  NUL bytes, else 0. */
int sl_utf8_valid(const char *s, size_t len);

/** Deep-copies @p src into @p dst (reset first). */
sl_err_t sl_event_copy(sl_event_t *dst, const sl_event_t *src);

/**
 * Limits of one event, checked by sl_event_check_limits(): a producer refuses an event beyond
 * them (SL_ERR_BAD_VALUE) and the projector sends a record that decodes to one to the
 * dead-letter topic. They bound what one node can make every reader store and serve.
 */
#define SL_EVENT_MAX_LABELS    64   /**< Entries of labels. */
#define SL_EVENT_MAX_SERVICES  64   /**< Entries of services. */
#define SL_EVENT_MAX_META      64   /**< Entries of one service's meta. */
#define SL_EVENT_MAX_ADDRESSES 64   /**< Entries of addresses. */
#define SL_EVENT_MAX_SENSORS   64   /**< Entries of usage.sensors. */
#define SL_EVENT_MAX_KEY_LEN   256  /**< Bytes of a label or meta key, or a service name. */
#define SL_EVENT_MAX_VALUE_LEN 4096 /**< Bytes of a label or meta value. */

/**
 * @returns SL_OK, or SL_ERR_BAD_VALUE when @p ev is beyond one of the SL_EVENT_MAX_* limits,
 *          with @p errstr naming the field, its size and the limit. Strings must not be NULL
 *          (sl_event_validate() checks that first).
 */
sl_err_t sl_event_check_limits(const sl_event_t *ev, char *errstr, size_t errstr_size);

/**
 * Checks what the schema cannot: required strings (event_id, node_id, node_type, region) are not
 * empty, incarnation > 0, seq >= 0, every string is valid UTF-8, map keys are unique, and the
 * limits of sl_event_check_limits().
 */
sl_err_t sl_event_validate(const sl_event_t *ev, char *errstr, size_t errstr_size);

/** @returns 1 when every field of @p a and @p b is equal (arrays and maps in order), else 0. */
int sl_event_equal(const sl_event_t *a, const sl_event_t *b);

/**
 * @brief Renders @p ev as a JSON object whose keys are the Avro field names; enums as their
 *        symbols, usage as null or an object, maps as objects.
 * @returns a new reference (json_decref() it), or NULL when out of memory.
 */
json_t *sl_event_to_json(const sl_event_t *ev);

/**
 * @brief Fills @p ev (reset first) from a JSON object of the shape sl_event_to_json() produces.
 *
 * Absent optional fields take the schema's defaults; event_id may be absent (a new one is made),
 * as may event_time (now). Unknown keys, wrong types, unknown enum symbols and out-of-range
 * numbers are errors (SL_ERR_BAD_VALUE, SL_ERR_BAD_ENUM) with the field named in errstr.
 */
sl_err_t sl_event_from_json(sl_event_t *ev, const json_t *obj, char *errstr, size_t errstr_size);

/** @returns the NodeStateEvent schema (schemas/node_state.avsc) compiled into the library. */
const char *sl_event_schema_text(void);

/** A growable byte buffer, reused across encodes. Zero-initialise; free with sl_buf_free(). */
typedef struct {
        uint8_t *data;
        size_t len;
        size_t cap;
} sl_buf_t;

void sl_buf_free(sl_buf_t *buf);
/** Makes @p buf hold at least @p cap bytes (contents kept). @returns 0, or -1 out of memory. */
int sl_buf_reserve(sl_buf_t *buf, size_t cap);
/** Appends @p len bytes of @p data to @p buf. @returns 0, or -1 out of memory. */
int sl_buf_append(sl_buf_t *buf, const void *data, size_t len);

typedef struct sl_codec_s sl_codec_t;

/**
 * Asked for the text of a writer schema the codec does not know yet (later: the registry client).
 * On success *textp is a malloc()ed NUL-terminated string that the codec takes ownership of.
 */
typedef sl_err_t(sl_schema_fetch_cb_t)(int32_t schema_id, char **textp, void *opaque, char *errstr,
                                       size_t errstr_size);

/**
 * @brief A codec for NodeStateEvent records.
 *
 * @param writer_id the schema id under which the library's own schema
 *        (sl_event_schema_text()) is registered; encoded records carry it. 1 .. 2^31-1.
 *
 * The codec is not thread-safe: use one per thread.
 */
sl_codec_t *sl_codec_new(int32_t writer_id, char *errstr, size_t errstr_size);
void sl_codec_destroy(sl_codec_t *codec);

/**
 * @brief sl_codec_new(), decoding as a reader of an older NodeStateEvent version would:
 *        @p reader_text is that version's schema (e.g. schemas/node_state.v1.avsc). Fields it
 *        lacks are skipped (left at their reset values), enum symbols it lacks read as its
 *        enum's default. Encoding is unchanged (the library's own schema). For testing mixed
 *        versions and rolling upgrades (the config key project.reader.schema); NULL is
 *        sl_codec_new().
 */
sl_codec_t *sl_codec_new_reader(int32_t writer_id, const char *reader_text, char *errstr,
                                size_t errstr_size);

/** @returns the writer id given to sl_codec_new(). */
int32_t sl_codec_writer_id(const sl_codec_t *codec);

/**
 * @brief Teaches the codec the writer schema @p text under @p schema_id, so records written with
 *        it can be decoded.
 *
 * The schema is parsed and validated and resolved against the reader schema now, so an
 * unreadable writer schema (e.g. a required field missing, an incompatible type) fails here with
 * SL_ERR_SCHEMA rather than at every record. Adding the same id twice replaces it.
 */
sl_err_t sl_codec_add_schema(sl_codec_t *codec, int32_t schema_id, const char *text, char *errstr,
                             size_t errstr_size);

/**
 * Forgets the writer schema under @p schema_id, sl_codec_new()'s own included, so that the
 * fetch callback is asked for it: a decoder whose schema ids all come from a registry must not
 * assume that writer_id is the built-in schema (the registry may have given that id to another
 * version).
 */
void sl_codec_forget_schema(sl_codec_t *codec, int32_t schema_id);

/** Installs a callback for ids not added with sl_codec_add_schema(). The result is cached. */
void sl_codec_set_fetch_cb(sl_codec_t *codec, sl_schema_fetch_cb_t *cb, void *opaque);

/**
 * @brief Validates @p ev as sl_event_validate() does (same errors) and encodes it into @p out in
 *        the Confluent wire format, replacing its contents. Allocation-free once @p out is large
 *        enough.
 *
 * Validation happens while writing (each string is measured, checked and copied in one pass);
 * on failure @p out is left empty.
 *
 * Written directly (zig-zag varints, length-prefixed strings) rather than through Avro C's
 * generic values, which cost more than the rest of a producer's work per event; the bytes are
 * exactly sl_codec_encode_reference()'s, which test_event checks.
 */
sl_err_t sl_codec_encode(sl_codec_t *codec, const sl_event_t *ev, sl_buf_t *out, char *errstr,
                         size_t errstr_size);

/** The same encoding through Avro C's generic value API: the reference for tests and audits. */
sl_err_t sl_codec_encode_reference(sl_codec_t *codec, const sl_event_t *ev, sl_buf_t *out,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Decodes one wire-format record into @p ev (reset first).
 *
 * Never crashes on malformed input: a wrong magic byte, a truncated body, a bad varint, a negative
 * or oversized length, an enum or union index outside the writer schema, invalid UTF-8 or
 * trailing bytes each return their own error code with the detail (field, offset) in errstr.
 * On error @p ev is left reset.
 */
sl_err_t sl_codec_decode(sl_codec_t *codec, const void *data, size_t len, sl_event_t *ev,
                         char *errstr, size_t errstr_size);

/** Reads the schema id of a wire-format record without decoding it. */
sl_err_t sl_wire_schema_id(const void *data, size_t len, int32_t *schema_idp);

#endif
