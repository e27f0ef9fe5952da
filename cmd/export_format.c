/* The row writers of seerlog export (export_format.h). */
#include "export_format.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "sl_fs.h"

/* The codec's id for its own schema: only its encoder is used (the id is stripped). */
#define SL_EXPORT_CODEC_ID 1

/* Avro blocks: at most this many records or bytes (uncompressed), a few MiB of reader memory. */
#define SL_EXPORT_BLOCK_RECORDS 4096
#define SL_EXPORT_BLOCK_BYTES   (1 << 20)

/* JSON lines and CSV are written out in chunks of about this size. */
#define SL_EXPORT_CHUNK (1 << 20)

struct sl_export_writer_s {
        sl_export_format_t fmt;
        int state;
        int fd;
        sl_codec_t *codec;    /* Avro: encodes the event bodies */
        sl_ocf_writer_t *ocf; /* Avro */
        sl_buf_t enc;         /* Avro: one event in the wire format */
        sl_buf_t out;         /* JSON lines, CSV: what is not written yet */
        sl_buf_t scratch;     /* CSV: one JSON-valued column before quoting */
        int64_t rows, bytes;
};

static const char sl_export_csv_events[] =
    "topic,partition,offset,timestamp,timestamp_iso,"
    "event_id,node_id,node_type,region,cluster,incarnation,seq,event_time_ms,kind,status,"
    "hostname,addresses,services,cpu_percent,cpu_count,load1,load5,load15,mem_total,mem_used,"
    "mem_available,disk_total,disk_used,sensors,labels,agent_version,source,"
    "geo_latitude,geo_longitude,geo_site,capacity_cpu_cores,capacity_memory_bytes,"
    "capacity_disk_bytes,capacity_max_tasks";
static const char sl_export_csv_state[] =
    "source_topic,source_partition,source_offset,"
    "event_id,node_id,node_type,region,cluster,incarnation,seq,event_time_ms,kind,status,"
    "hostname,addresses,services,cpu_percent,cpu_count,load1,load5,load15,mem_total,mem_used,"
    "mem_available,disk_total,disk_used,sensors,labels,agent_version,source,"
    "geo_latitude,geo_longitude,geo_site,capacity_cpu_cores,capacity_memory_bytes,"
    "capacity_disk_bytes,capacity_max_tasks";

const char *sl_export_csv_header(int state)
{
        return state ? sl_export_csv_state : sl_export_csv_events;
}

sl_err_t sl_export_format_parse(const char *name, sl_export_format_t *fmtp)
{
        if (!strcmp(name, "avro"))
                *fmtp = SL_EXPORT_AVRO;
        else if (!strcmp(name, "jsonl"))
                *fmtp = SL_EXPORT_JSONL;
        else if (!strcmp(name, "csv"))
                *fmtp = SL_EXPORT_CSV;
        else
                return SL_ERR_INVALID_ARG;
        return SL_OK;
}

/* ---- the Avro schema of exported events ---- */

