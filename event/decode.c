/*
 * The tolerant reader: walks an Avro binary body with the writer's schema tree and fills the
 * reader's slots by name. Every read is bounds-checked; nothing here trusts a length, a count
 * or an index from the record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event_int.h"

#define SL_DECODE_MAX_DEPTH 64
/* Items that encode in zero bytes (e.g. null) cannot be bounded by the record size. */
#define SL_DECODE_MAX_EMPTY_ITEMS 65536

typedef struct {
        const uint8_t *start, *p, *end;
        sl_event_t *ev;
        const sl_reader_t *reader;
        const sl_aschema_t *plan;
        const char *field; /* the reader field being read, for messages */
        int depth;
        char *errstr;
        size_t errstr_size;
} dec_t;

__attribute__((format(printf, 3, 4))) static sl_err_t derr(dec_t *d, sl_err_t err, const char *fmt,
                                                           ...)
{
        va_list ap;
        char msg[200];

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Offsets count from the start of the wire record (the 5-byte header included). */
        return sl_seterr(d->errstr, d->errstr_size, err, "%s at byte %zu%s%s%s", msg,
                         (size_t)(d->p - d->start) + SL_WIRE_HEADER_SIZE,
                         d->field ? " (field \"" : "", d->field ? d->field : "",
                         d->field ? "\")" : "");
}

static sl_err_t rd_long(dec_t *d, int64_t *v)
{
        uint64_t u = 0;
        int shift = 0;

        for (;;) {
                if (d->p >= d->end)
                        return derr(d, SL_ERR_TRUNCATED, "record ends inside a varint");
                uint8_t b = *d->p++;
                if (shift == 63 && (b & 0x7e))
                        return derr(d, SL_ERR_BAD_VARINT, "varint overflows 64 bits");
                u |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        break;
                shift += 7;
                if (shift > 63)
                        return derr(d, SL_ERR_BAD_VARINT, "varint longer than 10 bytes");
        }
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return SL_OK;
}

static sl_err_t rd_int(dec_t *d, int64_t *v)
{
        sl_err_t err = rd_long(d, v);

        if (!err && (*v < INT32_MIN || *v > INT32_MAX))
                return derr(d, SL_ERR_BAD_VARINT, "int value %lld overflows 32 bits",
                            (long long)*v);
        return err;
}

/* A byte length: non-negative and no larger than what is left. */
static sl_err_t rd_len(dec_t *d, size_t *lenp)
{
        int64_t len;
        sl_err_t err = rd_long(d, &len);

        if (err)
                return err;
        if (len < 0)
                return derr(d, SL_ERR_BAD_LENGTH, "negative length %lld", (long long)len);
        if ((uint64_t)len > (uint64_t)(d->end - d->p)) {
                if ((uint64_t)len > (uint64_t)(d->end - d->start))
                        return derr(d, SL_ERR_BAD_LENGTH,
                                    "length %lld is larger than the whole record (%zu bytes)",
                                    (long long)len, (size_t)(d->end - d->start));
                return derr(d, SL_ERR_TRUNCATED, "length %lld but only %zu bytes left",
                            (long long)len, (size_t)(d->end - d->p));
        }
        *lenp = (size_t)len;
        return SL_OK;
}

static sl_err_t rd_fixed(dec_t *d, void *out, size_t n)
{
        if ((size_t)(d->end - d->p) < n)
                return derr(d, SL_ERR_TRUNCATED, "record ends inside a %zu-byte value", n);
        if (out)
                memcpy(out, d->p, n);
        d->p += n;
        return SL_OK;
}

