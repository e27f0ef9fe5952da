/* seerlog history: every event of one node, from the log, in one order. */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logrange.h"
#include "sl_event.h"
#include "sl_name.h"
#include "sl_registry.h"
#include "sl_time.h"
#include "views.h"

static int sl_history_run(sl_cli_t *cli);

static const sl_opt_t sl_history_opts[] = {
    {"since", 0, "TIME", 0, "Only records with a timestamp at or after TIME"},
    {"until", 0, "TIME", 0, "Only records with a timestamp before TIME"},
    {"topics", 0, "REGEX", 0, "Topics to read (default: project.topic.pattern)"},
    {"output", 'o', "FORMAT", 0, "table (default) or json (one object per line)"},
    {"all-partitions", 0, NULL, 0, "Read every partition, not only the one murmur2 puts NODE in"},
    {0},
};

const sl_cmd_t sl_cmd_history = {
    .name = "history",
    .summary = "Print every event of one node, read from the log",
    .usage = "NODE [--since TIME] [--until TIME] [--topics REGEX] [-o table|json] "
             "[--all-partitions] [options]",
    .description =
        "Reads the events of node NODE from every topic whose name matches --topics (a POSIX\n"
        "extended regular expression; default project.topic.pattern, i.e. every state topic),\n"
        "so a node that changed its type or region is followed across its topics. Reads the\n"
        "log once, up to its end as it is when history starts, without a consumer group and\n"
        "without committing anything.\n"
        "\n"
        "Partitions: in each topic only the partition that murmur2 (partitioner=\n"
        "murmur2_random, what seerlog's producers and the Java clients use) puts the key NODE\n"
        "in. Records with another key are skipped before they are decoded. --all-partitions\n"
        "reads every partition instead: for events written with another partitioner, or\n"
        "before partitions were added to a topic (which moves keys).\n"
        "\n"
        "Time: the records' Kafka timestamps (set by the producer when it produced the\n"
        "event), not the events' event_time. --since and --until make the half-open range\n"
        "[since, until): since included, until excluded; --until must be after --since.\n"
        "Forms: now, -15m / -2h / -7d (also '2h ago'), 2026-11-29T03:12:00Z (RFC 3339; no\n"
        "zone means UTC), 2026-11-29 (midnight UTC), milliseconds since the epoch, @SECONDS.\n"
        "Each partition's range is cut where Kafka's offsets-for-times puts since and until.\n"
        "\n"
        "Order: the node's records of each partition stay in offset order (log order, the\n"
        "order a projector applies them); records of different partitions (topics) are\n"
        "interleaved by timestamp, ties by topic, partition. When timestamps never go back\n"
        "within a partition this is the order of (timestamp, topic, partition, offset).\n"
        "\n"
        "Output (stdout): -o table, one line per event: TIME (the record's timestamp, UTC),\n"
        "TOPIC/PARTITION@OFFSET, INCARNATION, SEQ, KIND, STATUS, SOURCE and DETAIL (cpu and\n"
        "memory of usage, the number of services, the hostname of a join). -o json: one\n"
        "compact object per event, like 'seerlog tail': _topic, _partition, _offset,\n"
        "_timestamp (ms since the epoch), then the event's fields. A summary line goes to\n"
        "stderr. Events are decoded like 'seerlog tail' does (schema.id, else the schema\n"
        "registry); a record of the node that cannot be decoded is reported on stderr as\n"
        "'seerlog: history: TOPIC/PARTITION@OFFSET: reason', counted in the summary, and the\n"
        "others are still printed.\n"
        "\n"
        "Exit status: 0 events were printed; 3 no event of NODE in the range, or no topic\n"
        "matches; 2 usage errors (missing or invalid NODE, unparsable time, empty or inverted\n"
        "range, bad -o or regular expression); 1 a broker that does not answer within 10 s,\n"
        "other Kafka errors, or records of NODE none of which could be decoded; 130 SIGINT or\n"
        "SIGTERM (nothing printed).\n",
    .opts = sl_history_opts,
    .run = sl_history_run,
    .max_args = 1,
};