char *sl_export_events_schema(size_t flags, char *errstr, size_t errstr_size)
{
        static const char *const prefix =
            "["
            "{\"name\":\"topic\",\"type\":\"string\","
            "\"doc\":\"Kafka topic the record was read from.\"},"
            "{\"name\":\"partition\",\"type\":\"int\","
            "\"doc\":\"Partition of the topic.\"},"
            "{\"name\":\"offset\",\"type\":\"long\","
            "\"doc\":\"Offset of the record in its partition.\"},"
            "{\"name\":\"timestamp\",\"type\":{\"type\":\"long\","
            "\"logicalType\":\"timestamp-millis\"},"
            "\"doc\":\"The record's Kafka timestamp (the producer's CreateTime unless the topic "
            "uses LogAppendTime), ms since the epoch; -1 when the record has none.\"}"
            "]";
        json_error_t jerr;
        json_t *ev = json_loads(sl_event_schema_text(), 0, &jerr), *fields = NULL, *out = NULL;
        json_t *evfields, *f;
        char *text = NULL;
        size_t i;

        if (!ev || !(fields = json_loads(prefix, 0, &jerr))) {
                sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA, "export schema: %s", jerr.text);
                goto done;
        }
        evfields = json_object_get(ev, "fields");
        if (!json_is_array(evfields)) {
                sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA, "NodeStateEvent has no fields");
                goto done;
        }
        json_array_foreach(evfields, i, f)
        {
                const char *name = json_string_value(json_object_get(f, "name"));
                size_t j;
                json_t *p;

                json_array_foreach(fields, j, p)
                {
                        if (name && !strcmp(name, json_string_value(json_object_get(p, "name")))) {
                                sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                          "NodeStateEvent has a field named %s, as the export's "
                                          "Kafka coordinates",
                                          name);
                                goto done;
                        }
                }
                if (json_array_append(fields, f))
                        goto nomem;
        }
        /* Same namespace as NodeStateEvent, so its named types (EventKind, Service, Usage, ...)
         * keep their full names. */
        if (!(out = json_pack("{s:s, s:s, s:s, s:s, s:O}", "type", "record", "name",
                              "ExportedEvent", "namespace", "seerlog", "doc",
                              "One record of a seerlog state topic, exported by 'seerlog export': "
                              "its Kafka coordinates, then the NodeStateEvent it holds.",
                              "fields", fields)) ||
            !(text = json_dumps(out, flags)))
                goto nomem;
        goto done;
nomem:
        sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
done:
        json_decref(out);
        json_decref(fields);
        json_decref(ev);
        return text;
}

/* ---- buffered output (JSON lines, CSV) ---- */

static sl_err_t sl_export_write_out(sl_export_writer_t *w, char *errstr, size_t errstr_size)
{
        sl_err_t err = sl_write_all(w->fd, w->out.data, w->out.len, &w->bytes, errstr, errstr_size);

        w->out.len = 0;
        return err;
}

static int sl_puts(sl_buf_t *b, const char *s)
{
        return sl_buf_append(b, s, strlen(s));
}

static int sl_put_i64(sl_buf_t *b, int64_t v)
{
        char tmp[24];
        int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

        return sl_buf_append(b, tmp, (size_t)n);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double. */
static int sl_put_double(sl_buf_t *b, double v)
{
        char tmp[40];
        int n = 0;

        for (int prec = 15; prec <= 17; prec++) {
                n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
                if (!isfinite(v) || strtod(tmp, NULL) == v)
                        break;
        }
        return sl_buf_append(b, tmp, (size_t)n);
}

/* ms since the epoch as 2024-05-01T12:00:00.123Z. */
static int sl_put_iso(sl_buf_t *b, int64_t ms)
{
        int64_t secs = ms / 1000, frac = ms % 1000;
        time_t t;
        struct tm tm;
        char tmp[64];
        int n;

        if (frac < 0) {
                frac += 1000;
                secs--;
        }
        t = (time_t)secs;
        if (!gmtime_r(&t, &tm))
                return 0; /* out of range: left empty */
        n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        return sl_buf_append(b, tmp, (size_t)n);
}

/*
 * JSON written directly, byte for byte as jansson's JSON_COMPACT writes sl_event_to_json()'s
 * object (what `seerlog tail` prints), at a fraction of the cost of building the object: strings
 * escaped as jansson does (", \, control characters; UTF-8 as it is), integers in decimal,
 * doubles as jansson's %.17g with ".0" added to integral values and exponents trimmed, NaN and
 * infinities as null.
 */
static int sl_json_str(sl_buf_t *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        const char *run = s;

        if (sl_buf_append(b, "\"", 1))
                return -1;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                char esc[7] = {'\\', 0};
                size_t n = 2;

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                if (sl_buf_append(b, run, (size_t)(s - run)))
                        return -1;
                run = s + 1;
                switch (c) {
                case '"':
                case '\\':
                        esc[1] = (char)c;
                        break;
                case '\b':
                        esc[1] = 'b';
                        break;
                case '\f':
                        esc[1] = 'f';
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        n = 6;
                }
                if (sl_buf_append(b, esc, n))
                        return -1;
        }
        return sl_buf_append(b, run, (size_t)(s - run)) || sl_buf_append(b, "\"", 1) ? -1 : 0;
}

