/*
 * The codec: encodes with Avro C's generic value API (the writer side needs no resolution), and
 * decodes with the tolerant reader in decode.c, keeping one resolved writer schema per id.
 */
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "event_int.h"

typedef struct {
        int32_t id;
        sl_aschema_t *schema;
} sl_writer_t;

struct sl_codec_s {
        int32_t writer_id;
        sl_reader_t reader;

        /* Encoding with Avro C; the value and writer are reused across records. */
        avro_schema_t avro_schema;
        avro_value_iface_t *iface;
        avro_value_t value;
        avro_writer_t avro_writer;
        int kind_index[SL_KIND__CNT];
        int status_index[SL_STATUS__CNT];
        int source_index[SL_SOURCE__CNT];

        /* Known writer schemas, by id. */
        sl_writer_t *writers;
        size_t writer_cnt;
        sl_schema_fetch_cb_t *fetch_cb;
        void *fetch_opaque;
};

static sl_err_t avro_fail(char *errstr, size_t errstr_size, const char *what)
{
        return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA, "%s: %s", what, avro_strerror());
}

/* Maps C enum values to the Avro symbol indexes of the schema the codec writes with. */
static sl_err_t map_enum(avro_schema_t record, const char *field, const char *(*name)(int), int cnt,
                         int *index, char *errstr, size_t errstr_size)
{
        avro_schema_t e = avro_schema_record_field_get(record, field);

        if (!e || !is_avro_enum(e))
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA, "field %s is not an enum",
                                 field);
        for (int i = 0; i < cnt; i++) {
                index[i] = avro_schema_enum_get_by_name(e, name(i));
                if (index[i] < 0)
                        return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                         "enum %s lacks symbol %s", field, name(i));
        }
        return SL_OK;
}

static const char *kind_name(int i)
{
        return sl_event_kind_name((sl_event_kind_t)i);
}
static const char *status_name(int i)
{
        return sl_node_status_name((sl_node_status_t)i);
}
static const char *source_name(int i)
{
        return sl_source_name((sl_source_t)i);
}

sl_codec_t *sl_codec_new(int32_t writer_id, char *errstr, size_t errstr_size)
{
        return sl_codec_new_reader(writer_id, NULL, errstr, errstr_size);
}

sl_codec_t *sl_codec_new_reader(int32_t writer_id, const char *reader_text, char *errstr,
                                size_t errstr_size)
{
        sl_codec_t *c;
        const char *text = sl_event_schema_text();

        if (writer_id < 1) {
                sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                          "schema id must be 1..2147483647, not %d", writer_id);
                return NULL;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        c->writer_id = writer_id;
        if (sl_reader_load(&c->reader, reader_text, errstr, errstr_size))
                goto fail;
        if (avro_schema_from_json_length(text, strlen(text), &c->avro_schema)) {
                avro_fail(errstr, errstr_size, "Avro C rejected the event schema");
                goto fail;
        }
        c->iface = avro_generic_class_from_schema(c->avro_schema);
        if (!c->iface || avro_generic_value_new(c->iface, &c->value)) {
                avro_fail(errstr, errstr_size, "cannot create an Avro value");
                goto fail;
        }
        c->avro_writer = avro_writer_memory(NULL, 0);
        if (!c->avro_writer) {
                avro_fail(errstr, errstr_size, "cannot create an Avro writer");
                goto fail;
        }
        if (map_enum(c->avro_schema, "kind", kind_name, SL_KIND__CNT, c->kind_index, errstr,
                     errstr_size) ||
            map_enum(c->avro_schema, "status", status_name, SL_STATUS__CNT, c->status_index, errstr,
                     errstr_size) ||
            map_enum(c->avro_schema, "source", source_name, SL_SOURCE__CNT, c->source_index, errstr,
                     errstr_size))
                goto fail;
        if (sl_codec_add_schema(c, writer_id, text, errstr, errstr_size))
                goto fail;
        return c;

fail:
        sl_codec_destroy(c);
        return NULL;
}

