/* NodeStateEvent: construction, enum names, validation, comparison, copying. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uuid/uuid.h>

#include "event_int.h"

typedef struct {
        sl_event_t ev; /* first: sl_event_t * and the wrapper share an address */
        sl_event_caps_t caps;
} sl_event_priv_t;

sl_event_caps_t *sl_event_caps(sl_event_t *ev)
{
        return &((sl_event_priv_t *)ev)->caps;
}

static const char *const kind_names[SL_KIND__CNT] = {
    "unknown", "join", "heartbeat", "status_change", "usage", "services", "leave",
};
static const char *const status_names[SL_STATUS__CNT] = {
    "unknown", "up", "degraded", "draining", "down", "left", "maintenance",
};
static const char *const source_names[SL_SOURCE__CNT] = {"unknown", "agent", "bridge"};

const char *sl_event_kind_name(sl_event_kind_t kind)
{
        return (unsigned)kind < SL_KIND__CNT ? kind_names[kind] : "unknown";
}

const char *sl_node_status_name(sl_node_status_t status)
{
        return (unsigned)status < SL_STATUS__CNT ? status_names[status] : "unknown";
}

const char *sl_source_name(sl_source_t source)
{
        return (unsigned)source < SL_SOURCE__CNT ? source_names[source] : "unknown";
}

static int lookup(const char *const *names, int cnt, const char *name)
{
        for (int i = 0; name && i < cnt; i++)
                if (!strcmp(names[i], name))
                        return i;
        return -1;
}

sl_err_t sl_event_kind_parse(const char *name, sl_event_kind_t *kindp)
{
        int i = lookup(kind_names, SL_KIND__CNT, name);
        if (i < 0)
                return SL_ERR_BAD_ENUM;
        *kindp = (sl_event_kind_t)i;
        return SL_OK;
}

sl_err_t sl_node_status_parse(const char *name, sl_node_status_t *statusp)
{
        int i = lookup(status_names, SL_STATUS__CNT, name);
        if (i < 0)
                return SL_ERR_BAD_ENUM;
        *statusp = (sl_node_status_t)i;
        return SL_OK;
}

sl_err_t sl_source_parse(const char *name, sl_source_t *sourcep)
{
        int i = lookup(source_names, SL_SOURCE__CNT, name);
        if (i < 0)
                return SL_ERR_BAD_ENUM;
        *sourcep = (sl_source_t)i;
        return SL_OK;
}

sl_event_t *sl_event_new(void)
{
        sl_event_priv_t *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->ev.arena = sl_arena_new();
        if (!p->ev.arena) {
                free(p);
                return NULL;
        }
        sl_event_reset(&p->ev);
        return &p->ev;
}

void sl_event_destroy(sl_event_t *ev)
{
        if (!ev)
                return;
        sl_arena_destroy(ev->arena);
        free(ev);
}

void sl_event_reset(sl_event_t *ev)
{
        sl_arena_t *arena = ev->arena;

        sl_arena_reset(arena);
        memset(ev, 0, sizeof(*ev));
        memset(sl_event_caps(ev), 0, sizeof(sl_event_caps_t));
        ev->arena = arena;
        ev->event_id = ev->node_id = ev->node_type = ev->region = ev->cluster = "";
        ev->hostname = ev->agent_version = "";
        ev->geo.site = "";
}

sl_err_t sl_event_set(sl_event_t *ev, const char **fieldp, const char *value)
{
        if (!value || !*value) {
                *fieldp = "";
                return SL_OK;
        }
        char *copy = sl_arena_strndup(ev->arena, value, strlen(value));
        if (!copy)
                return SL_ERR_NOMEM;
        *fieldp = copy;
        return SL_OK;
}

/*
 * Random bytes for event ids, drawn from the kernel 4 KiB at a time per thread: libuuid's
 * uuid_generate_random() makes system calls on every id, which was a third of a producer's time.
 * A forked child starts with an empty buffer, so parent and child never share bytes.
 */
#define SL_RANDOM_BUF 4096

static _Thread_local struct {
        uint8_t buf[SL_RANDOM_BUF];
        size_t pos;
        int ready;
} sl_rnd;