/* "KEY": */
static int sl_json_key(sl_buf_t *b, const char *key)
{
        return sl_json_str(b, key) || sl_buf_append(b, ":", 1) ? -1 : 0;
}

/* jansson's jsonp_dtostr() with precision 17. */
static int sl_json_real(sl_buf_t *b, double v)
{
        char tmp[48], *e;
        int n;

        if (!isfinite(v))
                return sl_puts(b, "null");
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
        if (n < 0 || (size_t)n >= sizeof(tmp) - 3)
                return -1;
        if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
                memcpy(tmp + n, ".0", 3);
                n += 2;
        }
        if ((e = strchr(tmp, 'e'))) {
                char *start = e + 1, *end = e + 2;

                if (*start == '-')
                        start++;
                while (*end == '0')
                        end++;
                if (end != start) {
                        memmove(start, end, (size_t)n - (size_t)(end - tmp) + 1);
                        n -= (int)(end - start);
                }
        }
        return sl_buf_append(b, tmp, (size_t)n);
}

static int sl_json_kvs(sl_buf_t *b, const sl_kv_t *kvs, size_t cnt)
{
        int bad = sl_buf_append(b, "{", 1);

        for (size_t i = 0; !bad && i < cnt; i++)
                bad = (i && sl_buf_append(b, ",", 1)) || sl_json_key(b, kvs[i].key) ||
                      sl_json_str(b, kvs[i].value);
        return bad || sl_buf_append(b, "}", 1) ? -1 : 0;
}

static int sl_json_addresses(sl_buf_t *b, const sl_event_t *ev)
{
        int bad = sl_buf_append(b, "[", 1);

        for (size_t i = 0; !bad && i < ev->address_cnt; i++)
                bad = (i && sl_buf_append(b, ",", 1)) || sl_json_str(b, ev->addresses[i]);
        return bad || sl_buf_append(b, "]", 1) ? -1 : 0;
}

static int sl_json_services(sl_buf_t *b, const sl_event_t *ev)
{
        int bad = sl_buf_append(b, "[", 1);

        for (size_t i = 0; !bad && i < ev->service_cnt; i++) {
                const sl_service_t *sv = &ev->services[i];

                bad = (i && sl_buf_append(b, ",", 1)) || sl_puts(b, "{\"name\":") ||
                      sl_json_str(b, sv->name) || sl_puts(b, ",\"meta\":") ||
                      sl_json_kvs(b, sv->meta, sv->meta_cnt) || sl_buf_append(b, "}", 1);
        }
        return bad || sl_buf_append(b, "]", 1) ? -1 : 0;
}

static int sl_json_sensors(sl_buf_t *b, const sl_usage_t *u)
{
        int bad = sl_buf_append(b, "{", 1);

        for (size_t i = 0; !bad && i < u->sensor_cnt; i++)
                bad = (i && sl_buf_append(b, ",", 1)) || sl_json_key(b, u->sensors[i].name) ||
                      sl_json_real(b, u->sensors[i].value);
        return bad || sl_buf_append(b, "}", 1) ? -1 : 0;
}