/* How long the brokers may take to answer: the first contact, then each request (metadata,
 * offsets) while the range is resolved. */
#define SL_HISTORY_TIMEOUT_MS 10000

/*
 * Waits until a broker answers, in short steps so that SIGINT is not held up by
 * sl_range_resolve()'s requests (each bounded by the timeout, none interruptible).
 * @returns 0, 1 when interrupted, or -1 after SL_HISTORY_TIMEOUT_MS with the error in errstr.
 */
static int sl_history_connect(rd_kafka_t *rk, char *errstr, size_t errstr_size)
{
        int64_t deadline = sl_cli_now_mono_ms() + SL_HISTORY_TIMEOUT_MS;
        rd_kafka_resp_err_t err;

        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                int64_t left = deadline - sl_cli_now_mono_ms();

                /* all_topics 0 and no topic: only the brokers, a small answer. */
                err = rd_kafka_metadata(rk, 0, NULL, &md,
                                        left < 250 ? (left > 0 ? (int)left : 1) : 250);
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (!err)
                        return 0;
                if (sl_cli_interrupted())
                        return 1;
                if (sl_cli_now_mono_ms() >= deadline)
                        break;
        }
        snprintf(errstr, errstr_size, "no broker answered within %d s: %s",
                 SL_HISTORY_TIMEOUT_MS / 1000, rd_kafka_err2str(err));
        return -1;
}

/* One event of the node, kept until everything is read. */
typedef struct {
        const char *topic; /* the range's copy */
        int32_t partition;
        int64_t offset, ts;
        char *text; /* -o json: the line; -o table: the DETAIL cell */
        int64_t incarnation, seq;
        sl_event_kind_t kind;
        sl_node_status_t status;
        sl_source_t source;
} sl_hist_ev_t;

typedef struct {
        const char *node;
        size_t node_len;
        int json;
        const sl_range_t *range;
        sl_codec_t *codec;
        sl_event_t *ev;
        sl_hist_ev_t *evs;
        size_t cnt, cap;
        int64_t bad; /* records of the node that could not be decoded */
        int nomem;
} sl_hist_t;

static int sl_history_cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The range's copy of @p name (the message's is gone with the message); its topics are sorted. */
static const char *sl_history_topic(const sl_range_t *range, const char *name)
{
        char *const *t = bsearch(&name, range->topics, range->topic_cnt, sizeof(*range->topics),
                                 sl_history_cmp_str);

        return t ? *t : NULL;
}

/* DETAIL: what the kind carries, briefly; "-" when nothing. */
static char *sl_history_detail(const sl_event_t *ev)
{
        char buf[256] = "";
        size_t off = 0;

#define SL_HIST_ADD(...)                                                                           \
        do {                                                                                       \
                int n_ = snprintf(buf + off, sizeof(buf) - off, "%s", off ? ", " : "");            \
                if (n_ > 0 && (size_t)n_ < sizeof(buf) - off)                                      \
                        off += (size_t)n_;                                                         \
                n_ = snprintf(buf + off, sizeof(buf) - off, __VA_ARGS__);                          \
                if (n_ > 0)                                                                        \
                        off = off + (size_t)n_ < sizeof(buf) ? off + (size_t)n_ : sizeof(buf) - 1; \
        } while (0)

        if (ev->kind == SL_KIND_JOIN && *ev->hostname)
                SL_HIST_ADD("host %s", ev->hostname);
        if (ev->has_usage) {
                if (ev->usage.mem_total > 0)
                        SL_HIST_ADD("cpu %.1f%% mem %.1f%%", ev->usage.cpu_percent,
                                    100.0 * (double)ev->usage.mem_used /
                                        (double)ev->usage.mem_total);
                else
                        SL_HIST_ADD("cpu %.1f%%", ev->usage.cpu_percent);
        }
        if (ev->kind == SL_KIND_SERVICES || ev->service_cnt)
                SL_HIST_ADD("%zu service%s", ev->service_cnt, ev->service_cnt == 1 ? "" : "s");
#undef SL_HIST_ADD
        return strdup(off ? buf : "-");
}

