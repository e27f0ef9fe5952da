/* A stretch of the log, resolved and read (see logrange.h). */
#include "logrange.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sl_time.h"

static int64_t sl_range_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_range_clear(sl_range_t *range)
{
        if (!range)
                return;
        for (size_t i = 0; i < range->topic_cnt; i++)
                free(range->topics[i]);
        free(range->topics);
        for (size_t i = 0; i < range->part_cnt; i++)
                free(range->parts[i].topic);
        free(range->parts);
        memset(range, 0, sizeof(*range));
}

static int sl_range_cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The topics of @p md matching @p re, sorted. */
static sl_err_t sl_range_match(const struct rd_kafka_metadata *md, const regex_t *re,
                               sl_range_t *range, char *errstr, size_t errstr_size)
{
        if (!(range->topics = calloc((size_t)md->topic_cnt + 1, sizeof(*range->topics))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (int i = 0; i < md->topic_cnt; i++) {
                const char *name = md->topics[i].topic;

                if (!strncmp(name, "__", 2) || md->topics[i].err || regexec(re, name, 0, NULL, 0))
                        continue;
                if (!(range->topics[range->topic_cnt++] = strdup(name)))
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        qsort(range->topics, range->topic_cnt, sizeof(*range->topics), sl_range_cmp_str);
        return SL_OK;
}

/* @returns the error of the first matching topic (or of one of its partitions) whose metadata
 * is not usable yet, naming it in *badp; 0 when there is none. */
static rd_kafka_resp_err_t sl_range_md_error(const struct rd_kafka_metadata *md, const regex_t *re,
                                             const char **badp)
{
        for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *mt = &md->topics[i];

                if (!strncmp(mt->topic, "__", 2) || regexec(re, mt->topic, 0, NULL, 0))
                        continue;
                *badp = mt->topic;
                if (mt->err)
                        return mt->err;
                for (int j = 0; j < mt->partition_cnt; j++)
                        if (mt->partitions[j].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
                                return mt->partitions[j].err;
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static const struct rd_kafka_metadata_topic *sl_range_md_topic(const struct rd_kafka_metadata *md,
                                                               const char *topic)
{
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic))
                        return &md->topics[i];
        return NULL;
}

static int sl_range_cmp_part(const void *a, const void *b)
{
        const sl_range_part_t *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);

        return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Offsets for @p ts_ms of every partition of @p range into field @p which (0 start, 1 end);
 * a partition with no record at or after the time gets its high watermark. */
static sl_err_t sl_range_times(rd_kafka_t *rk, sl_range_t *range, int64_t ts_ms, int which,
                               int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *q =
            rd_kafka_topic_partition_list_new((int)range->part_cnt);
        rd_kafka_resp_err_t err;
        sl_err_t ret = SL_OK;

        if (!q)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < range->part_cnt; i++)
                rd_kafka_topic_partition_list_add(q, range->parts[i].topic,
                                                  range->parts[i].partition)
                    ->offset = ts_ms;
        if ((err = rd_kafka_offsets_for_times(rk, q, timeout_ms))) {
                ret = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "looking up offsets by time: %s",
                                rd_kafka_err2str(err));
                goto done;
        }
        for (int i = 0; i < q->cnt; i++) {
                const rd_kafka_topic_partition_t *r = &q->elems[i];
                sl_range_part_t key = {.topic = r->topic, .partition = r->partition}, *pt;
                int64_t o;

                if (!(pt = bsearch(&key, range->parts, range->part_cnt, sizeof(*pt),
                                   sl_range_cmp_part)))
                        continue;
                if (r->err) {
                        ret = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                        "looking up offsets by time in %s [%d]: %s", r->topic,
                                        (int)r->partition, rd_kafka_err2str(r->err));
                        goto done;
                }
                o = r->offset < 0 ? pt->high : r->offset;
                if (o < pt->low)
                        o = pt->low;
                if (o > pt->high)
                        o = pt->high;
                if (which)
                        pt->end = o;
                else
                        pt->start = o;
        }
done:
        rd_kafka_topic_partition_list_destroy(q);
        return ret;
}