/* The item count of the next array or map block; 0 ends the sequence. */
static sl_err_t rd_block(dec_t *d, const sl_snode_t *w, size_t *cntp)
{
        int64_t cnt, size;
        sl_err_t err = rd_long(d, &cnt);
        /* A map entry also carries its key (at least one byte). */
        size_t min = d->plan->min_size[w->items->id] + (w->type == SL_SN_MAP);
        size_t left;

        if (err)
                return err;
        if (cnt < 0) {
                /* A negative count is followed by the block's size in bytes. */
                if (cnt == INT64_MIN)
                        return derr(d, SL_ERR_BAD_LENGTH, "block count out of range");
                cnt = -cnt;
                if ((err = rd_long(d, &size)))
                        return err;
                if (size < 0 || (uint64_t)size > (uint64_t)(d->end - d->p))
                        return derr(d, SL_ERR_BAD_LENGTH, "bad block size %lld", (long long)size);
        }
        left = (size_t)(d->end - d->p);
        if ((min == 0 && cnt > SL_DECODE_MAX_EMPTY_ITEMS) ||
            (min > 0 && (uint64_t)cnt > left / min))
                return derr(d, SL_ERR_BAD_LENGTH,
                            "block of %lld items cannot fit in the %zu bytes left", (long long)cnt,
                            left);
        *cntp = (size_t)cnt;
        return SL_OK;
}

/* A string or bytes value, borrowed from the record. */
static sl_err_t rd_span(dec_t *d, const char **sp, size_t *lenp)
{
        sl_err_t err = rd_len(d, lenp);

        if (err)
                return err;
        *sp = (const char *)d->p;
        d->p += *lenp;
        return SL_OK;
}

/* Map keys are strings: UTF-8 without NUL. */
static sl_err_t rd_text(dec_t *d, const char **sp, size_t *lenp)
{
        const uint8_t *at = d->p;
        sl_err_t err = rd_span(d, sp, lenp);

        if (err)
                return err;
        if (!sl_utf8_valid(*sp, *lenp)) {
                d->p = at;
                return derr(d, SL_ERR_BAD_VALUE, "string is not valid UTF-8 or contains NUL");
        }
        return SL_OK;
}

/* Steps into the branch a union value takes, if @p w is a union. */
static sl_err_t rd_branch(dec_t *d, const sl_snode_t **wp)
{
        const sl_snode_t *w = *wp;
        int64_t idx;
        sl_err_t err;

        if (w->type != SL_SN_UNION)
                return SL_OK;
        if ((err = rd_long(d, &idx)))
                return err;
        if (idx < 0 || (uint64_t)idx >= w->branch_cnt)
                return derr(d, SL_ERR_BAD_ENUM, "union index %lld outside 0..%zu", (long long)idx,
                            w->branch_cnt - 1);
        if (!d->plan->branch_ok[w->id] || !d->plan->branch_ok[w->id][idx])
                return derr(d, SL_ERR_SCHEMA,
                            "writer wrote union branch %s, which this reader"
                            " cannot read",
                            sl_sntype_name(w->branches[idx]->type));
        *wp = w->branches[idx];
        return SL_OK;
}