static pthread_once_t sl_rnd_once = PTHREAD_ONCE_INIT;

static void sl_rnd_forget(void)
{
        sl_rnd.ready = 0;
}

static void sl_rnd_init(void)
{
        pthread_atfork(NULL, NULL, sl_rnd_forget);
}

static void sl_random_bytes(uint8_t *out, size_t n)
{
        pthread_once(&sl_rnd_once, sl_rnd_init);
        if (!sl_rnd.ready || SL_RANDOM_BUF - sl_rnd.pos < n) {
                size_t got = 0;
                while (got < SL_RANDOM_BUF) {
                        ssize_t r = getrandom(sl_rnd.buf + got, SL_RANDOM_BUF - got, 0);
                        if (r <= 0)
                                break;
                        got += (size_t)r;
                }
                if (got < SL_RANDOM_BUF) {
                        /* No getrandom (old kernel, seccomp): libuuid's own sources. */
                        for (size_t i = 0; i + 16 <= SL_RANDOM_BUF; i += 16)
                                uuid_generate(sl_rnd.buf + i);
                }
                sl_rnd.pos = 0;
                sl_rnd.ready = 1;
        }
        memcpy(out, sl_rnd.buf + sl_rnd.pos, n);
        sl_rnd.pos += n;
}

sl_err_t sl_event_new_id(sl_event_t *ev)
{
        static const char hex[] = "0123456789abcdef";
        uint8_t u[16];
        char text[37], *t = text;

        sl_random_bytes(u, sizeof(u));
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *t++ = '-';
                *t++ = hex[u[i] >> 4];
                *t++ = hex[u[i] & 0x0f];
        }
        *t = '\0';
        return sl_event_set(ev, &ev->event_id, text);
}

sl_err_t sl_event_add_address(sl_event_t *ev, const char *address)
{
        sl_event_caps_t *caps = sl_event_caps(ev);
        const char **a =
            sl_arena_grow(ev->arena, ev->addresses, ev->address_cnt, &caps->addresses, sizeof(*a));
        if (!a)
                return SL_ERR_NOMEM;
        ev->addresses = a;
        if (sl_event_set(ev, &a[ev->address_cnt], address))
                return SL_ERR_NOMEM;
        ev->address_cnt++;
        return SL_OK;
}

sl_err_t sl_event_kv_put(sl_event_t *ev, sl_kv_t **kvs, size_t *cnt, size_t *cap, const char *key,
                         size_t key_len, const char *value, size_t value_len)
{
        char *v = sl_arena_strndup(ev->arena, value, value_len);

        if (!v)
                return SL_ERR_NOMEM;
        for (size_t i = 0; i < *cnt; i++) {
                if (strlen((*kvs)[i].key) == key_len && !memcmp((*kvs)[i].key, key, key_len)) {
                        (*kvs)[i].value = v;
                        return SL_OK;
                }
        }
        sl_kv_t *n = sl_arena_grow(ev->arena, *kvs, *cnt, cap, sizeof(*n));
        char *k = sl_arena_strndup(ev->arena, key, key_len);
        if (!n || !k)
                return SL_ERR_NOMEM;
        n[*cnt].key = k;
        n[*cnt].value = v;
        *kvs = n;
        (*cnt)++;
        return SL_OK;
}

sl_err_t sl_event_add_label(sl_event_t *ev, const char *key, const char *value)
{
        if (!key || !value)
                return SL_ERR_INVALID_ARG;
        return sl_event_kv_put(ev, &ev->labels, &ev->label_cnt, &sl_event_caps(ev)->labels, key,
                               strlen(key), value, strlen(value));
}

sl_err_t sl_event_add_service(sl_event_t *ev, const char *name)
{
        sl_event_caps_t *caps = sl_event_caps(ev);
        sl_service_t *s =
            sl_arena_grow(ev->arena, ev->services, ev->service_cnt, &caps->services, sizeof(*s));
        if (!s)
                return SL_ERR_NOMEM;
        ev->services = s;
        memset(&s[ev->service_cnt], 0, sizeof(*s));
        if (sl_event_set(ev, &s[ev->service_cnt].name, name))
                return SL_ERR_NOMEM;
        ev->service_cnt++;
        caps->meta = 0;
        return SL_OK;
}