sl_err_t sl_range_resolve(rd_kafka_t *rk, const char *regex, int64_t since_ms, int64_t until_ms,
                          const char *key, size_t key_len, int timeout_ms, sl_range_t *range,
                          char *errstr, size_t errstr_size)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t kerr;
        regex_t re;
        int rc;
        sl_err_t err = SL_OK;
        size_t cap = 0;

        memset(range, 0, sizeof(*range));
        if ((rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB))) {
                char why[128];

                regerror(rc, &re, why, sizeof(why));
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "'%s' is not a regular expression: %s", regex, why);
        }
        for (int64_t deadline = sl_range_mono_ms() + timeout_ms;;) {
                const char *bad = NULL;
                int64_t left = deadline - sl_range_mono_ms();

                if ((kerr = rd_kafka_metadata(rk, 1, NULL, &md, left > 0 ? (int)left : 1))) {
                        err = sl_seterr(errstr, errstr_size,
                                        kerr == RD_KAFKA_RESP_ERR__TRANSPORT ||
                                                kerr == RD_KAFKA_RESP_ERR__TIMED_OUT
                                            ? SL_ERR_TIMEOUT
                                            : SL_ERR_KAFKA,
                                        "getting the topics from the brokers: %s",
                                        rd_kafka_err2str(kerr));
                        md = NULL;
                        goto done;
                }
                /* A matching topic without its metadata yet (just created, a leader being
                 * elected) is waited for, not silently left out of the range. */
                if (!(kerr = sl_range_md_error(md, &re, &bad)))
                        break;
                if (sl_range_mono_ms() >= deadline) {
                        err =
                            sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "topic %s: %s (for %d s)",
                                      bad, rd_kafka_err2str(kerr), timeout_ms / 1000);
                        goto done;
                }
                rd_kafka_metadata_destroy(md);
                md = NULL;
                usleep(250 * 1000);
        }
        if ((err = sl_range_match(md, &re, range, errstr, errstr_size)))
                goto done;
        if (!range->topic_cnt) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND,
                                "no topic matches '%s' (%d topics in the cluster)", regex,
                                md->topic_cnt);
                goto done;
        }
        for (size_t t = 0; t < range->topic_cnt; t++) {
                const struct rd_kafka_metadata_topic *mt = sl_range_md_topic(md, range->topics[t]);
                int32_t only = -1;

                if (!mt || mt->partition_cnt <= 0)
                        continue;
                if (key)
                        only = rd_kafka_msg_partitioner_murmur2(NULL, key, key_len,
                                                                mt->partition_cnt, NULL, NULL);
                for (int i = 0; i < mt->partition_cnt; i++) {
                        sl_range_part_t *pt;
                        int32_t id = mt->partitions[i].id;

                        if (only >= 0 && id != only)
                                continue;
                        if (range->part_cnt == cap) {
                                size_t ncap = cap ? 2 * cap : 64;
                                sl_range_part_t *np = realloc(range->parts, ncap * sizeof(*np));

                                if (!np) {
                                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM,
                                                        "out of memory");
                                        goto done;
                                }
                                range->parts = np;
                                cap = ncap;
                        }
                        pt = &range->parts[range->part_cnt];
                        memset(pt, 0, sizeof(*pt));
                        if (!(pt->topic = strdup(range->topics[t]))) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto done;
                        }
                        pt->partition = id;
                        range->part_cnt++;
                        if ((kerr = rd_kafka_query_watermark_offsets(rk, pt->topic, id, &pt->low,
                                                                     &pt->high, timeout_ms))) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA,
                                                "the offsets of %s [%d]: %s", pt->topic, (int)id,
                                                rd_kafka_err2str(kerr));
                                goto done;
                        }
                        pt->start = pt->low;
                        pt->end = pt->high;
                }
        }
        qsort(range->parts, range->part_cnt, sizeof(*range->parts), sl_range_cmp_part);
        if (since_ms != SL_RANGE_OPEN &&
            (err = sl_range_times(rk, range, since_ms, 0, timeout_ms, errstr, errstr_size)))
                goto done;
        if (until_ms != SL_RANGE_OPEN &&
            (err = sl_range_times(rk, range, until_ms, 1, timeout_ms, errstr, errstr_size)))
                goto done;
        for (size_t i = 0; i < range->part_cnt; i++) {
                sl_range_part_t *pt = &range->parts[i];

                if (pt->end < pt->start)
                        pt->end = pt->start;
                range->total += pt->end - pt->start;
        }

done:
        if (md)
                rd_kafka_metadata_destroy(md);
        regfree(&re);
        return err;
}

/* ---- progress ---- */

void sl_progress_init(sl_progress_t *pr, const char *what, int force)
{
        memset(pr, 0, sizeof(*pr));
        pr->what = what;
        pr->enabled = force || isatty(STDERR_FILENO);
        pr->started_ms = sl_range_mono_ms();
}