/* The JSON line of @p ev: the record's coordinates, then the event's fields. */
static char *sl_history_json(const sl_event_t *ev, const rd_kafka_message_t *rkm, const char *topic,
                             int64_t ts)
{
        json_t *line = json_object(), *body = sl_event_to_json(ev);
        char *text = NULL;

        /* jansson keeps insertion order: the _ fields come first. */
        if (line && body && !json_object_set_new(line, "_topic", json_string(topic)) &&
            !json_object_set_new(line, "_partition", json_integer(rkm->partition)) &&
            !json_object_set_new(line, "_offset", json_integer(rkm->offset)) &&
            !json_object_set_new(line, "_timestamp", ts >= 0 ? json_integer(ts) : json_null()) &&
            !json_object_update(line, body))
                text = json_dumps(line, JSON_COMPACT);
        json_decref(body);
        json_decref(line);
        return text;
}

/* sl_range_read()'s callback: keeps the node's events, reports its undecodable records. */
static int sl_history_record(const rd_kafka_message_t *rkm, void *opaque)
{
        sl_hist_t *h = opaque;
        const char *topic;
        char errstr[512];
        sl_hist_ev_t *e;
        int64_t ts;
        sl_err_t err;

        if (!rkm->key || rkm->key_len != h->node_len || memcmp(rkm->key, h->node, h->node_len))
                return 0;
        /* sl_range_read() only passes records of the range's topics. */
        if (!(topic = sl_history_topic(h->range, rd_kafka_topic_name(rkm->rkt))))
                return 0;
        if (!rkm->payload) {
                fprintf(stderr, "seerlog: history: %s/%d@%" PRId64 ": empty record (no value)\n",
                        topic, (int)rkm->partition, rkm->offset);
                h->bad++;
                return 0;
        }
        if ((err = sl_codec_decode(h->codec, rkm->payload, rkm->len, h->ev, errstr,
                                   sizeof(errstr)))) {
                fprintf(stderr, "seerlog: history: %s/%d@%" PRId64 ": %s: %s\n", topic,
                        (int)rkm->partition, rkm->offset, sl_err_str(err), errstr);
                h->bad++;
                return 0;
        }
        if (h->cnt == h->cap) {
                size_t cap = h->cap ? 2 * h->cap : 64;
                sl_hist_ev_t *tmp = realloc(h->evs, cap * sizeof(*tmp));

                if (!tmp)
                        goto nomem;
                h->evs = tmp;
                h->cap = cap;
        }
        ts = rd_kafka_message_timestamp(rkm, NULL);
        e = &h->evs[h->cnt];
        *e = (sl_hist_ev_t){.topic = topic,
                            .partition = rkm->partition,
                            .offset = rkm->offset,
                            .ts = ts,
                            .incarnation = h->ev->incarnation,
                            .seq = h->ev->seq,
                            .kind = h->ev->kind,
                            .status = h->ev->status,
                            .source = h->ev->source};
        if (!(e->text =
                  h->json ? sl_history_json(h->ev, rkm, topic, ts) : sl_history_detail(h->ev)))
                goto nomem;
        h->cnt++;
        return 0;

nomem:
        h->nomem = 1;
        return 1;
}

static int sl_history_cmp_log(const void *a, const void *b)
{
        const sl_hist_ev_t *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);

        if (c)
                return c;
        if (x->partition != y->partition)
                return x->partition < y->partition ? -1 : 1;
        return (x->offset > y->offset) - (x->offset < y->offset);
}

/*
 * The print order, as indexes into h->evs: each partition's events stay in offset order, the
 * partitions are merged by timestamp (ties: the earlier topic, partition). @returns NULL when
 * out of memory.
 */