static sl_err_t skip(dec_t *d, const sl_snode_t *w)
{
        int64_t v;
        size_t n;
        sl_err_t err = SL_OK;

        if (++d->depth > SL_DECODE_MAX_DEPTH) {
                d->depth--;
                return derr(d, SL_ERR_BAD_LENGTH, "values nest deeper than %d levels",
                            SL_DECODE_MAX_DEPTH);
        }
        switch (w->type) {
        case SL_SN_NULL:
                break;
        case SL_SN_BOOLEAN:
                err = rd_fixed(d, NULL, 1);
                break;
        case SL_SN_INT:
                err = rd_int(d, &v);
                break;
        case SL_SN_LONG:
                err = rd_long(d, &v);
                break;
        case SL_SN_FLOAT:
                err = rd_fixed(d, NULL, 4);
                break;
        case SL_SN_DOUBLE:
                err = rd_fixed(d, NULL, 8);
                break;
        case SL_SN_BYTES:
        case SL_SN_STRING:
                if (!(err = rd_len(d, &n)))
                        d->p += n;
                break;
        case SL_SN_FIXED:
                err = rd_fixed(d, NULL, w->size);
                break;
        case SL_SN_ENUM:
                if (!(err = rd_long(d, &v)) && (v < 0 || (uint64_t)v >= w->symbol_cnt))
                        err = derr(d, SL_ERR_BAD_ENUM, "enum index %lld outside 0..%zu",
                                   (long long)v, w->symbol_cnt - 1);
                break;
        case SL_SN_UNION:
                if (!(err = rd_long(d, &v))) {
                        if (v < 0 || (uint64_t)v >= w->branch_cnt)
                                err = derr(d, SL_ERR_BAD_ENUM, "union index %lld outside 0..%zu",
                                           (long long)v, w->branch_cnt - 1);
                        else
                                err = skip(d, w->branches[v]);
                }
                break;
        case SL_SN_RECORD:
                for (size_t i = 0; !err && i < w->field_cnt; i++)
                        err = skip(d, w->fields[i].type);
                break;
        case SL_SN_ARRAY:
        case SL_SN_MAP:
                for (;;) {
                        if ((err = rd_block(d, w, &n)) || n == 0)
                                break;
                        for (size_t i = 0; !err && i < n; i++) {
                                size_t klen;
                                if (w->type == SL_SN_MAP && !(err = rd_len(d, &klen)))
                                        d->p += klen;
                                if (!err)
                                        err = skip(d, w->items);
                        }
                        if (err)
                                break;
                }
                break;
        }
        d->depth--;
        return err;
}

static sl_err_t rd_string(dec_t *d, const sl_snode_t *w, const char **out)
{
        const char *s;
        size_t len;
        sl_err_t err = rd_branch(d, &w);

        if (err || (err = rd_text(d, &s, &len)))
                return err;
        if (len == 0) {
                *out = "";
                return SL_OK;
        }
        *out = sl_arena_strndup(d->ev->arena, s, len);
        return *out ? SL_OK : derr(d, SL_ERR_NOMEM, "out of memory");
}

/* Avro floats and doubles are little-endian IEEE 754, whatever the host. */
static sl_err_t rd_ieee(dec_t *d, size_t size, double *out)
{
        uint64_t bits = 0;
        sl_err_t err;

        if ((size_t)(d->end - d->p) < size)
                return derr(d, SL_ERR_TRUNCATED, "record ends inside a %zu-byte value", size);
        for (size_t i = 0; i < size; i++)
                bits |= (uint64_t)d->p[i] << (8 * i);
        d->p += size;
        err = SL_OK;
        if (size == 4) {
                uint32_t b32 = (uint32_t)bits;
                float f;
                memcpy(&f, &b32, sizeof(f));
                *out = f;
        } else {
                memcpy(out, &bits, sizeof(*out));
        }
        return err;
}

/* Reads an int or long into @p iv, or any number (with Avro's promotions) into @p dv. */
static sl_err_t rd_number(dec_t *d, const sl_snode_t *w, int64_t *iv, double *dv)
{
        sl_err_t err = rd_branch(d, &w);
        int64_t v = 0;
        double x = 0;

        if (err)
                return err;
        switch (w->type) {
        case SL_SN_INT:
        case SL_SN_LONG:
                err = w->type == SL_SN_INT ? rd_int(d, &v) : rd_long(d, &v);
                x = (double)v;
                break;
        case SL_SN_FLOAT:
        case SL_SN_DOUBLE:
                if (iv)
                        return derr(d, SL_ERR_SCHEMA,
                                    "writer type %s cannot be read as an"
                                    " integer",
                                    sl_sntype_name(w->type));
                err = rd_ieee(d, w->type == SL_SN_FLOAT ? 4 : 8, &x);
                break;
        default:
                return derr(d, SL_ERR_SCHEMA, "writer type %s is not a number",
                            sl_sntype_name(w->type));
        }
        if (err)
                return err;
        if (iv)
                *iv = v;
        if (dv)
                *dv = x;
        return SL_OK;
}