sl_err_t sl_event_add_service_meta(sl_event_t *ev, const char *key, const char *value)
{
        if (!ev->service_cnt || !key || !value)
                return SL_ERR_INVALID_ARG;
        sl_service_t *s = &ev->services[ev->service_cnt - 1];
        return sl_event_kv_put(ev, &s->meta, &s->meta_cnt, &sl_event_caps(ev)->meta, key,
                               strlen(key), value, strlen(value));
}

sl_err_t sl_event_sensor_put(sl_event_t *ev, const char *name, size_t name_len, double value)
{
        sl_usage_t *u = &ev->usage;

        for (size_t i = 0; i < u->sensor_cnt; i++) {
                if (strlen(u->sensors[i].name) == name_len &&
                    !memcmp(u->sensors[i].name, name, name_len)) {
                        u->sensors[i].value = value;
                        return SL_OK;
                }
        }
        sl_sensor_t *s = sl_arena_grow(ev->arena, u->sensors, u->sensor_cnt,
                                       &sl_event_caps(ev)->sensors, sizeof(*s));
        char *n = sl_arena_strndup(ev->arena, name, name_len);
        if (!s || !n)
                return SL_ERR_NOMEM;
        s[u->sensor_cnt].name = n;
        s[u->sensor_cnt].value = value;
        u->sensors = s;
        u->sensor_cnt++;
        return SL_OK;
}

sl_err_t sl_event_add_sensor(sl_event_t *ev, const char *name, double value)
{
        if (!name)
                return SL_ERR_INVALID_ARG;
        ev->has_usage = 1;
        return sl_event_sensor_put(ev, name, strlen(name), value);
}

sl_err_t sl_event_copy(sl_event_t *dst, const sl_event_t *src)
{
        sl_err_t err = SL_OK;

        if (dst == src)
                return SL_OK;
        sl_event_reset(dst);
        const char *const *sf[] = {&src->event_id, &src->node_id,  &src->node_type,    &src->region,
                                   &src->cluster,  &src->hostname, &src->agent_version};
        const char **df[] = {&dst->event_id, &dst->node_id,  &dst->node_type,    &dst->region,
                             &dst->cluster,  &dst->hostname, &dst->agent_version};
        for (size_t i = 0; !err && i < sizeof(sf) / sizeof(sf[0]); i++)
                err = sl_event_set(dst, df[i], *sf[i]);
        dst->incarnation = src->incarnation;
        dst->seq = src->seq;
        dst->event_time_ms = src->event_time_ms;
        dst->kind = src->kind;
        dst->status = src->status;
        dst->source = src->source;
        for (size_t i = 0; !err && i < src->address_cnt; i++)
                err = sl_event_add_address(dst, src->addresses[i]);
        for (size_t i = 0; !err && i < src->service_cnt; i++) {
                err = sl_event_add_service(dst, src->services[i].name);
                for (size_t j = 0; !err && j < src->services[i].meta_cnt; j++)
                        err = sl_event_add_service_meta(dst, src->services[i].meta[j].key,
                                                        src->services[i].meta[j].value);
        }
        for (size_t i = 0; !err && i < src->label_cnt; i++)
                err = sl_event_add_label(dst, src->labels[i].key, src->labels[i].value);
        if (src->has_usage) {
                sl_usage_t u = src->usage;
                u.sensors = NULL;
                u.sensor_cnt = 0;
                dst->usage = u;
                dst->has_usage = 1;
                for (size_t i = 0; !err && i < src->usage.sensor_cnt; i++)
                        err = sl_event_add_sensor(dst, src->usage.sensors[i].name,
                                                  src->usage.sensors[i].value);
        }
        if (!err && src->has_geo) {
                dst->has_geo = 1;
                dst->geo.latitude = src->geo.latitude;
                dst->geo.longitude = src->geo.longitude;
                err = sl_event_set(dst, &dst->geo.site, src->geo.site);
        }
        if (src->has_capacity) {
                dst->has_capacity = 1;
                dst->capacity = src->capacity;
        }
        if (err)
                sl_event_reset(dst);
        return err;
}