/* sl_event_to_json()'s members (without the braces), in its order. */
static int sl_json_event(sl_buf_t *b, const sl_event_t *ev)
{
        int bad = sl_json_key(b, "event_id") || sl_json_str(b, ev->event_id) ||
                  sl_puts(b, ",\"node_id\":") || sl_json_str(b, ev->node_id) ||
                  sl_puts(b, ",\"node_type\":") || sl_json_str(b, ev->node_type) ||
                  sl_puts(b, ",\"region\":") || sl_json_str(b, ev->region) ||
                  sl_puts(b, ",\"cluster\":") || sl_json_str(b, ev->cluster) ||
                  sl_puts(b, ",\"incarnation\":") || sl_put_i64(b, ev->incarnation) ||
                  sl_puts(b, ",\"seq\":") || sl_put_i64(b, ev->seq) ||
                  sl_puts(b, ",\"event_time\":") || sl_put_i64(b, ev->event_time_ms) ||
                  sl_puts(b, ",\"kind\":") || sl_json_str(b, sl_event_kind_name(ev->kind)) ||
                  sl_puts(b, ",\"status\":") || sl_json_str(b, sl_node_status_name(ev->status)) ||
                  sl_puts(b, ",\"hostname\":") || sl_json_str(b, ev->hostname) ||
                  sl_puts(b, ",\"addresses\":") || sl_json_addresses(b, ev) ||
                  sl_puts(b, ",\"services\":") || sl_json_services(b, ev) ||
                  sl_puts(b, ",\"usage\":");

        if (!bad && ev->has_usage) {
                const sl_usage_t *u = &ev->usage;

                bad = sl_puts(b, "{\"cpu_percent\":") || sl_json_real(b, u->cpu_percent) ||
                      sl_puts(b, ",\"cpu_count\":") || sl_put_i64(b, u->cpu_count) ||
                      sl_puts(b, ",\"load1\":") || sl_json_real(b, u->load1) ||
                      sl_puts(b, ",\"load5\":") || sl_json_real(b, u->load5) ||
                      sl_puts(b, ",\"load15\":") || sl_json_real(b, u->load15) ||
                      sl_puts(b, ",\"mem_total\":") || sl_put_i64(b, u->mem_total) ||
                      sl_puts(b, ",\"mem_used\":") || sl_put_i64(b, u->mem_used) ||
                      sl_puts(b, ",\"mem_available\":") || sl_put_i64(b, u->mem_available) ||
                      sl_puts(b, ",\"disk_total\":") || sl_put_i64(b, u->disk_total) ||
                      sl_puts(b, ",\"disk_used\":") || sl_put_i64(b, u->disk_used) ||
                      sl_puts(b, ",\"sensors\":") || sl_json_sensors(b, u) ||
                      sl_buf_append(b, "}", 1);
        } else if (!bad) {
                bad = sl_puts(b, "null");
        }
        bad = bad || sl_puts(b, ",\"labels\":") || sl_json_kvs(b, ev->labels, ev->label_cnt) ||
              sl_puts(b, ",\"agent_version\":") || sl_json_str(b, ev->agent_version) ||
              sl_puts(b, ",\"source\":") || sl_json_str(b, sl_source_name(ev->source)) ||
              sl_puts(b, ",\"geo\":");
        if (!bad && ev->has_geo)
                bad = sl_puts(b, "{\"latitude\":") || sl_json_real(b, ev->geo.latitude) ||
                      sl_puts(b, ",\"longitude\":") || sl_json_real(b, ev->geo.longitude) ||
                      sl_puts(b, ",\"site\":") || sl_json_str(b, ev->geo.site) ||
                      sl_buf_append(b, "}", 1);
        else if (!bad)
                bad = sl_puts(b, "null");
        bad = bad || sl_puts(b, ",\"capacity\":");
        if (!bad && ev->has_capacity)
                bad = sl_puts(b, "{\"cpu_cores\":") || sl_put_i64(b, ev->capacity.cpu_cores) ||
                      sl_puts(b, ",\"memory_bytes\":") ||
                      sl_put_i64(b, ev->capacity.memory_bytes) || sl_puts(b, ",\"disk_bytes\":") ||
                      sl_put_i64(b, ev->capacity.disk_bytes) || sl_puts(b, ",\"max_tasks\":") ||
                      sl_put_i64(b, ev->capacity.max_tasks) || sl_buf_append(b, "}", 1);
        else if (!bad)
                bad = sl_puts(b, "null");
        return bad ? -1 : 0;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or any control character (CR,
 * LF, tab, ...), starts or ends with a space, or is empty (so that an empty string differs from
 * a missing value, the unquoted empty field); quotes doubled. */
static int sl_put_csv_str(sl_buf_t *b, const char *s, size_t len)
{
        int quote = !len || s[0] == ' ' || s[len - 1] == ' ';
        const char *p = s, *q;

        for (size_t i = 0; !quote && i < len; i++)
                quote = s[i] == ',' || s[i] == '"' || (unsigned char)s[i] < 0x20;
        if (!quote)
                return sl_buf_append(b, s, len);
        if (sl_buf_append(b, "\"", 1))
                return -1;
        while ((q = memchr(p, '"', len - (size_t)(p - s)))) {
                if (sl_buf_append(b, p, (size_t)(q - p) + 1) || sl_buf_append(b, "\"", 1))
                        return -1;
                p = q + 1;
        }
        return sl_buf_append(b, p, len - (size_t)(p - s)) || sl_buf_append(b, "\"", 1) ? -1 : 0;
}

static int sl_put_csv(sl_buf_t *b, const char *s)
{
        return sl_put_csv_str(b, s, strlen(s));
}

/* A JSON-valued CSV column: @p call writes the value into the scratch buffer, which then
 * becomes one CSV field. */
#define SL_CSV_JSON(w, call)                                                                       \
        ((w)->scratch.len = 0,                                                                     \
         (call) || sl_buf_append(&(w)->scratch, "", 1) ||                                          \
             sl_put_csv_str(&(w)->out, (const char *)(w)->scratch.data, (w)->scratch.len - 1))

static int sl_export_csv_row(sl_export_writer_t *w, const sl_export_coord_t *c,
                             const sl_event_t *ev)
{
        sl_buf_t *b = &w->out;
        int bad = 0;

        if (!w->state) {
                bad |= sl_put_csv(b, c->topic) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, c->partition) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, c->offset) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, c->timestamp_ms) || sl_buf_append(b, ",", 1) ||
                       (c->timestamp_ms >= 0 && sl_put_iso(b, c->timestamp_ms));
        } else if (c && c->topic) {
                bad |= sl_put_csv(b, c->topic) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, c->partition) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, c->offset);
        } else {
                bad |= sl_puts(b, ",,");
        }
        bad |=
            sl_buf_append(b, ",", 1) || sl_put_csv(b, ev->event_id) || sl_buf_append(b, ",", 1) ||
            sl_put_csv(b, ev->node_id) || sl_buf_append(b, ",", 1) ||
            sl_put_csv(b, ev->node_type) || sl_buf_append(b, ",", 1) || sl_put_csv(b, ev->region) ||
            sl_buf_append(b, ",", 1) || sl_put_csv(b, ev->cluster) || sl_buf_append(b, ",", 1) ||
            sl_put_i64(b, ev->incarnation) || sl_buf_append(b, ",", 1) || sl_put_i64(b, ev->seq) ||
            sl_buf_append(b, ",", 1) || sl_put_i64(b, ev->event_time_ms) ||
            sl_buf_append(b, ",", 1) || sl_puts(b, sl_event_kind_name(ev->kind)) ||
            sl_buf_append(b, ",", 1) || sl_puts(b, sl_node_status_name(ev->status)) ||
            sl_buf_append(b, ",", 1) || sl_put_csv(b, ev->hostname) || sl_buf_append(b, ",", 1) ||
            SL_CSV_JSON(w, sl_json_addresses(&w->scratch, ev)) || sl_buf_append(b, ",", 1) ||
            SL_CSV_JSON(w, sl_json_services(&w->scratch, ev)) || sl_buf_append(b, ",", 1);
        if (ev->has_usage) {
                const sl_usage_t *u = &ev->usage;

                bad |= sl_put_double(b, u->cpu_percent) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->cpu_count) || sl_buf_append(b, ",", 1) ||
                       sl_put_double(b, u->load1) || sl_buf_append(b, ",", 1) ||
                       sl_put_double(b, u->load5) || sl_buf_append(b, ",", 1) ||
                       sl_put_double(b, u->load15) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->mem_total) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->mem_used) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->mem_available) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->disk_total) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, u->disk_used) || sl_buf_append(b, ",", 1) ||
                       SL_CSV_JSON(w, sl_json_sensors(&w->scratch, u)) || sl_buf_append(b, ",", 1);
        } else {
                bad |= sl_puts(b, ",,,,,,,,,,,"); /* the 11 usage columns, empty */
        }
        bad |= SL_CSV_JSON(w, sl_json_kvs(&w->scratch, ev->labels, ev->label_cnt)) ||
               sl_buf_append(b, ",", 1) || sl_put_csv(b, ev->agent_version) ||
               sl_buf_append(b, ",", 1) || sl_puts(b, sl_source_name(ev->source)) ||
               sl_buf_append(b, ",", 1);
        if (ev->has_geo)
                bad |= sl_put_double(b, ev->geo.latitude) || sl_buf_append(b, ",", 1) ||
                       sl_put_double(b, ev->geo.longitude) || sl_buf_append(b, ",", 1) ||
                       sl_put_csv(b, ev->geo.site) || sl_buf_append(b, ",", 1);
        else
                bad |= sl_puts(b, ",,,"); /* the 3 geo columns, empty */
        if (ev->has_capacity)
                bad |= sl_put_i64(b, ev->capacity.cpu_cores) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, ev->capacity.memory_bytes) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, ev->capacity.disk_bytes) || sl_buf_append(b, ",", 1) ||
                       sl_put_i64(b, ev->capacity.max_tasks);
        else
                bad |= sl_puts(b, ",,,"); /* the 4 capacity columns, empty */
        bad |= sl_buf_append(b, "\r\n", 2);
        return bad ? -1 : 0;
}

