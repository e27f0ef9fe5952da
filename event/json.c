/* NodeStateEvent <-> JSON, with the Avro field names as keys. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "event_int.h"

static json_t *kvs_to_json(const sl_kv_t *kvs, size_t cnt)
{
        json_t *o = json_object();

        for (size_t i = 0; o && i < cnt; i++)
                if (json_object_set_new(o, kvs[i].key, json_string(kvs[i].value))) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

/* JSON has no NaN or infinity: those render as null. */
static json_t *num(double d)
{
        return isfinite(d) ? json_real(d) : json_null();
}

json_t *sl_event_to_json(const sl_event_t *ev)
{
        json_t *o = json_object(), *a, *s, *u = NULL;
        int bad = 0;

        if (!o)
                return NULL;
        bad |= json_object_set_new(o, "event_id", json_string(ev->event_id));
        bad |= json_object_set_new(o, "node_id", json_string(ev->node_id));
        bad |= json_object_set_new(o, "node_type", json_string(ev->node_type));
        bad |= json_object_set_new(o, "region", json_string(ev->region));
        bad |= json_object_set_new(o, "cluster", json_string(ev->cluster));
        bad |= json_object_set_new(o, "incarnation", json_integer(ev->incarnation));
        bad |= json_object_set_new(o, "seq", json_integer(ev->seq));
        bad |= json_object_set_new(o, "event_time", json_integer(ev->event_time_ms));
        bad |= json_object_set_new(o, "kind", json_string(sl_event_kind_name(ev->kind)));
        bad |= json_object_set_new(o, "status", json_string(sl_node_status_name(ev->status)));
        bad |= json_object_set_new(o, "hostname", json_string(ev->hostname));
        a = json_array();
        for (size_t i = 0; a && i < ev->address_cnt; i++)
                bad |= json_array_append_new(a, json_string(ev->addresses[i]));
        bad |= json_object_set_new(o, "addresses", a);
        a = json_array();
        for (size_t i = 0; a && i < ev->service_cnt; i++) {
                s = json_pack("{s:s, s:o*}", "name", ev->services[i].name, "meta",
                              kvs_to_json(ev->services[i].meta, ev->services[i].meta_cnt));
                bad |= !s || json_array_append_new(a, s);
        }
        bad |= json_object_set_new(o, "services", a);
        if (ev->has_usage) {
                const sl_usage_t *x = &ev->usage;
                json_t *sensors = json_object();
                for (size_t i = 0; sensors && i < x->sensor_cnt; i++)
                        bad |= json_object_set_new(sensors, x->sensors[i].name,
                                                   num(x->sensors[i].value));
                u = json_object();
                bad |= !u || !sensors;
                if (u) {
                        bad |= json_object_set_new(u, "cpu_percent", num(x->cpu_percent));
                        bad |= json_object_set_new(u, "cpu_count", json_integer(x->cpu_count));
                        bad |= json_object_set_new(u, "load1", num(x->load1));
                        bad |= json_object_set_new(u, "load5", num(x->load5));
                        bad |= json_object_set_new(u, "load15", num(x->load15));
                        bad |= json_object_set_new(u, "mem_total", json_integer(x->mem_total));
                        bad |= json_object_set_new(u, "mem_used", json_integer(x->mem_used));
                        bad |=
                            json_object_set_new(u, "mem_available", json_integer(x->mem_available));
                        bad |= json_object_set_new(u, "disk_total", json_integer(x->disk_total));
                        bad |= json_object_set_new(u, "disk_used", json_integer(x->disk_used));
                        bad |= json_object_set_new(u, "sensors", sensors);
                } else {
                        json_decref(sensors);
                }
        }
        bad |= json_object_set_new(o, "usage", u ? u : json_null());
        bad |= json_object_set_new(o, "labels", kvs_to_json(ev->labels, ev->label_cnt));
        bad |= json_object_set_new(o, "agent_version", json_string(ev->agent_version));
        bad |= json_object_set_new(o, "source", json_string(sl_source_name(ev->source)));
        bad |= json_object_set_new(
            o, "geo",
            ev->has_geo ? json_pack("{s:o, s:o, s:s}", "latitude", num(ev->geo.latitude),
                                    "longitude", num(ev->geo.longitude), "site", ev->geo.site)
                        : json_null());
        bad |= json_object_set_new(
            o, "capacity",
            ev->has_capacity
                ? json_pack("{s:I, s:I, s:I, s:I}", "cpu_cores", (json_int_t)ev->capacity.cpu_cores,
                            "memory_bytes", (json_int_t)ev->capacity.memory_bytes, "disk_bytes",
                            (json_int_t)ev->capacity.disk_bytes, "max_tasks",
                            (json_int_t)ev->capacity.max_tasks)
                : json_null());
        if (bad) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ---------------------------------------------------------------------------------------- */

typedef struct {
        sl_event_t *ev;
        char *errstr;
        size_t errstr_size;
} from_ctx_t;

static sl_err_t want(from_ctx_t *x, int ok, const char *field, const char *what)
{
        if (ok)
                return SL_OK;
        return sl_seterr(x->errstr, x->errstr_size, SL_ERR_BAD_VALUE, "field \"%s\": %s", field,
                         what);
}

static sl_err_t get_string(from_ctx_t *x, const json_t *v, const char *field, const char **out)
{
        sl_err_t err = want(x, json_is_string(v), field, "expected a string");

        if (err)
                return err;
        if (!sl_utf8_valid(json_string_value(v), json_string_length(v)))
                return want(x, 0, field, "string contains a NUL character");
        if (sl_event_set(x->ev, out, json_string_value(v)))
                return SL_ERR_NOMEM;
        return SL_OK;
}

static sl_err_t get_int(from_ctx_t *x, const json_t *v, const char *field, int64_t min, int64_t max,
                        int64_t *out)
{
        sl_err_t err = want(x, json_is_integer(v), field, "expected an integer");

        if (err)
                return err;
        if (json_integer_value(v) < min || json_integer_value(v) > max)
                return want(x, 0, field, "integer out of range");
        *out = json_integer_value(v);
        return SL_OK;
}

static sl_err_t get_double(from_ctx_t *x, const json_t *v, const char *field, double *out)
{
        sl_err_t err = want(x, json_is_number(v), field, "expected a number");

        if (!err)
                *out = json_number_value(v);
        return err;
}

static sl_err_t get_enum(from_ctx_t *x, const json_t *v, const char *field,
                         sl_err_t (*parse)(const char *, int *), int *out)
{
        sl_err_t err = want(x, json_is_string(v), field, "expected a string");

        if (err)
                return err;
        if (parse(json_string_value(v), out))
                return sl_seterr(x->errstr, x->errstr_size, SL_ERR_BAD_ENUM,
                                 "field \"%s\": unknown symbol \"%s\"", field,
                                 json_string_value(v));
        return SL_OK;
}

static sl_err_t parse_kind(const char *s, int *v)
{
        sl_event_kind_t k;
        sl_err_t err = sl_event_kind_parse(s, &k);
        *v = (int)k;
        return err;
}
static sl_err_t parse_status(const char *s, int *v)
{
        sl_node_status_t k;
        sl_err_t err = sl_node_status_parse(s, &k);
        *v = (int)k;
        return err;
}
static sl_err_t parse_source(const char *s, int *v)
{
        sl_source_t k;
        sl_err_t err = sl_source_parse(s, &k);
        *v = (int)k;
        return err;
}

/* A JSON object of strings into a map; @p service adds to the last service's meta. */
static sl_err_t get_string_map(from_ctx_t *x, const json_t *v, const char *field, int service)
{
        const char *k;
        const json_t *e;
        sl_err_t err = want(x, json_is_object(v), field, "expected an object of strings");

        json_object_foreach((json_t *)v, k, e)
        {
                if (err)
                        break;
                if ((err = want(x, json_is_string(e), field, "map values must be strings")))
                        break;
                if (!sl_utf8_valid(k, strlen(k)))
                        return want(x, 0, field, "map key is not valid UTF-8");
                err = service ? sl_event_add_service_meta(x->ev, k, json_string_value(e))
                              : sl_event_add_label(x->ev, k, json_string_value(e));
        }
        return err;
}

static sl_err_t get_usage(from_ctx_t *x, const json_t *v)
{
        sl_usage_t *u = &x->ev->usage;
        const char *k;
        const json_t *e;
        sl_err_t err = SL_OK;
        int64_t i64;

        if (json_is_null(v))
                return SL_OK;
        if ((err = want(x, json_is_object(v), "usage", "expected null or an object")))
                return err;
        x->ev->has_usage = 1;
        json_object_foreach((json_t *)v, k, e)
        {
                if (!strcmp(k, "cpu_percent"))
                        err = get_double(x, e, "usage.cpu_percent", &u->cpu_percent);
                else if (!strcmp(k, "cpu_count")) {
                        if (!(err = get_int(x, e, "usage.cpu_count", 0, INT32_MAX, &i64)))
                                u->cpu_count = (int32_t)i64;
                } else if (!strcmp(k, "load1"))
                        err = get_double(x, e, "usage.load1", &u->load1);
                else if (!strcmp(k, "load5"))
                        err = get_double(x, e, "usage.load5", &u->load5);
                else if (!strcmp(k, "load15"))
                        err = get_double(x, e, "usage.load15", &u->load15);
                else if (!strcmp(k, "mem_total"))
                        err = get_int(x, e, "usage.mem_total", 0, INT64_MAX, &u->mem_total);
                else if (!strcmp(k, "mem_used"))
                        err = get_int(x, e, "usage.mem_used", 0, INT64_MAX, &u->mem_used);
                else if (!strcmp(k, "mem_available"))
                        err = get_int(x, e, "usage.mem_available", 0, INT64_MAX, &u->mem_available);
                else if (!strcmp(k, "disk_total"))
                        err = get_int(x, e, "usage.disk_total", 0, INT64_MAX, &u->disk_total);
                else if (!strcmp(k, "disk_used"))
                        err = get_int(x, e, "usage.disk_used", 0, INT64_MAX, &u->disk_used);
                else if (!strcmp(k, "sensors")) {
                        const char *sk;
                        const json_t *sv;
                        if ((err = want(x, json_is_object(e), "usage.sensors",
                                        "expected an object of numbers")))
                                break;
                        json_object_foreach((json_t *)e, sk, sv)
                        {
                                double d;
                                if ((err = get_double(x, sv, "usage.sensors", &d)) ||
                                    (err = sl_event_add_sensor(x->ev, sk, d)))
                                        break;
                        }
                } else
                        err = sl_seterr(x->errstr, x->errstr_size, SL_ERR_BAD_VALUE,
                                        "unknown field \"usage.%s\"", k);
                if (err)
                        break;
        }
        return err;
}

/* "geo": null or {"latitude", "longitude"[, "site"]} (schema version 2). */
static sl_err_t get_geo(from_ctx_t *x, const json_t *v)
{
        const char *k;
        const json_t *e;
        sl_err_t err = SL_OK;
        int lat = 0, lon = 0;

        if (json_is_null(v))
                return SL_OK;
        if ((err = want(x, json_is_object(v), "geo", "expected null or an object")))
                return err;
        x->ev->has_geo = 1;
        json_object_foreach((json_t *)v, k, e)
        {
                if (!strcmp(k, "latitude") && (lat = 1))
                        err = get_double(x, e, "geo.latitude", &x->ev->geo.latitude);
                else if (!strcmp(k, "longitude") && (lon = 1))
                        err = get_double(x, e, "geo.longitude", &x->ev->geo.longitude);
                else if (!strcmp(k, "site"))
                        err = get_string(x, e, "geo.site", &x->ev->geo.site);
                else
                        err = sl_seterr(x->errstr, x->errstr_size, SL_ERR_BAD_VALUE,
                                        "unknown field \"geo.%s\"", k);
                if (err)
                        return err;
        }
        return want(x, lat && lon, "geo", "latitude and longitude are required");
}

/* "capacity": null or an object of non-negative integers (schema version 2). */
static sl_err_t get_capacity(from_ctx_t *x, const json_t *v)
{
        sl_capacity_t *c = &x->ev->capacity;
        const char *k;
        const json_t *e;
        sl_err_t err = SL_OK;
        int64_t i64;

        if (json_is_null(v))
                return SL_OK;
        if ((err = want(x, json_is_object(v), "capacity", "expected null or an object")))
                return err;
        x->ev->has_capacity = 1;
        json_object_foreach((json_t *)v, k, e)
        {
                if (!strcmp(k, "cpu_cores")) {
                        if (!(err = get_int(x, e, "capacity.cpu_cores", 0, INT32_MAX, &i64)))
                                c->cpu_cores = (int32_t)i64;
                } else if (!strcmp(k, "max_tasks")) {
                        if (!(err = get_int(x, e, "capacity.max_tasks", 0, INT32_MAX, &i64)))
                                c->max_tasks = (int32_t)i64;
                } else if (!strcmp(k, "memory_bytes"))
                        err =
                            get_int(x, e, "capacity.memory_bytes", 0, INT64_MAX, &c->memory_bytes);
                else if (!strcmp(k, "disk_bytes"))
                        err = get_int(x, e, "capacity.disk_bytes", 0, INT64_MAX, &c->disk_bytes);
                else
                        err = sl_seterr(x->errstr, x->errstr_size, SL_ERR_BAD_VALUE,
                                        "unknown field \"capacity.%s\"", k);
                if (err)
                        return err;
        }
        return SL_OK;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sl_err_t sl_event_from_json(sl_event_t *ev, const json_t *obj, char *errstr, size_t errstr_size)
{
        from_ctx_t x = {ev, errstr, errstr_size};
        const char *k;
        const json_t *v;
        sl_err_t err = SL_OK;
        int has_id = 0, has_time = 0, e;
        size_t i;

        sl_event_reset(ev);
        ev->source = SL_SOURCE_AGENT; /* the schema's field default */
        if (!json_is_object(obj))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "an event must be a JSON object");
        json_object_foreach((json_t *)obj, k, v)
        {
                if (!strcmp(k, "event_id")) {
                        has_id = 1;
                        err = get_string(&x, v, k, &ev->event_id);
                } else if (!strcmp(k, "node_id"))
                        err = get_string(&x, v, k, &ev->node_id);
                else if (!strcmp(k, "node_type"))
                        err = get_string(&x, v, k, &ev->node_type);
                else if (!strcmp(k, "region"))
                        err = get_string(&x, v, k, &ev->region);
                else if (!strcmp(k, "cluster"))
                        err = get_string(&x, v, k, &ev->cluster);
                else if (!strcmp(k, "hostname"))
                        err = get_string(&x, v, k, &ev->hostname);
                else if (!strcmp(k, "agent_version"))
                        err = get_string(&x, v, k, &ev->agent_version);
                else if (!strcmp(k, "incarnation"))
                        err = get_int(&x, v, k, 1, INT64_MAX, &ev->incarnation);
                else if (!strcmp(k, "seq"))
                        err = get_int(&x, v, k, 0, INT64_MAX, &ev->seq);
                else if (!strcmp(k, "event_time")) {
                        has_time = 1;
                        err = get_int(&x, v, k, INT64_MIN, INT64_MAX, &ev->event_time_ms);
                } else if (!strcmp(k, "kind")) {
                        if (!(err = get_enum(&x, v, k, parse_kind, &e)))
                                ev->kind = (sl_event_kind_t)e;
                } else if (!strcmp(k, "status")) {
                        if (!(err = get_enum(&x, v, k, parse_status, &e)))
                                ev->status = (sl_node_status_t)e;
                } else if (!strcmp(k, "source")) {
                        if (!(err = get_enum(&x, v, k, parse_source, &e)))
                                ev->source = (sl_source_t)e;
                } else if (!strcmp(k, "addresses")) {
                        const json_t *a;
                        if ((err = want(&x, json_is_array(v), k, "expected an array of strings")))
                                break;
                        json_array_foreach(v, i, a)
                        {
                                if ((err = want(&x, json_is_string(a), k,
                                                "expected an array of strings")) ||
                                    (err = sl_event_add_address(ev, json_string_value(a))))
                                        break;
                        }
                } else if (!strcmp(k, "services")) {
                        const json_t *s;
                        if ((err = want(&x, json_is_array(v), k, "expected an array of objects")))
                                break;
                        json_array_foreach(v, i, s)
                        {
                                const json_t *name = json_object_get(s, "name");
                                const json_t *meta = json_object_get(s, "meta");
                                if ((err = want(&x, json_is_object(s) && json_is_string(name), k,
                                                "each service needs a string \"name\"")) ||
                                    (err = want(&x, json_object_size(s) == 1u + (meta != NULL), k,
                                                "a service has only \"name\" and \"meta\"")) ||
                                    (err = sl_event_add_service(ev, json_string_value(name))) ||
                                    (meta && (err = get_string_map(&x, meta, "services.meta", 1))))
                                        break;
                        }
                } else if (!strcmp(k, "usage"))
                        err = get_usage(&x, v);
                else if (!strcmp(k, "geo"))
                        err = get_geo(&x, v);
                else if (!strcmp(k, "capacity"))
                        err = get_capacity(&x, v);
                else if (!strcmp(k, "labels"))
                        err = get_string_map(&x, v, k, 0);
                else
                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                        "unknown field \"%s\"", k);
                if (err)
                        break;
        }
        if (!err && !has_id)
                err = sl_event_new_id(ev);
        if (!err && !has_time)
                ev->event_time_ms = now_ms();
        if (err == SL_ERR_NOMEM)
                sl_seterr(errstr, errstr_size, err, "out of memory");
        if (err)
                sl_event_reset(ev);
        return err;
}