static sl_err_t rd_enum(dec_t *d, const sl_snode_t *w, int *out)
{
        int64_t idx;
        sl_err_t err = rd_branch(d, &w);

        if (err || (err = rd_long(d, &idx)))
                return err;
        if (idx < 0 || (uint64_t)idx >= w->symbol_cnt)
                return derr(d, SL_ERR_BAD_ENUM, "enum index %lld outside the writer's %zu symbols",
                            (long long)idx, w->symbol_cnt);
        *out = d->plan->enum_map[w->id][idx];
        return SL_OK;
}

/* Reads a map<string> or map<double> (per @p kind) into the event. */
static sl_err_t rd_map(dec_t *d, const sl_snode_t *w, sl_slot_kind_t kind, sl_kv_t **kvs,
                       size_t *cnt, size_t *cap)
{
        size_t n;
        sl_err_t err = rd_branch(d, &w);

        while (!err && !(err = rd_block(d, w, &n)) && n > 0) {
                for (size_t i = 0; !err && i < n; i++) {
                        const char *k, *v;
                        size_t klen, vlen;
                        double x;
                        const sl_snode_t *vw = w->items;
                        if ((err = rd_text(d, &k, &klen)))
                                break;
                        if (kind == SL_SK_DOUBLE_MAP) {
                                if (!(err = rd_number(d, vw, NULL, &x)))
                                        err = sl_event_sensor_put(d->ev, k, klen, x);
                        } else if (!(err = rd_branch(d, &vw)) && !(err = rd_text(d, &v, &vlen))) {
                                err = sl_event_kv_put(d->ev, kvs, cnt, cap, k, klen, v, vlen);
                        }
                        if (err == SL_ERR_NOMEM)
                                derr(d, err, "out of memory");
                }
        }
        return err;
}

static sl_err_t rd_record(dec_t *d, const sl_snode_t *w);