/* "1234567" -> "1,234,567" */
static const char *sl_progress_num(int64_t n, char *buf, size_t size)
{
        char raw[32];
        size_t len, o = 0;

        snprintf(raw, sizeof(raw), "%lld", (long long)n);
        len = strlen(raw);
        for (size_t i = 0; i < len && o + 2 < size; i++) {
                if (i && raw[i - 1] != '-' && (len - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = raw[i];
        }
        buf[o] = '\0';
        return buf;
}

void sl_progress_update(sl_progress_t *pr, int64_t done, int64_t total)
{
        int64_t now = sl_range_mono_ms(), el;
        char a[32], b[32], c[32];
        double rate;

        /* Not in the first 250 ms either: a rate over a few ms says nothing (an ETA of 3000 s). */
        if (!pr || !pr->enabled || now - pr->last_ms < 250 || now - pr->started_ms < 250)
                return;
        pr->last_ms = now;
        el = now - pr->started_ms;
        rate = el > 0 ? (double)done * 1000.0 / (double)el : 0;
        if (total > 0) {
                int64_t eta =
                    rate > 0 && total > done ? (int64_t)((double)(total - done) / rate) : 0;
                int pct = (int)(done * 100 / total);

                fprintf(stderr, "\r\033[K%s %s of %s records (%d%%), %s/s, ETA %llds", pr->what,
                        sl_progress_num(done, a, sizeof(a)), sl_progress_num(total, b, sizeof(b)),
                        pct > 100 ? 100 : pct, sl_progress_num((int64_t)rate, c, sizeof(c)),
                        (long long)eta);
        } else {
                fprintf(stderr, "\r\033[K%s %s records, %s/s", pr->what,
                        sl_progress_num(done, a, sizeof(a)),
                        sl_progress_num((int64_t)rate, c, sizeof(c)));
        }
        fflush(stderr);
}

void sl_progress_done(sl_progress_t *pr)
{
        if (pr && pr->enabled && pr->last_ms) {
                fputs("\r\033[K", stderr);
                fflush(stderr);
        }
}

/* ---- reading ---- */

sl_err_t sl_range_read(rd_kafka_t *rk, const sl_range_t *range, sl_range_record_cb_t *cb,
                       void *opaque, int (*stop)(void), int stall_ms, sl_progress_t *progress,
                       int64_t *readp, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *list = NULL;
        int64_t *pos = NULL, done_records = 0, heard_ms = sl_range_mono_ms();
        int heard = 0; /* a record or an end of partition since heard_ms was last set */
        char last_error[256] = "";
        size_t left = 0;
        rd_kafka_resp_err_t kerr;
        sl_err_t err = SL_OK;

        *readp = 0;
        if (!(pos = calloc(range->part_cnt + 1, sizeof(*pos))) ||
            !(list = rd_kafka_topic_partition_list_new((int)range->part_cnt + 1))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < range->part_cnt; i++) {
                const sl_range_part_t *pt = &range->parts[i];

                pos[i] = pt->start;
                if (pt->start >= pt->end)
                        continue;
                rd_kafka_topic_partition_list_add(list, pt->topic, pt->partition)->offset =
                    pt->start;
                left++;
        }
        if (!left)
                goto done;
        if ((kerr = rd_kafka_assign(rk, list))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "assigning partitions: %s",
                                rd_kafka_err2str(kerr));
                goto done;
        }
        while (left) {
                rd_kafka_message_t *m;
                sl_range_part_t key, *pt;
                size_t i;
                int64_t next;

                if (stop && stop()) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "interrupted");
                        break;
                }
                if (!(m = rd_kafka_consumer_poll(rk, 200))) {
                        int64_t now = sl_range_mono_ms();

                        /* The clock is read when the records pause, not for each of them. */
                        if (heard) {
                                heard_ms = now;
                                heard = 0;
                        }
                        if (stall_ms > 0 && now - heard_ms >= stall_ms) {
                                err = sl_seterr(
                                    errstr, errstr_size, SL_ERR_TIMEOUT,
                                    "nothing from the brokers for %d s, %zu partition%s still to "
                                    "read%s%s%s",
                                    stall_ms / 1000, left, left == 1 ? "" : "s",
                                    *last_error ? " (last error: " : "", last_error,
                                    *last_error ? ")" : "");
                                break;
                        }
                        continue;
                }
                if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        int fatal = m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                    m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                                    m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                                    m->err == RD_KAFKA_RESP_ERR__FATAL;

                        if (fatal)
                                err = sl_seterr(errstr, errstr_size, SL_ERR_KAFKA, "%s%s%s",
                                                m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                                                m->rkt ? ": " : "", rd_kafka_message_errstr(m));
                        else
                                fprintf(stderr, "seerlog: %s\n", rd_kafka_message_errstr(m));
                        snprintf(last_error, sizeof(last_error), "%s", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        if (fatal)
                                break;
                        continue;
                }
                key.topic = (char *)rd_kafka_topic_name(m->rkt);
                key.partition = m->partition;
                pt = bsearch(&key, range->parts, range->part_cnt, sizeof(*pt), sl_range_cmp_part);
                if (!pt) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                i = (size_t)(pt - range->parts);
                heard = 1; /* a record or an end of partition */
                /* At its end (EOF at or past it, a record at or past it): done with it. */
                next = m->err ? m->offset : m->offset + 1;
                if (pos[i] >= pt->end) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (!m->err && m->offset < pt->end) {
                        done_records += m->offset + 1 - pos[i];
                        (*readp)++;
                        if (cb(m, opaque)) {
                                rd_kafka_message_destroy(m);
                                err = sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "stopped");
                                break;
                        }
                }
                rd_kafka_message_destroy(m);
                if (next > pos[i])
                        pos[i] = next;
                if (pos[i] >= pt->end) {
                        left--;
                        rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);

                        /* Fetching further would only fill memory. */
                        if (one) {
                                rd_kafka_topic_partition_list_add(one, pt->topic, pt->partition);
                                rd_kafka_pause_partitions(rk, one);
                                rd_kafka_topic_partition_list_destroy(one);
                        }
                }
                sl_progress_update(progress, done_records, range->total);
        }
        rd_kafka_assign(rk, NULL);