void sl_codec_destroy(sl_codec_t *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->writer_cnt; i++)
                sl_aschema_destroy(c->writers[i].schema);
        free(c->writers);
        if (c->avro_writer)
                avro_writer_free(c->avro_writer);
        if (c->iface) {
                if (c->value.self)
                        avro_value_decref(&c->value);
                avro_value_iface_decref(c->iface);
        }
        if (c->avro_schema)
                avro_schema_decref(c->avro_schema);
        sl_reader_clear(&c->reader);
        free(c);
}

int32_t sl_codec_writer_id(const sl_codec_t *c)
{
        return c->writer_id;
}

void sl_codec_set_fetch_cb(sl_codec_t *c, sl_schema_fetch_cb_t *cb, void *opaque)
{
        c->fetch_cb = cb;
        c->fetch_opaque = opaque;
}

void sl_codec_forget_schema(sl_codec_t *c, int32_t schema_id)
{
        for (size_t i = 0; i < c->writer_cnt; i++)
                if (c->writers[i].id == schema_id) {
                        sl_aschema_destroy(c->writers[i].schema);
                        c->writers[i] = c->writers[--c->writer_cnt];
                        return;
                }
}

sl_err_t sl_codec_add_schema(sl_codec_t *c, int32_t schema_id, const char *text, char *errstr,
                             size_t errstr_size)
{
        sl_aschema_t *schema;
        sl_err_t err;
        char msg[400];

        if (schema_id < 1)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "schema id must be 1..2147483647, not %d", schema_id);
        if ((err = sl_aschema_new(text, &c->reader, &schema, msg, sizeof(msg))))
                return sl_seterr(errstr, errstr_size, err, "schema id %d: %s", schema_id, msg);
        for (size_t i = 0; i < c->writer_cnt; i++) {
                if (c->writers[i].id == schema_id) {
                        sl_aschema_destroy(c->writers[i].schema);
                        c->writers[i].schema = schema;
                        return SL_OK;
                }
        }
        sl_writer_t *w = realloc(c->writers, (c->writer_cnt + 1) * sizeof(*w));
        if (!w) {
                sl_aschema_destroy(schema);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        c->writers = w;
        c->writers[c->writer_cnt].id = schema_id;
        c->writers[c->writer_cnt].schema = schema;
        c->writer_cnt++;
        return SL_OK;
}