int sl_utf8_valid(const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;

        while (i < len) {
                /* Mostly ASCII: eight bytes at a time while none has the high bit or is NUL. */
                while (len - i >= 8) {
                        uint64_t w;
                        memcpy(&w, s + i, sizeof(w));
                        if ((w & 0x8080808080808080ULL) ||
                            ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
                                break;
                        i += 8;
                }
                if (i >= len)
                        break;
                unsigned c = s[i];
                size_t n;
                unsigned min;
                if (c == 0)
                        return 0;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 1;
                        min = 0x80;
                        c &= 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2;
                        min = 0x800;
                        c &= 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3;
                        min = 0x10000;
                        c &= 0x07;
                } else {
                        return 0;
                }
                if (len - i <= n)
                        return 0;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        c = (c << 6) | (s[i + k] & 0x3f);
                }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return 0;
                i += n + 1;
        }
        return 1;
}

static sl_err_t check_str(const char *what, const char *s, char *errstr, size_t errstr_size)
{
        if (!s)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s is NULL", what);
        if (!sl_utf8_valid(s, strlen(s)))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE, "%s is not valid UTF-8",
                                 what);
        return SL_OK;
}

static sl_err_t check_kvs(const char *what, const sl_kv_t *kvs, size_t cnt, char *errstr,
                          size_t errstr_size)
{
        for (size_t i = 0; i < cnt; i++) {
                sl_err_t err;
                if ((err = check_str(what, kvs[i].key, errstr, errstr_size)) ||
                    (err = check_str(what, kvs[i].value, errstr, errstr_size)))
                        return err;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(kvs[i].key, kvs[j].key))
                                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                 "%s: key \"%s\" appears twice", what, kvs[i].key);
        }
        return SL_OK;
}

static sl_err_t check_count(const char *what, size_t cnt, size_t max, char *errstr,
                            size_t errstr_size)
{
        if (cnt > max)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "%s: %zu entries, more than the %zu allowed", what, cnt, max);
        return SL_OK;
}

static sl_err_t check_kv_limits(const char *what, const sl_kv_t *kvs, size_t cnt, char *errstr,
                                size_t errstr_size)
{
        for (size_t i = 0; i < cnt; i++) {
                size_t klen = kvs[i].key ? strlen(kvs[i].key) : 0;
                size_t vlen = kvs[i].value ? strlen(kvs[i].value) : 0;

                if (klen > SL_EVENT_MAX_KEY_LEN)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "%s: a key of %zu bytes, more than the %d allowed", what,
                                         klen, SL_EVENT_MAX_KEY_LEN);
                if (vlen > SL_EVENT_MAX_VALUE_LEN)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "%s: the value of key \"%.64s\" has %zu bytes, more than "
                                         "the %d allowed",
                                         what, kvs[i].key, vlen, SL_EVENT_MAX_VALUE_LEN);
        }
        return SL_OK;
}

sl_err_t sl_event_check_limits(const sl_event_t *ev, char *errstr, size_t errstr_size)
{
        sl_err_t err;

        if ((err =
                 check_count("labels", ev->label_cnt, SL_EVENT_MAX_LABELS, errstr, errstr_size)) ||
            (err = check_count("services", ev->service_cnt, SL_EVENT_MAX_SERVICES, errstr,
                               errstr_size)) ||
            (err = check_count("addresses", ev->address_cnt, SL_EVENT_MAX_ADDRESSES, errstr,
                               errstr_size)) ||
            (err = check_count("usage.sensors", ev->has_usage ? ev->usage.sensor_cnt : 0,
                               SL_EVENT_MAX_SENSORS, errstr, errstr_size)) ||
            (err = check_kv_limits("labels", ev->labels, ev->label_cnt, errstr, errstr_size)))
                return err;
        for (size_t i = 0; i < ev->service_cnt; i++) {
                const sl_service_t *sv = &ev->services[i];
                size_t len = sv->name ? strlen(sv->name) : 0;

                if (len > SL_EVENT_MAX_KEY_LEN)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "services: a name of %zu bytes, more than the %d allowed",
                                         len, SL_EVENT_MAX_KEY_LEN);
                if ((err = check_count("services.meta", sv->meta_cnt, SL_EVENT_MAX_META, errstr,
                                       errstr_size)) ||
                    (err = check_kv_limits("services.meta", sv->meta, sv->meta_cnt, errstr,
                                           errstr_size)))
                        return err;
        }
        return SL_OK;
}