static int sl_export_jsonl_row(sl_export_writer_t *w, const sl_export_coord_t *c,
                               const sl_event_t *ev)
{
        sl_buf_t *b = &w->out;
        int bad;

        if (!w->state)
                bad = sl_puts(b, "{\"_topic\":") || sl_json_str(b, c->topic) ||
                      sl_puts(b, ",\"_partition\":") || sl_put_i64(b, c->partition) ||
                      sl_puts(b, ",\"_offset\":") || sl_put_i64(b, c->offset) ||
                      sl_puts(b, ",\"_timestamp\":") || sl_put_i64(b, c->timestamp_ms);
        else if (c && c->topic)
                bad = sl_puts(b, "{\"_source_topic\":") || sl_json_str(b, c->topic) ||
                      sl_puts(b, ",\"_source_partition\":") || sl_put_i64(b, c->partition) ||
                      sl_puts(b, ",\"_source_offset\":") || sl_put_i64(b, c->offset);
        else
                bad = sl_puts(b, "{\"_source_topic\":null,\"_source_partition\":null,"
                                 "\"_source_offset\":null");
        return bad || sl_buf_append(b, ",", 1) || sl_json_event(b, ev) || sl_puts(b, "}\n") ? -1
                                                                                            : 0;
}

/* Avro: the coordinates (events), then the event's body in the library's schema. */
static sl_err_t sl_export_avro_row(sl_export_writer_t *w, const sl_export_coord_t *c,
                                   const sl_event_t *ev, int *invalidp, char *errstr,
                                   size_t errstr_size)
{
        sl_buf_t *b = sl_ocf_block_buf(w->ocf);
        sl_err_t err;

        if ((err = sl_codec_encode(w->codec, ev, &w->enc, errstr, errstr_size))) {
                *invalidp = err != SL_ERR_NOMEM;
                return err;
        }
        if ((!w->state &&
             (sl_ocf_put_bytes(b, c->topic, strlen(c->topic)) || sl_ocf_put_long(b, c->partition) ||
              sl_ocf_put_long(b, c->offset) || sl_ocf_put_long(b, c->timestamp_ms))) ||
            sl_ocf_append(w->ocf, w->enc.data + SL_WIRE_HEADER_SIZE,
                          w->enc.len - SL_WIRE_HEADER_SIZE, errstr, errstr_size))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return sl_ocf_record_end(w->ocf, errstr, errstr_size);
}

