/*
 * The control topic (control.topic, compacted): projectors publish their lag there, keyed by
 * projector id, as ProjectorLag records (schemas/control.avsc) in the Confluent wire format.
 *
 * Decoding choice: records are read with the field layout of control.avsc compiled in here
 * (projector_id, group_id, lag, updated_ms), without asking the registry for the writer schema;
 * bytes after the last known field are ignored, so a writer that appends fields (the only
 * compatible evolution a record read this way tolerates) stays readable. A record that does not
 * decode is skipped. A null value (tombstone) removes the projector's report.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer_int.h"
#include "sl_kafka.h"

extern const char sl_control_avsc[];

/* Reports older than this are ignored: a projector that stopped reporting holds nothing back. */
#define SL_LAG_STALE_MS              (5 * 60 * 1000)
#define SL_CONTROL_METADATA_RETRY_MS 10000
#define SL_CONTROL_MAX_PROJECTORS    1024

const char *sl_control_schema_text(void)
{
        return sl_control_avsc;
}

static void sl_put_long(sl_buf_t *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (z & ~0x7fULL) {
                b->data[b->len++] = (uint8_t)((z & 0x7f) | 0x80);
                z >>= 7;
        }
        b->data[b->len++] = (uint8_t)z;
}

static void sl_put_string(sl_buf_t *b, const char *s)
{
        size_t len = strlen(s);

        sl_put_long(b, (int64_t)len);
        memcpy(b->data + b->len, s, len);
        b->len += len;
}

sl_err_t sl_lag_report_encode(const sl_lag_report_t *report, int32_t schema_id, sl_buf_t *out,
                              char *errstr, size_t errstr_size)
{
        const char *pid, *gid;

        if (!report || !out || !report->projector_id || schema_id < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "lag report: no report, output or projector id");
        pid = report->projector_id;
        gid = report->group_id ? report->group_id : "";
        out->len = 0;
        if (sl_buf_reserve(out, SL_WIRE_HEADER_SIZE + strlen(pid) + strlen(gid) + 4 * 10))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        out->data[0] = 0;
        out->data[1] = (uint8_t)(schema_id >> 24);
        out->data[2] = (uint8_t)(schema_id >> 16);
        out->data[3] = (uint8_t)(schema_id >> 8);
        out->data[4] = (uint8_t)schema_id;
        out->len = SL_WIRE_HEADER_SIZE;
        sl_put_string(out, pid);
        sl_put_string(out, gid);
        sl_put_long(out, report->lag);
        sl_put_long(out, report->updated_ms);
        /* partitions: one block with every entry, then the empty block. */
        if (report->partition_cnt) {
                if (sl_buf_reserve(out, out->len + 10))
                        goto nomem;
                sl_put_long(out, (int64_t)report->partition_cnt);
        }
        for (size_t i = 0; i < report->partition_cnt; i++) {
                const sl_partition_lag_t *pl = &report->partitions[i];

                if (!pl->topic || sl_buf_reserve(out, out->len + strlen(pl->topic) + 3 * 10))
                        goto nomem;
                sl_put_string(out, pl->topic);
                sl_put_long(out, pl->partition);
                sl_put_long(out, pl->lag);
        }
        if (sl_buf_reserve(out, out->len + 1))
                goto nomem;
        sl_put_long(out, 0);
        return SL_OK;

nomem:
        out->len = 0;
        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory (or a NULL topic)");
}

static int sl_get_long(const uint8_t **pp, const uint8_t *end, int64_t *vp)
{
        uint64_t z = 0;
        int shift = 0;

        for (const uint8_t *p = *pp; p < end && shift < 64; p++, shift += 7) {
                z |= (uint64_t)(*p & 0x7f) << shift;
                if (!(*p & 0x80)) {
                        *pp = p + 1;
                        *vp = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                        return 0;
                }
        }
        return -1;
}

/* A string into @p buf at *offp (NUL-terminated). */
static int sl_get_string(const uint8_t **pp, const uint8_t *end, char *buf, size_t buf_size,
                         size_t *offp, const char **sp)
{
        int64_t len;

        if (sl_get_long(pp, end, &len) || len < 0 || len > end - *pp ||
            (size_t)len + 1 > buf_size - *offp)
                return -1;
        memcpy(buf + *offp, *pp, (size_t)len);
        buf[*offp + (size_t)len] = '\0';
        *sp = buf + *offp;
        *offp += (size_t)len + 1;
        *pp += len;
        return 0;
}

sl_err_t sl_lag_report_decode(const void *data, size_t len, sl_lag_report_t *report, char *buf,
                              size_t buf_size, char *errstr, size_t errstr_size)
{
        const uint8_t *p = data, *end = p + len;
        size_t off = 0;

        if (len < SL_WIRE_HEADER_SIZE || p[0] != 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_MAGIC,
                                 "control record: not the wire format");
        p += SL_WIRE_HEADER_SIZE;
        if (sl_get_string(&p, end, buf, buf_size, &off, &report->projector_id) ||
            sl_get_string(&p, end, buf, buf_size, &off, &report->group_id) ||
            sl_get_long(&p, end, &report->lag) || sl_get_long(&p, end, &report->updated_ms))
                return sl_seterr(errstr, errstr_size, SL_ERR_TRUNCATED,
                                 "control record: truncated or malformed");
        return SL_OK;
}

typedef struct {
        char *id;
        int64_t lag, updated_ms;
} sl_lag_entry_t;

struct sl_control_s {
        rd_kafka_t *rk;
        char *topic;
        int assigned;
        int64_t retry_ms, retry_delay_ms;
        sl_lag_entry_t *e;
        size_t cnt;
};