static size_t *sl_history_order(sl_hist_t *h)
{
        size_t *order = malloc((h->cnt + 1) * sizeof(*order));
        size_t *head = NULL, *end = NULL, runs = 0;

        if (!order)
                return NULL;
        qsort(h->evs, h->cnt, sizeof(*h->evs), sl_history_cmp_log);
        /* Runs: one per partition, in (topic, partition) order. */
        if (!(head = malloc((h->cnt + 1) * sizeof(*head))) ||
            !(end = malloc((h->cnt + 1) * sizeof(*end)))) {
                free(order);
                order = NULL;
                goto done;
        }
        for (size_t i = 0; i < h->cnt; i++) {
                if (i && h->evs[i].partition == h->evs[i - 1].partition &&
                    !strcmp(h->evs[i].topic, h->evs[i - 1].topic))
                        continue;
                if (runs)
                        end[runs - 1] = i;
                head[runs++] = i;
        }
        if (runs)
                end[runs - 1] = h->cnt;
        for (size_t n = 0; n < h->cnt; n++) {
                size_t best = runs;

                for (size_t r = 0; r < runs; r++)
                        if (head[r] < end[r] &&
                            (best == runs || h->evs[head[r]].ts < h->evs[head[best]].ts))
                                best = r;
                order[n] = head[best]++;
        }

done:
        free(head);
        free(end);
        return order;
}

static void sl_history_free(sl_hist_t *h)
{
        for (size_t i = 0; i < h->cnt; i++)
                free(h->evs[i].text);
        free(h->evs);
        h->evs = NULL;
        h->cnt = h->cap = 0;
}

static const char *const sl_history_header[] = {
    "TIME", "TOPIC/PARTITION@OFFSET", "INCARNATION", "SEQ", "KIND", "STATUS", "SOURCE", "DETAIL",
};
#define SL_HISTORY_COLS (sizeof(sl_history_header) / sizeof(sl_history_header[0]))

/* Prints the events in @p order. @returns 0, or -1 with errno when stdout failed. */
static int sl_history_print(const sl_hist_t *h, const size_t *order)
{
        sl_table_t t;

        if (h->json) {
                for (size_t n = 0; n < h->cnt; n++)
                        if (fputs(h->evs[order[n]].text, stdout) == EOF || putchar('\n') == EOF)
                                return -1;
                return fflush(stdout) ? -1 : 0;
        }
        sl_table_init(&t, SL_HISTORY_COLS, sl_history_header);
        for (size_t n = 0; n < h->cnt; n++) {
                const sl_hist_ev_t *e = &h->evs[order[n]];
                char time[SL_TIME_TEXT_SIZE], rec[512], inc[32], seq[32];
                const char *cells[SL_HISTORY_COLS];

                if (e->ts >= 0)
                        sl_time_format(e->ts, time, sizeof(time));
                else
                        snprintf(time, sizeof(time), "-");
                snprintf(rec, sizeof(rec), "%s/%d@%" PRId64, e->topic, (int)e->partition,
                         e->offset);
                snprintf(inc, sizeof(inc), "%" PRId64, e->incarnation);
                snprintf(seq, sizeof(seq), "%" PRId64, e->seq);
                cells[0] = time;
                cells[1] = rec;
                cells[2] = inc;
                cells[3] = seq;
                cells[4] = sl_event_kind_name(e->kind);
                cells[5] = sl_node_status_name(e->status);
                cells[6] = sl_source_name(e->source);
                cells[7] = e->text;
                sl_table_add(&t, cells);
        }
        if (t.nomem) {
                sl_table_free(&t);
                errno = ENOMEM;
                return -1;
        }
        sl_table_print(&t, stdout, 0);
        sl_table_free(&t);
        return ferror(stdout) || fflush(stdout) ? -1 : 0;
}