sl_err_t sl_export_writer_row(sl_export_writer_t *w, const sl_export_coord_t *coord,
                              const sl_event_t *ev, int *invalidp, char *errstr, size_t errstr_size)
{
        sl_err_t err;
        int bad;

        *invalidp = 0;
        if (w->fmt == SL_EXPORT_AVRO) {
                if ((err = sl_export_avro_row(w, coord, ev, invalidp, errstr, errstr_size)))
                        return err;
                w->rows++;
                return SL_OK;
        }
        /* The encoder validates the Avro rows; the others are held to the same rule. */
        if ((err = sl_event_validate(ev, errstr, errstr_size))) {
                *invalidp = 1;
                return err;
        }
        bad = w->fmt == SL_EXPORT_CSV ? sl_export_csv_row(w, coord, ev)
                                      : sl_export_jsonl_row(w, coord, ev);
        if (bad)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        w->rows++;
        if (w->out.len >= SL_EXPORT_CHUNK)
                return sl_export_write_out(w, errstr, errstr_size);
        return SL_OK;
}

sl_err_t sl_export_writer_finish(sl_export_writer_t *w, char *errstr, size_t errstr_size)
{
        if (w->fmt == SL_EXPORT_AVRO)
                return sl_ocf_flush(w->ocf, errstr, errstr_size);
        return sl_export_write_out(w, errstr, errstr_size);
}