static void sl_control_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        sl_kafka_log_check(level, fac, buf);
        /* The user's producer properties mean nothing to this consumer: not worth a warning. */
        if (!strcmp(fac, "CONFWARN"))
                return;
        fprintf(stderr, "%%%d|%s|%s: %s\n", level, fac, rd_kafka_name(rk), buf);
}

sl_control_t *sl_control_new(const sl_conf_t *conf, const char *topic, char *errstr,
                             size_t errstr_size)
{
        static const char *const defaults[] = {"enable.auto.commit",
                                               "false",
                                               "enable.auto.offset.store",
                                               "false",
                                               "enable.partition.eof",
                                               "false",
                                               "client.id",
                                               "seerlog-control",
                                               NULL};
        sl_control_t *ctl = calloc(1, sizeof(*ctl));
        rd_kafka_conf_t *rk_conf = NULL;
        char group[64];

        if (!ctl || !(ctl->topic = strdup(topic))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (!(rk_conf = rd_kafka_conf_new())) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (sl_conf_kafka_apply(conf, rk_conf, errstr, errstr_size))
                goto fail;
        rd_kafka_conf_set_log_cb(rk_conf, sl_control_log_cb); /* after: apply sets its own */
        for (const char *const *d = defaults; *d; d += 2)
                if (rd_kafka_conf_set(rk_conf, d[0], d[1], errstr, errstr_size))
                        goto fail;
        /* assign() needs a group; it is never joined (no subscribe) and nothing is committed. */
        snprintf(group, sizeof(group), "seerlog-control-%ld", (long)getpid());
        if (rd_kafka_conf_set(rk_conf, "group.id", group, errstr, errstr_size))
                goto fail;
        if (!(ctl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rk_conf, errstr, errstr_size)))
                goto fail;
        return ctl;

fail:
        if (rk_conf)
                rd_kafka_conf_destroy(rk_conf);
        sl_control_destroy(ctl);
        return NULL;
}

void sl_control_destroy(sl_control_t *ctl)
{
        if (!ctl)
                return;
        if (ctl->rk) {
                rd_kafka_consumer_close(ctl->rk);
                rd_kafka_destroy(ctl->rk);
        }
        for (size_t i = 0; i < ctl->cnt; i++)
                free(ctl->e[i].id);
        free(ctl->e);
        free(ctl->topic);
        free(ctl);
}

/* Assigns every partition of the topic from the beginning, once its metadata is known. */
static void sl_control_assign(sl_control_t *ctl)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(ctl->rk, ctl->topic, NULL);
        rd_kafka_topic_partition_list_t *parts;

        if (!rkt)
                return;
        if (rd_kafka_metadata(ctl->rk, 0, rkt, &md, 200) || !md || md->topic_cnt != 1 ||
            md->topics[0].err || md->topics[0].partition_cnt <= 0)
                goto done;
        parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, ctl->topic, md->topics[0].partitions[i].id)
                    ->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (!rd_kafka_assign(ctl->rk, parts))
                ctl->assigned = 1;
        rd_kafka_topic_partition_list_destroy(parts);

done:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static void sl_control_apply(sl_control_t *ctl, const rd_kafka_message_t *m)
{
        char id[256], buf[1024], errstr[128];
        sl_lag_report_t rep;
        size_t i;

        if (!m->key || !m->key_len || m->key_len >= sizeof(id))
                return;
        memcpy(id, m->key, m->key_len);
        id[m->key_len] = '\0';
        for (i = 0; i < ctl->cnt; i++)
                if (!strcmp(ctl->e[i].id, id))
                        break;
        if (!m->payload) { /* tombstone */
                if (i < ctl->cnt) {
                        free(ctl->e[i].id);
                        ctl->e[i] = ctl->e[--ctl->cnt];
                }
                return;
        }
        if (sl_lag_report_decode(m->payload, m->len, &rep, buf, sizeof(buf), errstr,
                                 sizeof(errstr)))
                return;
        if (i == ctl->cnt) {
                sl_lag_entry_t *e;

                if (ctl->cnt >= SL_CONTROL_MAX_PROJECTORS ||
                    !(e = realloc(ctl->e, (ctl->cnt + 1) * sizeof(*e))))
                        return;
                ctl->e = e;
                if (!(e[i].id = strdup(id)))
                        return;
                ctl->cnt++;
        }
        ctl->e[i].lag = rep.lag;
        ctl->e[i].updated_ms = rep.updated_ms;
}

int64_t sl_control_poll(sl_control_t *ctl)
{
        int64_t now = sl_mono_ms(), wall, max = -1;
        rd_kafka_message_t *m;

        if (!ctl->assigned && now >= ctl->retry_ms) {
                /* Soon after start (the connection may not be up yet), then backing off to
                 * every 10 s while the topic does not exist: each try may block 200 ms. */
                ctl->retry_delay_ms = ctl->retry_delay_ms ? ctl->retry_delay_ms * 2 : 250;
                if (ctl->retry_delay_ms > SL_CONTROL_METADATA_RETRY_MS)
                        ctl->retry_delay_ms = SL_CONTROL_METADATA_RETRY_MS;
                ctl->retry_ms = now + ctl->retry_delay_ms;
                sl_control_assign(ctl);
        }
        for (int n = 0; n < 1000 && (m = rd_kafka_consumer_poll(ctl->rk, 0)); n++) {
                if (!m->err) {
                        sl_kafka_connected();
                        sl_control_apply(ctl, m);
                }
                rd_kafka_message_destroy(m);
        }
        wall = sl_wall_ms();
        for (size_t i = 0; i < ctl->cnt; i++)
                if (wall - ctl->e[i].updated_ms <= SL_LAG_STALE_MS && ctl->e[i].lag > max)
                        max = ctl->e[i].lag;
        return max;
}