/* "a, b" for up to 4 topics of the range, else "N topics matching 'REGEX'". */
static void sl_history_topics(const sl_range_t *range, const char *regex, char *buf, size_t size)
{
        size_t off = 0;

        if (range->topic_cnt > 4) {
                snprintf(buf, size, "%zu topics matching '%s'", range->topic_cnt, regex);
                return;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < range->topic_cnt && off < size; i++) {
                int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", range->topics[i]);

                off += n > 0 ? (size_t)n : 0;
        }
}

/* "between A and B", "since A", "before B" or "in TOPICS" for the messages. */
static void sl_history_where(const sl_range_t *range, const char *regex, int64_t since,
                             int64_t until, char *buf, size_t size)
{
        char a[SL_TIME_TEXT_SIZE], b[SL_TIME_TEXT_SIZE];

        if (since != SL_RANGE_OPEN && until != SL_RANGE_OPEN)
                snprintf(buf, size, "between %s and %s", sl_time_format(since, a, sizeof(a)),
                         sl_time_format(until, b, sizeof(b)));
        else if (since != SL_RANGE_OPEN)
                snprintf(buf, size, "since %s", sl_time_format(since, a, sizeof(a)));
        else if (until != SL_RANGE_OPEN)
                snprintf(buf, size, "before %s", sl_time_format(until, b, sizeof(b)));
        else {
                char topics[512];

                sl_history_topics(range, regex, topics, sizeof(topics));
                snprintf(buf, size, "in %s", topics);
        }
}