static sl_err_t rd_slot(dec_t *d, int slot, const sl_snode_t *w)
{
        sl_event_t *ev = d->ev;
        sl_event_caps_t *caps = sl_event_caps(ev);
        sl_usage_t *u = &ev->usage;
        const char *saved = d->field;
        sl_err_t err = SL_OK;
        int e;
        size_t n;

        d->field = sl_slot_defs[slot].name;
        switch ((sl_slot_t)slot) {
        case SL_SLOT_EVENT_ID:
                err = rd_string(d, w, &ev->event_id);
                break;
        case SL_SLOT_NODE_ID:
                err = rd_string(d, w, &ev->node_id);
                break;
        case SL_SLOT_NODE_TYPE:
                err = rd_string(d, w, &ev->node_type);
                break;
        case SL_SLOT_REGION:
                err = rd_string(d, w, &ev->region);
                break;
        case SL_SLOT_CLUSTER:
                err = rd_string(d, w, &ev->cluster);
                break;
        case SL_SLOT_HOSTNAME:
                err = rd_string(d, w, &ev->hostname);
                break;
        case SL_SLOT_AGENT_VERSION:
                err = rd_string(d, w, &ev->agent_version);
                break;
        case SL_SLOT_SVC_NAME:
                err = rd_string(d, w, &ev->services[ev->service_cnt - 1].name);
                break;
        case SL_SLOT_INCARNATION:
                err = rd_number(d, w, &ev->incarnation, NULL);
                break;
        case SL_SLOT_SEQ:
                err = rd_number(d, w, &ev->seq, NULL);
                break;
        case SL_SLOT_EVENT_TIME:
                err = rd_number(d, w, &ev->event_time_ms, NULL);
                break;
        case SL_SLOT_KIND:
                if (!(err = rd_enum(d, w, &e)))
                        ev->kind = (sl_event_kind_t)e;
                break;
        case SL_SLOT_STATUS:
                if (!(err = rd_enum(d, w, &e)))
                        ev->status = (sl_node_status_t)e;
                break;
        case SL_SLOT_SOURCE:
                if (!(err = rd_enum(d, w, &e)))
                        ev->source = (sl_source_t)e;
                break;
        case SL_SLOT_ADDRESSES:
                if ((err = rd_branch(d, &w)))
                        break;
                while (!(err = rd_block(d, w, &n)) && n > 0) {
                        for (size_t i = 0; !err && i < n; i++) {
                                const char **a =
                                    sl_arena_grow(ev->arena, ev->addresses, ev->address_cnt,
                                                  &caps->addresses, sizeof(*a));
                                if (!a)
                                        return derr(d, SL_ERR_NOMEM, "out of memory");
                                ev->addresses = a;
                                if (!(err = rd_string(d, w->items, &a[ev->address_cnt])))
                                        ev->address_cnt++;
                        }
                        if (err)
                                break;
                }
                break;
        case SL_SLOT_SERVICES:
                if ((err = rd_branch(d, &w)))
                        break;
                while (!(err = rd_block(d, w, &n)) && n > 0) {
                        for (size_t i = 0; !err && i < n; i++) {
                                const sl_snode_t *item = w->items;
                                if ((err = rd_branch(d, &item)))
                                        break;
                                if (sl_event_add_service(ev, ""))
                                        return derr(d, SL_ERR_NOMEM, "out of memory");
                                err = rd_record(d, item);
                        }
                        if (err)
                                break;
                }
                break;
        case SL_SLOT_USAGE:
        case SL_SLOT_GEO:
        case SL_SLOT_CAPACITY:
                /* [null, record]: the record sets what it has. */
                if ((err = rd_branch(d, &w)) || w->type == SL_SN_NULL)
                        break;
                *(slot == SL_SLOT_USAGE ? &ev->has_usage
                  : slot == SL_SLOT_GEO ? &ev->has_geo
                                        : &ev->has_capacity) = 1;
                err = rd_record(d, w);
                break;
        case SL_SLOT_G_LATITUDE:
                err = rd_number(d, w, NULL, &ev->geo.latitude);
                break;
        case SL_SLOT_G_LONGITUDE:
                err = rd_number(d, w, NULL, &ev->geo.longitude);
                break;
        case SL_SLOT_G_SITE:
                err = rd_string(d, w, &ev->geo.site);
                break;
        case SL_SLOT_C_CPU_CORES:
        case SL_SLOT_C_MAX_TASKS: {
                int64_t v;
                if (!(err = rd_number(d, w, &v, NULL))) {
                        if (slot == SL_SLOT_C_CPU_CORES)
                                ev->capacity.cpu_cores = (int32_t)v;
                        else
                                ev->capacity.max_tasks = (int32_t)v;
                }
                break;
        }
        case SL_SLOT_C_MEMORY_BYTES:
                err = rd_number(d, w, &ev->capacity.memory_bytes, NULL);
                break;
        case SL_SLOT_C_DISK_BYTES:
                err = rd_number(d, w, &ev->capacity.disk_bytes, NULL);
                break;
        case SL_SLOT_LABELS:
                err = rd_map(d, w, SL_SK_STRING_MAP, &ev->labels, &ev->label_cnt, &caps->labels);
                break;
        case SL_SLOT_SVC_META: {
                sl_service_t *s = &ev->services[ev->service_cnt - 1];
                err = rd_map(d, w, SL_SK_STRING_MAP, &s->meta, &s->meta_cnt, &caps->meta);
                break;
        }
        case SL_SLOT_U_SENSORS:
                err = rd_map(d, w, SL_SK_DOUBLE_MAP, NULL, NULL, NULL);
                break;
        case SL_SLOT_U_CPU_COUNT: {
                int64_t v;
                if (!(err = rd_number(d, w, &v, NULL)))
                        u->cpu_count = (int32_t)v;
                break;
        }
        case SL_SLOT_U_CPU_PERCENT:
                err = rd_number(d, w, NULL, &u->cpu_percent);
                break;
        case SL_SLOT_U_LOAD1:
                err = rd_number(d, w, NULL, &u->load1);
                break;
        case SL_SLOT_U_LOAD5:
                err = rd_number(d, w, NULL, &u->load5);
                break;
        case SL_SLOT_U_LOAD15:
                err = rd_number(d, w, NULL, &u->load15);
                break;
        case SL_SLOT_U_MEM_TOTAL:
                err = rd_number(d, w, &u->mem_total, NULL);
                break;
        case SL_SLOT_U_MEM_USED:
                err = rd_number(d, w, &u->mem_used, NULL);
                break;
        case SL_SLOT_U_MEM_AVAILABLE:
                err = rd_number(d, w, &u->mem_available, NULL);
                break;
        case SL_SLOT_U_DISK_TOTAL:
                err = rd_number(d, w, &u->disk_total, NULL);
                break;
        case SL_SLOT_U_DISK_USED:
                err = rd_number(d, w, &u->disk_used, NULL);
                break;
        case SL_SLOT__CNT:
                break;
        }
        d->field = saved;
        return err;
}

