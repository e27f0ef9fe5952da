/* Internals of the event module; nothing outside event/ includes this. */
#ifndef SL_EVENT_INT_H
#define SL_EVENT_INT_H

#include "sl_event.h"

/* The embedded schemas/node_state.avsc (generated at build time). */
extern const char sl_node_state_avsc[];

/* A chunked bump allocator: pointers stay valid until reset; reset keeps the memory. */
sl_arena_t *sl_arena_new(void);
void sl_arena_destroy(sl_arena_t *a);
void sl_arena_reset(sl_arena_t *a);
void *sl_arena_alloc(sl_arena_t *a, size_t size);
char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t len);
/* Makes room for one more element of an arena array: returns the (possibly moved) array. */
void *sl_arena_grow(sl_arena_t *a, void *array, size_t cnt, size_t *capp, size_t elem_size);

/* Arena array capacities; kept beside the event because the public struct has no room for them. */
typedef struct {
        size_t addresses, services, labels, sensors, meta;
} sl_event_caps_t;
sl_event_caps_t *sl_event_caps(sl_event_t *ev);

/* Sets a map entry (last value wins for a repeated key). */
sl_err_t sl_event_kv_put(sl_event_t *ev, sl_kv_t **kvs, size_t *cnt, size_t *cap, const char *key,
                         size_t key_len, const char *value, size_t value_len);
sl_err_t sl_event_sensor_put(sl_event_t *ev, const char *name, size_t name_len, double value);

/* ---- Writer schemas: sl_schema's validated tree plus a decode plan ---- */

#include "sl_schema_tree.h"

/* Reader roles a writer record or enum can be resolved as. */
typedef enum {
        SL_ROLE_NONE = 0,
        SL_ROLE_EVENT,
        SL_ROLE_SERVICE,
        SL_ROLE_USAGE,
        SL_ROLE_KIND,
        SL_ROLE_STATUS,
        SL_ROLE_SOURCE,
        SL_ROLE_GEO,      /* schema version 2 */
        SL_ROLE_CAPACITY, /* schema version 2 */
} sl_role_t;

/*
 * How to decode records written with one writer schema: the schema (parsed and validated by
 * sl_schema) and, per node id, what resolution against the reader decided.
 */
typedef struct {
        sl_schema_t *schema;
        sl_role_t *role;           /* records and enums: the reader role they were resolved as */
        int **slot;                /* records: per field, the reader slot it fills, or -1 */
        int **enum_map;            /* enums: writer symbol index -> reader enum value */
        unsigned char **branch_ok; /* unions: branch readable by the reader */
        size_t *min_size;          /* smallest encoding in bytes, bounds block counts */
} sl_aschema_t;

/* ---- The reader side: NodeStateEvent v1 as slots ---- */

typedef enum {
        SL_SLOT_EVENT_ID,
        SL_SLOT_NODE_ID,
        SL_SLOT_NODE_TYPE,
        SL_SLOT_REGION,
        SL_SLOT_CLUSTER,
        SL_SLOT_INCARNATION,
        SL_SLOT_SEQ,
        SL_SLOT_EVENT_TIME,
        SL_SLOT_KIND,
        SL_SLOT_STATUS,
        SL_SLOT_HOSTNAME,
        SL_SLOT_ADDRESSES,
        SL_SLOT_SERVICES,
        SL_SLOT_USAGE,
        SL_SLOT_LABELS,
        SL_SLOT_AGENT_VERSION,
        SL_SLOT_SOURCE,
        SL_SLOT_SVC_NAME,
        SL_SLOT_SVC_META,
        SL_SLOT_U_CPU_PERCENT,
        SL_SLOT_U_CPU_COUNT,
        SL_SLOT_U_LOAD1,
        SL_SLOT_U_LOAD5,
        SL_SLOT_U_LOAD15,
        SL_SLOT_U_MEM_TOTAL,
        SL_SLOT_U_MEM_USED,
        SL_SLOT_U_MEM_AVAILABLE,
        SL_SLOT_U_DISK_TOTAL,
        SL_SLOT_U_DISK_USED,
        SL_SLOT_U_SENSORS,
        SL_SLOT_GEO,
        SL_SLOT_CAPACITY,
        SL_SLOT_G_LATITUDE,
        SL_SLOT_G_LONGITUDE,
        SL_SLOT_G_SITE,
        SL_SLOT_C_CPU_CORES,
        SL_SLOT_C_MEMORY_BYTES,
        SL_SLOT_C_DISK_BYTES,
        SL_SLOT_C_MAX_TASKS,
        SL_SLOT__CNT
} sl_slot_t;

/* What a slot holds, which decides which writer types can fill it. */
typedef enum {
        SL_SK_STRING,
        SL_SK_LONG,
        SL_SK_INT,
        SL_SK_DOUBLE,
        SL_SK_ENUM,
        SL_SK_STRING_ARRAY,
        SL_SK_SERVICE_ARRAY,
        SL_SK_STRING_MAP,
        SL_SK_DOUBLE_MAP,
        SL_SK_USAGE, /* [null, record]: the record's role is the slot's enum_role */
} sl_slot_kind_t;

typedef struct {
        sl_role_t record; /* record the field belongs to */
        const char *name;
        sl_slot_kind_t kind;
        sl_role_t enum_role; /* for SL_SK_ENUM; for SL_SK_USAGE, the record's role */
} sl_slot_def_t;

extern const sl_slot_def_t sl_slot_defs[SL_SLOT__CNT];

/* Reader defaults, read from the embedded schema's JSON by sl_reader_defaults_load(). */
typedef struct {
        const json_t *dflt[SL_SLOT__CNT];      /* the field's "default", or NULL when required */
        int enum_dflt[SL_SLOT__CNT];           /* enum slots: the field default as a C enum value */
        int enum_fallback[SL_ROLE_SOURCE + 1]; /* the enum's own default, for unknown symbols */
        unsigned enum_known[SL_ROLE_SOURCE + 1]; /* bit v: the reader's enum has symbol v */
        unsigned char absent[SL_SLOT__CNT];      /* not in an older reader schema: skipped */
        json_t *root;                            /* the parsed reader schema; owns dflt */
} sl_reader_t;

/*
 * Loads the reader: the embedded schema (@p text NULL), or @p text, an older version of it
 * (fields it lacks are skipped when decoding, enum symbols it lacks read as the enum's default,
 * as a decoder of that version would). Every field of @p text must be one the decoder knows.
 */
sl_err_t sl_reader_load(sl_reader_t *reader, const char *text, char *errstr, size_t errstr_size);
void sl_reader_clear(sl_reader_t *reader);

/*
 * Parses and validates @p text (sl_schema_parse) and resolves it against the reader: assigns
 * slots, builds enum maps, checks types. Free with sl_aschema_destroy().
 */
sl_err_t sl_aschema_new(const char *text, const sl_reader_t *reader, sl_aschema_t **writerp,
                        char *errstr, size_t errstr_size);
void sl_aschema_destroy(sl_aschema_t *writer);

/* Decodes an Avro body written with @p writer (resolved) into @p ev. */
sl_err_t sl_avro_decode(const sl_aschema_t *writer, const sl_reader_t *reader, const uint8_t *data,
                        size_t len, sl_event_t *ev, char *errstr, size_t errstr_size);

#endif