static int sl_history_run(sl_cli_t *cli)
{
        const char *node = sl_cli_arg(cli, 0), *output = sl_cli_str(cli, "output");
        const char *regex = sl_cli_str(cli, "topics");
        int all = sl_cli_count(cli, "all-partitions") > 0;
        int32_t schema_id = (int32_t)sl_conf_get_int(sl_cli_conf(cli), "schema.id");
        sl_registry_client_t *registry = NULL;
        sl_hist_t h = {0};
        sl_range_t range = {0};
        sl_progress_t pr;
        rd_kafka_t *rk = NULL;
        size_t *order = NULL;
        int64_t since, until, read = 0;
        char errstr[512], where[768];
        sl_err_t err;
        regex_t re;
        int ret, rc;

        if (!node)
                return sl_cli_usage_error(cli, "expected the node id: seerlog history NODE");
        if (sl_name_validate("node id", node, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        if (output && strcmp(output, "table") && strcmp(output, "json"))
                return sl_cli_usage_error(cli, "-o %s: expected table or json", output);
        if (!regex)
                regex = sl_conf_get(sl_cli_conf(cli), "project.topic.pattern");
        if (!regex || !*regex)
                return sl_cli_usage_error(cli, "--topics: expected a regular expression");
        /* sl_range_resolve() checks it too, but only once a broker answered. */
        if ((rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB))) {
                regerror(rc, &re, errstr, sizeof(errstr));
                return sl_cli_usage_error(cli, "--topics '%s' is not a regular expression: %s",
                                          regex, errstr);
        }
        regfree(&re);
        if ((ret = sl_cli_time_range(cli, &since, &until)))
                return ret;
        h.node = node;
        h.node_len = strlen(node);
        h.json = output && !strcmp(output, "json");
        h.range = &range;

        if (!(h.codec = sl_codec_new(schema_id, errstr, sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        /* Only contacted for a schema id the codec does not know. */
        if (!(registry = sl_registry_client_new(sl_cli_conf(cli), errstr, sizeof(errstr)))) {
                ret = sl_cli_usage_error(cli, "%s", errstr);
                goto done;
        }
        sl_codec_set_fetch_cb(h.codec, sl_registry_fetch_cb, registry);
        sl_cli_decoder_ids(cli, h.codec);
        if (!(h.ev = sl_event_new())) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (!(rk = sl_range_consumer(cli, "seerlog-history", &ret)))
                goto done;
        sl_cli_trap_signals();
        /* `seerlog history | head` ends with a write error, not a kill. */
        signal(SIGPIPE, SIG_IGN);

        switch (sl_history_connect(rk, errstr, sizeof(errstr))) {
        case 0:
                break;
        case 1:
                sl_cli_fail(cli, "interrupted");
                ret = SL_EXIT_INTERRUPTED;
                goto done;
        default:
                ret = sl_cli_fail(cli, "%s (bootstrap.servers %s)", errstr,
                                  sl_conf_get(sl_cli_conf(cli), "bootstrap.servers"));
                goto done;
        }
        if ((err =
                 sl_range_resolve(rk, regex, since, until, all ? NULL : node, all ? 0 : h.node_len,
                                  SL_HISTORY_TIMEOUT_MS, &range, errstr, sizeof(errstr)))) {
                ret = sl_range_exit(err);
                /* A signal does not cut the brokers' requests short: they end first. */
                if (sl_cli_interrupted()) {
                        sl_cli_fail(cli, "interrupted");
                        ret = SL_EXIT_INTERRUPTED;
                } else if (ret == SL_EXIT_USAGE)
                        sl_cli_usage_error(cli, "--topics %s", errstr);
                else if (ret == SL_EXIT_NOT_FOUND)
                        fprintf(stderr, "seerlog: history: %s\n", errstr);
                else
                        sl_cli_fail(cli, "%s (bootstrap.servers %s)", errstr,
                                    sl_conf_get(sl_cli_conf(cli), "bootstrap.servers"));
                goto done;
        }
        if (sl_cli_interrupted()) {
                sl_cli_fail(cli, "interrupted");
                ret = SL_EXIT_INTERRUPTED;
                goto done;
        }
        sl_progress_init(&pr, "read", 0);
        err = sl_range_read(rk, &range, sl_history_record, &h, sl_cli_interrupted,
                            SL_HISTORY_TIMEOUT_MS, &pr, &read, errstr, sizeof(errstr));
        if (h.nomem) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (err == SL_ERR_INVALID_ARG) { /* stopped by a signal */
                sl_cli_fail(cli, "interrupted after %" PRId64 " records", read);
                ret = SL_EXIT_INTERRUPTED;
                goto done;
        }
        if (err) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }

        sl_history_where(&range, regex, since, until, where, sizeof(where));
        if (!h.cnt && h.bad) {
                ret = h.bad == 1
                          ? sl_cli_fail(cli, "the 1 record of node %s %s could not be decoded",
                                        node, where)
                          : sl_cli_fail(cli,
                                        "none of the %" PRId64
                                        " records of node %s %s could be decoded",
                                        h.bad, node, where);
                goto done;
        }
        if (!h.cnt) {
                fprintf(stderr, "seerlog: history: no events of node %s %s\n", node, where);
                ret = SL_EXIT_NOT_FOUND;
                goto done;
        }
        if (!(order = sl_history_order(&h))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (sl_history_print(&h, order)) {
                /* A closed pipe is how `| head` says "enough". */
                ret = errno == EPIPE ? SL_EXIT_OK
                                     : sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
                goto done;
        }
        fprintf(stderr,
                "seerlog: history: %zu event%s of node %s %s (%zu partition%s of %zu topic%s, "
                "%" PRId64 " records read)",
                h.cnt, h.cnt == 1 ? "" : "s", node, where, range.part_cnt,
                range.part_cnt == 1 ? "" : "s", range.topic_cnt, range.topic_cnt == 1 ? "" : "s",
                read);
        if (h.bad)
                fprintf(stderr, "; %" PRId64 " record%s of the node could not be decoded", h.bad,
                        h.bad == 1 ? "" : "s");
        fputc('\n', stderr);
        ret = SL_EXIT_OK;

done:
        free(order);
        sl_history_free(&h);
        sl_range_clear(&range);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        sl_event_destroy(h.ev);
        sl_codec_destroy(h.codec);
        sl_registry_client_destroy(registry);
        return ret;
}