sl_err_t sl_event_validate(const sl_event_t *ev, char *errstr, size_t errstr_size)
{
        sl_err_t err;
        const struct {
                const char *name;
                const char *value;
                int required;
        } strs[] = {
            {"event_id", ev->event_id, 1},
            {"node_id", ev->node_id, 1},
            {"node_type", ev->node_type, 1},
            {"region", ev->region, 1},
            {"cluster", ev->cluster, 0},
            {"hostname", ev->hostname, 0},
            {"agent_version", ev->agent_version, 0},
        };

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                if ((err = check_str(strs[i].name, strs[i].value, errstr, errstr_size)))
                        return err;
                if (strs[i].required && !*strs[i].value)
                        return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s is required",
                                         strs[i].name);
        }
        if (ev->incarnation <= 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "incarnation must be > 0 (agent start time in ms), not %lld",
                                 (long long)ev->incarnation);
        if (ev->seq < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "seq must be >= 0, not %lld", (long long)ev->seq);
        if ((unsigned)ev->kind >= SL_KIND__CNT || (unsigned)ev->status >= SL_STATUS__CNT ||
            (unsigned)ev->source >= SL_SOURCE__CNT)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_ENUM,
                                 "kind, status or source out of range");
        for (size_t i = 0; i < ev->address_cnt; i++)
                if ((err = check_str("addresses", ev->addresses[i], errstr, errstr_size)))
                        return err;
        for (size_t i = 0; i < ev->service_cnt; i++) {
                if ((err = check_str("services.name", ev->services[i].name, errstr, errstr_size)) ||
                    (err = check_kvs("services.meta", ev->services[i].meta,
                                     ev->services[i].meta_cnt, errstr, errstr_size)))
                        return err;
        }
        if ((err = check_kvs("labels", ev->labels, ev->label_cnt, errstr, errstr_size)))
                return err;
        if (ev->has_geo) {
                if (!(ev->geo.latitude >= -90 && ev->geo.latitude <= 90) ||
                    !(ev->geo.longitude >= -180 && ev->geo.longitude <= 180))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "geo: latitude %g must be in [-90, 90] and longitude %g "
                                         "in [-180, 180]",
                                         ev->geo.latitude, ev->geo.longitude);
                if ((err = check_str("geo.site", ev->geo.site, errstr, errstr_size)))
                        return err;
        }
        if ((err = sl_event_check_limits(ev, errstr, errstr_size)))
                return err;
        if (ev->has_capacity && (ev->capacity.cpu_cores < 0 || ev->capacity.memory_bytes < 0 ||
                                 ev->capacity.disk_bytes < 0 || ev->capacity.max_tasks < 0))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "capacity: cpu_cores, memory_bytes, disk_bytes and max_tasks "
                                 "must be >= 0");
        for (size_t i = 0; ev->has_usage && i < ev->usage.sensor_cnt; i++) {
                if ((err = check_str("usage.sensors", ev->usage.sensors[i].name, errstr,
                                     errstr_size)))
                        return err;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(ev->usage.sensors[i].name, ev->usage.sensors[j].name))
                                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                 "usage.sensors: key \"%s\" appears twice",
                                                 ev->usage.sensors[i].name);
        }
        return SL_OK;
}

static int kvs_equal(const sl_kv_t *a, size_t an, const sl_kv_t *b, size_t bn)
{
        if (an != bn)
                return 0;
        for (size_t i = 0; i < an; i++)
                if (strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value))
                        return 0;
        return 1;
}

/* Doubles compare by bits so NaN equals NaN and the test of a round trip is exact. */
static int dbl_equal(double a, double b)
{
        return !memcmp(&a, &b, sizeof(a));
}