sl_err_t sl_wire_schema_id(const void *data, size_t len, int32_t *schema_idp)
{
        const uint8_t *p = data;

        if (len < SL_WIRE_HEADER_SIZE)
                return p && len > 0 && p[0] != 0 ? SL_ERR_BAD_MAGIC : SL_ERR_TRUNCATED;
        if (p[0] != 0)
                return SL_ERR_BAD_MAGIC;
        *schema_idp = (int32_t)(((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) |
                                ((uint32_t)p[3] << 8) | (uint32_t)p[4]);
        return SL_OK;
}

static const sl_aschema_t *find_writer(sl_codec_t *c, int32_t id, char *errstr, size_t errstr_size,
                                       sl_err_t *errp)
{
        char *text = NULL;
        sl_err_t err;

        for (size_t i = 0; i < c->writer_cnt; i++)
                if (c->writers[i].id == id)
                        return c->writers[i].schema;
        if (!c->fetch_cb || id < 1) {
                *errp = sl_seterr(errstr, errstr_size, SL_ERR_UNKNOWN_SCHEMA,
                                  "no writer schema known for schema id %d", id);
                return NULL;
        }
        err = c->fetch_cb(id, &text, c->fetch_opaque, errstr, errstr_size);
        if (!err)
                err = sl_codec_add_schema(c, id, text, errstr, errstr_size);
        free(text);
        if (err) {
                *errp = err;
                return NULL;
        }
        return c->writers[c->writer_cnt - 1].schema;
}

sl_err_t sl_codec_decode(sl_codec_t *c, const void *data, size_t len, sl_event_t *ev, char *errstr,
                         size_t errstr_size)
{
        int32_t id;
        sl_err_t err;
        const sl_aschema_t *writer;

        sl_event_reset(ev);
        if (!data && len)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "no data");
        if ((err = sl_wire_schema_id(data, len, &id))) {
                if (err == SL_ERR_BAD_MAGIC)
                        return sl_seterr(errstr, errstr_size, err,
                                         "first byte is 0x%02x, not the wire-format magic 0x00",
                                         ((const uint8_t *)data)[0]);
                return sl_seterr(errstr, errstr_size, err,
                                 "record of %zu bytes is shorter than the 5-byte header", len);
        }
        writer = find_writer(c, id, errstr, errstr_size, &err);
        if (!writer)
                return err;
        err = sl_avro_decode(writer, &c->reader, (const uint8_t *)data + SL_WIRE_HEADER_SIZE,
                             len - SL_WIRE_HEADER_SIZE, ev, errstr, errstr_size);
        if (err)
                sl_event_reset(ev);
        return err;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding */

#define CHECK(expr)                                                                                \
        do {                                                                                       \
                if ((expr))                                                                        \
                        goto avro_error;                                                           \
        } while (0)

static int set_str(avro_value_t *rec, const char *name, const char *s)
{
        avro_value_t f;

        if (avro_value_get_by_name(rec, name, &f, NULL))
                return -1;
        return avro_value_set_string_len(&f, s, strlen(s) + 1);
}

static int set_long(avro_value_t *rec, const char *name, int64_t v)
{
        avro_value_t f;

        if (avro_value_get_by_name(rec, name, &f, NULL))
                return -1;
        return avro_value_set_long(&f, v);
}

static int set_double(avro_value_t *rec, const char *name, double v)
{
        avro_value_t f;

        if (avro_value_get_by_name(rec, name, &f, NULL))
                return -1;
        return avro_value_set_double(&f, v);
}

static int set_enum(avro_value_t *rec, const char *name, int index)
{
        avro_value_t f;

        if (avro_value_get_by_name(rec, name, &f, NULL))
                return -1;
        return avro_value_set_enum(&f, index);
}

static int set_string_map(avro_value_t *rec, const char *name, const sl_kv_t *kvs, size_t cnt)
{
        avro_value_t map, v;

        if (avro_value_get_by_name(rec, name, &map, NULL))
                return -1;
        for (size_t i = 0; i < cnt; i++)
                if (avro_value_add(&map, kvs[i].key, &v, NULL, NULL) ||
                    avro_value_set_string_len(&v, kvs[i].value, strlen(kvs[i].value) + 1))
                        return -1;
        return 0;
}

static void put_header(const sl_codec_t *c, uint8_t *p)
{
        p[0] = 0;
        p[1] = (uint8_t)((uint32_t)c->writer_id >> 24);
        p[2] = (uint8_t)((uint32_t)c->writer_id >> 16);
        p[3] = (uint8_t)((uint32_t)c->writer_id >> 8);
        p[4] = (uint8_t)c->writer_id;
}

sl_err_t sl_codec_encode_reference(sl_codec_t *c, const sl_event_t *ev, sl_buf_t *out, char *errstr,
                                   size_t errstr_size)
{
        avro_value_t *rec = &c->value;
        avro_value_t f, item, branch, usage;
        size_t size;
        sl_err_t err;

        if ((err = sl_event_validate(ev, errstr, errstr_size)))
                return err;
        avro_value_reset(rec);
        CHECK(set_str(rec, "event_id", ev->event_id));
        CHECK(set_str(rec, "node_id", ev->node_id));
        CHECK(set_str(rec, "node_type", ev->node_type));
        CHECK(set_str(rec, "region", ev->region));
        CHECK(set_str(rec, "cluster", ev->cluster));
        CHECK(set_long(rec, "incarnation", ev->incarnation));
        CHECK(set_long(rec, "seq", ev->seq));
        CHECK(set_long(rec, "event_time", ev->event_time_ms));
        CHECK(set_enum(rec, "kind", c->kind_index[ev->kind]));
        CHECK(set_enum(rec, "status", c->status_index[ev->status]));
        CHECK(set_str(rec, "hostname", ev->hostname));
        CHECK(avro_value_get_by_name(rec, "addresses", &f, NULL));
        for (size_t i = 0; i < ev->address_cnt; i++) {
                CHECK(avro_value_append(&f, &item, NULL));
                CHECK(avro_value_set_string_len(&item, ev->addresses[i],
                                                strlen(ev->addresses[i]) + 1));
        }
        CHECK(avro_value_get_by_name(rec, "services", &f, NULL));
        for (size_t i = 0; i < ev->service_cnt; i++) {
                CHECK(avro_value_append(&f, &item, NULL));
                CHECK(set_str(&item, "name", ev->services[i].name));
                CHECK(
                    set_string_map(&item, "meta", ev->services[i].meta, ev->services[i].meta_cnt));
        }
        CHECK(avro_value_get_by_name(rec, "usage", &f, NULL));
        if (!ev->has_usage) {
                CHECK(avro_value_set_branch(&f, 0, &branch));
                CHECK(avro_value_set_null(&branch));
        } else {
                const sl_usage_t *u = &ev->usage;
                avro_value_t sensors, v;
                CHECK(avro_value_set_branch(&f, 1, &usage));
                CHECK(set_double(&usage, "cpu_percent", u->cpu_percent));
                CHECK(avro_value_get_by_name(&usage, "cpu_count", &v, NULL));
                CHECK(avro_value_set_int(&v, u->cpu_count));
                CHECK(set_double(&usage, "load1", u->load1));
                CHECK(set_double(&usage, "load5", u->load5));
                CHECK(set_double(&usage, "load15", u->load15));
                CHECK(set_long(&usage, "mem_total", u->mem_total));
                CHECK(set_long(&usage, "mem_used", u->mem_used));
                CHECK(set_long(&usage, "mem_available", u->mem_available));
                CHECK(set_long(&usage, "disk_total", u->disk_total));
                CHECK(set_long(&usage, "disk_used", u->disk_used));
                CHECK(avro_value_get_by_name(&usage, "sensors", &sensors, NULL));
                for (size_t i = 0; i < u->sensor_cnt; i++) {
                        CHECK(avro_value_add(&sensors, u->sensors[i].name, &v, NULL, NULL));
                        CHECK(avro_value_set_double(&v, u->sensors[i].value));
                }
        }
        CHECK(set_string_map(rec, "labels", ev->labels, ev->label_cnt));
        CHECK(set_str(rec, "agent_version", ev->agent_version));
        CHECK(set_enum(rec, "source", c->source_index[ev->source]));
        CHECK(avro_value_get_by_name(rec, "geo", &f, NULL));
        if (!ev->has_geo) {
                CHECK(avro_value_set_branch(&f, 0, &branch));
                CHECK(avro_value_set_null(&branch));
        } else {
                avro_value_t geo;
                CHECK(avro_value_set_branch(&f, 1, &geo));
                CHECK(set_double(&geo, "latitude", ev->geo.latitude));
                CHECK(set_double(&geo, "longitude", ev->geo.longitude));
                CHECK(set_str(&geo, "site", ev->geo.site));
        }
        CHECK(avro_value_get_by_name(rec, "capacity", &f, NULL));
        if (!ev->has_capacity) {
                CHECK(avro_value_set_branch(&f, 0, &branch));
                CHECK(avro_value_set_null(&branch));
        } else {
                avro_value_t cap, v;
                CHECK(avro_value_set_branch(&f, 1, &cap));
                CHECK(avro_value_get_by_name(&cap, "cpu_cores", &v, NULL));
                CHECK(avro_value_set_int(&v, ev->capacity.cpu_cores));
                CHECK(set_long(&cap, "memory_bytes", ev->capacity.memory_bytes));
                CHECK(set_long(&cap, "disk_bytes", ev->capacity.disk_bytes));
                CHECK(avro_value_get_by_name(&cap, "max_tasks", &v, NULL));
                CHECK(avro_value_set_int(&v, ev->capacity.max_tasks));
        }

        CHECK(avro_value_sizeof(rec, &size));
        if (out->cap < size + SL_WIRE_HEADER_SIZE) {
                size_t cap = (size + SL_WIRE_HEADER_SIZE) * 2;
                uint8_t *p = realloc(out->data, cap);
                if (!p)
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                out->data = p;
                out->cap = cap;
        }
        put_header(c, out->data);
        avro_writer_memory_set_dest(c->avro_writer, (char *)out->data + SL_WIRE_HEADER_SIZE,
                                    (int64_t)size);
        CHECK(avro_value_write(c->avro_writer, rec));
        out->len = size + SL_WIRE_HEADER_SIZE;
        return SL_OK;

avro_error:
        out->len = 0;
        return avro_fail(errstr, errstr_size, "Avro C could not encode the event");
}

/* ---------------------------------------------------------------------------------------- */
/*
 * The encoder of the hot path: the same bytes as sl_codec_encode_reference() (Avro C), written
 * directly. Avro C's generic values cost more than everything else a producer does per event;
 * test_event checks byte identity with the reference on many events, so a schema change that
 * this code misses fails there.
 */

typedef struct {
        uint8_t *p, *end;
        sl_buf_t *buf;
} wr_t;

/* Grows the buffer for @p n more bytes: the slow path of wr_room(), apart so it stays inline. */
static __attribute__((noinline)) int wr_grow(wr_t *w, size_t n)
{
        size_t used = (size_t)(w->p - w->buf->data);

        if (sl_buf_reserve(w->buf, used + n))
                return -1;
        w->p = w->buf->data + used;
        w->end = w->buf->data + w->buf->cap;
        return 0;
}

/* Makes room for @p n more bytes. */
static inline int wr_room(wr_t *w, size_t n)
{
        if (__builtin_expect((size_t)(w->end - w->p) >= n, 1))
                return 0;
        return wr_grow(w, n);
}

static inline int wr_long(wr_t *w, int64_t v)
{
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        if (wr_room(w, 10))
                return -1;
        while (u > 0x7f) {
                *w->p++ = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        *w->p++ = (uint8_t)u;
        return 0;
}

/* Writes a string, checking it as sl_event_validate() does (not NULL, valid UTF-8). */
static inline int wr_str(wr_t *w, const char *s)
{
        size_t len;

        if (!s || !sl_utf8_valid(s, len = strlen(s)))
                return -1;
        if (wr_long(w, (int64_t)len) || wr_room(w, len))
                return -1;
        memcpy(w->p, s, len);
        w->p += len;
        return 0;
}

static inline int wr_double(wr_t *w, double d)
{
        uint64_t bits;

        if (wr_room(w, 8))
                return -1;
        memcpy(&bits, &d, sizeof(bits));
        for (int i = 0; i < 8; i++)
                *w->p++ = (uint8_t)(bits >> (8 * i));
        return 0;
}

/* A map<string>: one block with every entry, then the empty block that ends it. */
static int wr_kvs(wr_t *w, const sl_kv_t *kvs, size_t cnt)
{
        if (cnt && wr_long(w, (int64_t)cnt))
                return -1;
        for (size_t i = 0; i < cnt; i++) {
                if (wr_str(w, kvs[i].key) || wr_str(w, kvs[i].value))
                        return -1;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(kvs[i].key, kvs[j].key))
                                return -1;
        }
        return wr_long(w, 0);
}

static int wr_event(const sl_codec_t *c, wr_t *w, const sl_event_t *ev)
{
        const sl_usage_t *u = &ev->usage;

        if (wr_str(w, ev->event_id) || wr_str(w, ev->node_id) || wr_str(w, ev->node_type) ||
            wr_str(w, ev->region) || wr_str(w, ev->cluster) || wr_long(w, ev->incarnation) ||
            wr_long(w, ev->seq) || wr_long(w, ev->event_time_ms) ||
            wr_long(w, c->kind_index[ev->kind]) || wr_long(w, c->status_index[ev->status]) ||
            wr_str(w, ev->hostname))
                return -1;
        if (ev->address_cnt && wr_long(w, (int64_t)ev->address_cnt))
                return -1;
        for (size_t i = 0; i < ev->address_cnt; i++)
                if (wr_str(w, ev->addresses[i]))
                        return -1;
        if (wr_long(w, 0))
                return -1;
        if (ev->service_cnt && wr_long(w, (int64_t)ev->service_cnt))
                return -1;
        for (size_t i = 0; i < ev->service_cnt; i++)
                if (wr_str(w, ev->services[i].name) ||
                    wr_kvs(w, ev->services[i].meta, ev->services[i].meta_cnt))
                        return -1;
        if (wr_long(w, 0) || wr_long(w, ev->has_usage ? 1 : 0))
                return -1;
        if (ev->has_usage) {
                if (wr_double(w, u->cpu_percent) || wr_long(w, u->cpu_count) ||
                    wr_double(w, u->load1) || wr_double(w, u->load5) || wr_double(w, u->load15) ||
                    wr_long(w, u->mem_total) || wr_long(w, u->mem_used) ||
                    wr_long(w, u->mem_available) || wr_long(w, u->disk_total) ||
                    wr_long(w, u->disk_used))
                        return -1;
                if (u->sensor_cnt && wr_long(w, (int64_t)u->sensor_cnt))
                        return -1;
                for (size_t i = 0; i < u->sensor_cnt; i++) {
                        if (wr_str(w, u->sensors[i].name) || wr_double(w, u->sensors[i].value))
                                return -1;
                        for (size_t j = 0; j < i; j++)
                                if (!strcmp(u->sensors[i].name, u->sensors[j].name))
                                        return -1;
                }
                if (wr_long(w, 0))
                        return -1;
        }
        if (wr_kvs(w, ev->labels, ev->label_cnt) || wr_str(w, ev->agent_version) ||
            wr_long(w, c->source_index[ev->source]))
                return -1;
        /* Version 2: geo and capacity, each a union of null and a record. */
        if (wr_long(w, ev->has_geo ? 1 : 0) ||
            (ev->has_geo && (wr_double(w, ev->geo.latitude) || wr_double(w, ev->geo.longitude) ||
                             wr_str(w, ev->geo.site))))
                return -1;
        if (wr_long(w, ev->has_capacity ? 1 : 0) ||
            (ev->has_capacity &&
             (wr_long(w, ev->capacity.cpu_cores) || wr_long(w, ev->capacity.memory_bytes) ||
              wr_long(w, ev->capacity.disk_bytes) || wr_long(w, ev->capacity.max_tasks))))
                return -1;
        return 0;
}

/*
 * What sl_event_validate() checks besides the strings, which the writer checks as it goes (NULL,
 * UTF-8, duplicate keys): one pass over each string instead of two on the hot path. The limits
 * measure the map strings once more (few and short).
 */
static int enc_precheck(const sl_event_t *ev)
{
        return ev->event_id && *ev->event_id && ev->node_id && *ev->node_id && ev->node_type &&
               *ev->node_type && ev->region && *ev->region && ev->incarnation > 0 && ev->seq >= 0 &&
               (unsigned)ev->kind < SL_KIND__CNT && (unsigned)ev->status < SL_STATUS__CNT &&
               (unsigned)ev->source < SL_SOURCE__CNT &&
               (!ev->has_geo || (ev->geo.latitude >= -90 && ev->geo.latitude <= 90 &&
                                 ev->geo.longitude >= -180 && ev->geo.longitude <= 180)) &&
               (!ev->has_capacity ||
                (ev->capacity.cpu_cores >= 0 && ev->capacity.memory_bytes >= 0 &&
                 ev->capacity.disk_bytes >= 0 && ev->capacity.max_tasks >= 0)) &&
               sl_event_check_limits(ev, NULL, 0) == SL_OK;
}

sl_err_t sl_codec_encode(sl_codec_t *c, const sl_event_t *ev, sl_buf_t *out, char *errstr,
                         size_t errstr_size)
{
        wr_t w = {out->data, out->data + out->cap, out};
        sl_err_t err;

        out->len = 0;
        if (!enc_precheck(ev))
                goto invalid;
        if (wr_room(&w, SL_WIRE_HEADER_SIZE))
                goto nomem;
        put_header(c, w.p);
        w.p += SL_WIRE_HEADER_SIZE;
        if (wr_event(c, &w, ev))
                goto invalid;
        out->len = (size_t)(w.p - out->data);
        return SL_OK;

invalid:
        /* The slow path names what is wrong; if nothing is, the writer ran out of memory. */
        out->len = 0;
        if ((err = sl_event_validate(ev, errstr, errstr_size)))
                return err;
nomem:
        out->len = 0;
        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
}