done:
        sl_progress_done(progress);
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        free(pos);
        return err;
}

/* ---- for the subcommands ---- */

rd_kafka_t *sl_range_consumer(sl_cli_t *cli, const char *client_id, int *exitp)
{
        /* No group is joined: librdkafka 2.0.2's rd_kafka_assign() still wants a group.id.
         * auto.offset.reset: a start offset that retention deleted meanwhile reads on from the
         * log's new start; librdkafka's default (largest) would jump to the partition's end and
         * skip all of it without a word. */
        const char *defaults[] = {"client.id",
                                  client_id,
                                  "group.id",
                                  "seerlog-range-assign",
                                  "enable.auto.commit",
                                  "false",
                                  "enable.partition.eof",
                                  "true",
                                  "isolation.level",
                                  "read_committed",
                                  "queued.min.messages",
                                  "1000000",
                                  "auto.offset.reset",
                                  "earliest",
                                  NULL};
        rd_kafka_conf_t *conf = sl_cli_kafka_conf(cli, defaults, exitp);
        char errstr[512];
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                *exitp = sl_cli_usage_error(cli, "creating the consumer: %s", errstr);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        *exitp = SL_EXIT_OK;
        return rk;
}

int sl_range_exit(sl_err_t err)
{
        switch (err) {
        case SL_OK:
                return SL_EXIT_OK;
        case SL_ERR_NOT_FOUND:
                return SL_EXIT_NOT_FOUND;
        case SL_ERR_INVALID_ARG:
                return SL_EXIT_USAGE;
        default:
                return SL_EXIT_FAIL;
        }
}

int sl_cli_time_range(sl_cli_t *cli, int64_t *sincep, int64_t *untilp)
{
        const char *since = sl_cli_str(cli, "since"), *until = sl_cli_str(cli, "until");
        int64_t now = sl_cli_now_ms();
        char errstr[512], a[SL_TIME_TEXT_SIZE], b[SL_TIME_TEXT_SIZE];

        *sincep = *untilp = SL_RANGE_OPEN;
        if (since && sl_time_parse(since, now, sincep, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "--since %s", errstr);
        if (until && sl_time_parse(until, now, untilp, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "--until %s", errstr);
        if (since && until && *untilp <= *sincep)
                return sl_cli_usage_error(
                    cli, "--until %s is not after --since %s: the range is %s",
                    sl_time_format(*untilp, a, sizeof(a)), sl_time_format(*sincep, b, sizeof(b)),
                    *untilp == *sincep ? "empty" : "inverted");
        return SL_EXIT_OK;
}