int sl_event_takeover(const sl_event_t *ev)
{
        if (ev->source != SL_SOURCE_BRIDGE)
                return 0;
        for (size_t i = 0; i < ev->label_cnt; i++)
                if (!strcmp(ev->labels[i].key, SL_TAKEOVER_LABEL))
                        return !strcmp(ev->labels[i].value, "1");
        return 0;
}

int sl_event_equal(const sl_event_t *a, const sl_event_t *b)
{
        if (strcmp(a->event_id, b->event_id) || strcmp(a->node_id, b->node_id) ||
            strcmp(a->node_type, b->node_type) || strcmp(a->region, b->region) ||
            strcmp(a->cluster, b->cluster) || strcmp(a->hostname, b->hostname) ||
            strcmp(a->agent_version, b->agent_version))
                return 0;
        if (a->incarnation != b->incarnation || a->seq != b->seq ||
            a->event_time_ms != b->event_time_ms || a->kind != b->kind || a->status != b->status ||
            a->source != b->source || a->has_usage != b->has_usage || a->has_geo != b->has_geo ||
            a->has_capacity != b->has_capacity)
                return 0;
        if (a->has_geo &&
            (!dbl_equal(a->geo.latitude, b->geo.latitude) ||
             !dbl_equal(a->geo.longitude, b->geo.longitude) || strcmp(a->geo.site, b->geo.site)))
                return 0;
        if (a->has_capacity && (a->capacity.cpu_cores != b->capacity.cpu_cores ||
                                a->capacity.memory_bytes != b->capacity.memory_bytes ||
                                a->capacity.disk_bytes != b->capacity.disk_bytes ||
                                a->capacity.max_tasks != b->capacity.max_tasks))
                return 0;
        if (a->address_cnt != b->address_cnt || a->service_cnt != b->service_cnt)
                return 0;
        for (size_t i = 0; i < a->address_cnt; i++)
                if (strcmp(a->addresses[i], b->addresses[i]))
                        return 0;
        for (size_t i = 0; i < a->service_cnt; i++)
                if (strcmp(a->services[i].name, b->services[i].name) ||
                    !kvs_equal(a->services[i].meta, a->services[i].meta_cnt, b->services[i].meta,
                               b->services[i].meta_cnt))
                        return 0;
        if (!kvs_equal(a->labels, a->label_cnt, b->labels, b->label_cnt))
                return 0;
        if (a->has_usage) {
                const sl_usage_t *x = &a->usage, *y = &b->usage;
                if (!dbl_equal(x->cpu_percent, y->cpu_percent) || x->cpu_count != y->cpu_count ||
                    !dbl_equal(x->load1, y->load1) || !dbl_equal(x->load5, y->load5) ||
                    !dbl_equal(x->load15, y->load15) || x->mem_total != y->mem_total ||
                    x->mem_used != y->mem_used || x->mem_available != y->mem_available ||
                    x->disk_total != y->disk_total || x->disk_used != y->disk_used ||
                    x->sensor_cnt != y->sensor_cnt)
                        return 0;
                for (size_t i = 0; i < x->sensor_cnt; i++)
                        if (strcmp(x->sensors[i].name, y->sensors[i].name) ||
                            !dbl_equal(x->sensors[i].value, y->sensors[i].value))
                                return 0;
        }
        return 1;
}

const char *sl_event_schema_text(void)
{
        return sl_node_state_avsc;
}

int sl_buf_append(sl_buf_t *buf, const void *data, size_t len)
{
        if (buf->len + len < buf->len || sl_buf_reserve(buf, buf->len + len))
                return -1;
        if (len)
                memcpy(buf->data + buf->len, data, len);
        buf->len += len;
        return 0;
}

int sl_buf_reserve(sl_buf_t *buf, size_t cap)
{
        size_t ncap = buf->cap ? buf->cap : 512;
        uint8_t *d;

        if (cap <= buf->cap)
                return 0;
        while (ncap < cap) {
                if (ncap > SIZE_MAX / 2)
                        return -1;
                ncap *= 2;
        }
        if (!(d = realloc(buf->data, ncap)))
                return -1;
        buf->data = d;
        buf->cap = ncap;
        return 0;
}

void sl_buf_free(sl_buf_t *buf)
{
        free(buf->data);
        buf->data = NULL;
        buf->len = buf->cap = 0;
}