static sl_err_t rd_record(dec_t *d, const sl_snode_t *w)
{
        const int *slots = d->plan->slot[w->id];
        sl_err_t err = SL_OK;

        if (!slots) /* resolution reaches every record it lets through; never trust that blindly */
                return derr(d, SL_ERR_SCHEMA, "record %s was not resolved", w->fullname);
        if (++d->depth > SL_DECODE_MAX_DEPTH) {
                d->depth--;
                return derr(d, SL_ERR_BAD_LENGTH, "values nest too deep");
        }
        for (size_t i = 0; !err && i < w->field_cnt; i++) {
                const sl_sfield_t *f = &w->fields[i];
                err = slots[i] < 0 ? skip(d, f->type) : rd_slot(d, slots[i], f->type);
        }
        d->depth--;
        return err;
}

/* Reader defaults for fields the writer may lack (the others are overwritten by the read). */
static sl_err_t apply_defaults(sl_event_t *ev, const sl_reader_t *reader)
{
        for (int s = 0; s < SL_SLOT__CNT; s++) {
                const json_t *dflt = reader->dflt[s];
                const char *str;
                if (!dflt || sl_slot_defs[s].record != SL_ROLE_EVENT)
                        continue;
                switch (s) {
                case SL_SLOT_KIND:
                        ev->kind = (sl_event_kind_t)reader->enum_dflt[s];
                        break;
                case SL_SLOT_STATUS:
                        ev->status = (sl_node_status_t)reader->enum_dflt[s];
                        break;
                case SL_SLOT_SOURCE:
                        ev->source = (sl_source_t)reader->enum_dflt[s];
                        break;
                case SL_SLOT_CLUSTER:
                case SL_SLOT_HOSTNAME:
                case SL_SLOT_AGENT_VERSION:
                        str = json_string_value(dflt);
                        if (str && *str &&
                            sl_event_set(ev,
                                         s == SL_SLOT_CLUSTER    ? &ev->cluster
                                         : s == SL_SLOT_HOSTNAME ? &ev->hostname
                                                                 : &ev->agent_version,
                                         str))
                                return SL_ERR_NOMEM;
                        break;
                default:
                        break; /* empty arrays, maps and a null usage are the reset state */
                }
        }
        return SL_OK;
}

sl_err_t sl_avro_decode(const sl_aschema_t *writer, const sl_reader_t *reader, const uint8_t *data,
                        size_t len, sl_event_t *ev, char *errstr, size_t errstr_size)
{
        dec_t d = {.start = data,
                   .p = data,
                   .end = data + len,
                   .ev = ev,
                   .reader = reader,
                   .plan = writer,
                   .errstr = errstr,
                   .errstr_size = errstr_size};
        sl_err_t err;

        if ((err = apply_defaults(ev, reader)))
                return sl_seterr(errstr, errstr_size, err, "out of memory");
        if ((err = rd_record(&d, writer->schema->top)))
                return err;
        if (d.p != d.end) {
                d.field = NULL;
                return derr(&d, SL_ERR_TRAILING, "%zu bytes left after the record",
                            (size_t)(d.end - d.p));
        }
        return SL_OK;
}