int64_t sl_export_writer_rows(const sl_export_writer_t *w)
{
        return w->rows;
}

int64_t sl_export_writer_bytes(const sl_export_writer_t *w)
{
        return w->ocf ? sl_ocf_bytes(w->ocf) : w->bytes;
}

void sl_export_writer_free(sl_export_writer_t *w)
{
        if (!w)
                return;
        sl_ocf_writer_free(w->ocf);
        sl_codec_destroy(w->codec);
        sl_buf_free(&w->enc);
        sl_buf_free(&w->out);
        sl_buf_free(&w->scratch);
        free(w);
}

sl_err_t sl_export_writer_new(sl_export_format_t fmt, int state, int fd, sl_ocf_codec_t codec,
                              const char *const *meta, sl_export_writer_t **wp, char *errstr,
                              size_t errstr_size)
{
        sl_export_writer_t *w = calloc(1, sizeof(*w));
        char *schema = NULL;
        sl_err_t err = SL_OK;

        *wp = NULL;
        if (!w)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        w->fmt = fmt;
        w->state = state;
        w->fd = fd;
        if (fmt == SL_EXPORT_AVRO) {
                if (!(w->codec = sl_codec_new(SL_EXPORT_CODEC_ID, errstr, errstr_size))) {
                        err = SL_ERR_SCHEMA;
                        goto done;
                }
                if (!state &&
                    !(schema = sl_export_events_schema(JSON_COMPACT, errstr, errstr_size))) {
                        err = SL_ERR_SCHEMA;
                        goto done;
                }
                err = sl_ocf_writer_new(fd, state ? sl_event_schema_text() : schema, codec, meta,
                                        SL_EXPORT_BLOCK_RECORDS, SL_EXPORT_BLOCK_BYTES, &w->ocf,
                                        errstr, errstr_size);
        } else if (fmt == SL_EXPORT_CSV) {
                if (sl_puts(&w->out, sl_export_csv_header(state)) ||
                    sl_buf_append(&w->out, "\r\n", 2))
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                else
                        err = sl_export_write_out(w, errstr, errstr_size);
        }
done:
        free(schema);
        if (err) {
                sl_export_writer_free(w);
                return err;
        }
        *wp = w;
        return SL_OK;
}
