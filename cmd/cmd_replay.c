/*
 * seerlog replay and seerlog verify: the log replayed into a fresh store, up to a point in time
 * (what the fleet looked like then), or up to a projection's offsets (is the projection what
 * the log says it should be?).
 */
#include "cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "api_client.h"
#include "logrange.h"
#include "sl_api.h"
#include "sl_projector.h"
#include "sl_snapshot.h"
#include "sl_store.h"
#include "sl_time.h"
#include "views.h"

#define SL_REPLAY_META_TIMEOUT_MS 10000

/* ---- shared: a replay projector run to its ends ---- */

typedef struct {
        sl_projector_t *p;
        sl_projector_stats_t st;
        int64_t ms; /* how long it took */
} sl_replay_result_t;

/* @returns 1 when @p dir holds a store with nodes or offsets, 0 when it holds none. */
static int sl_replay_store_used(const char *dir)
{
        char path[4096];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        return !stat(path, &sb) && sb.st_size > 0;
}

/*
 * Replays @p parts into @p store (a projector of its own, publishing nothing), showing
 * progress against @p total records, until every partition reached its end. On success the
 * projector stays open in @p res (the caller destroys it). @returns an exit code.
 */
static int sl_replay_run(sl_cli_t *cli, const char *store, const sl_replay_part_t *parts,
                         size_t part_cnt, int64_t clock_ms, int64_t total, sl_replay_result_t *res)
{
        sl_replay_t replay = {.parts = parts, .part_cnt = part_cnt, .clock_ms = clock_ms};
        int64_t t0 = sl_cli_now_mono_ms();
        sl_progress_t pr;
        char errstr[512];
        int ret = SL_EXIT_OK;

        memset(res, 0, sizeof(*res));
        if (!(res->p = sl_projector_new_replay(sl_cli_conf(cli), store, &replay, errstr,
                                               sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        sl_progress_init(&pr, "replayed", 0);
        for (;;) {
                if (sl_cli_interrupted()) {
                        ret = SL_EXIT_INTERRUPTED;
                        break;
                }
                if (sl_projector_poll(res->p, 200, errstr, sizeof(errstr)) < 0) {
                        ret = sl_cli_fail(cli, "%s", errstr);
                        break;
                }
                sl_projector_stats(res->p, &res->st);
                sl_progress_update(&pr, (int64_t)res->st.consumed, total);
                if (sl_projector_caught_up(res->p)) {
                        /* The last batch stored (or given up, and read again). */
                        sl_projector_flush(res->p);
                        if (sl_projector_caught_up(res->p))
                                break;
                }
        }
        sl_progress_done(&pr);
        sl_projector_flush(res->p);
        sl_projector_stats(res->p, &res->st);
        res->ms = sl_cli_now_mono_ms() - t0;
        if (ret) {
                sl_projector_destroy(res->p);
                res->p = NULL;
        }
        return ret;
}

/* ---- seerlog replay ---- */

static int sl_replay_cmd(sl_cli_t *cli);

static const sl_opt_t sl_replay_opts[] = {
    {"until", 0, "TIME", 0, "The fleet as of TIME (default: now, the log's end)"},
    {"store", 0, "DIR", 0,
     "Build the store in DIR, a new directory, and keep it (default: a "
     "temporary one, removed at exit)"},
    {"topics", 0, "REGEX", 0, "Topics to replay (default: project.topic.pattern)"},
    {"serve", 0, NULL, 0, "Then serve the replayed state over the HTTP API until SIGINT/SIGTERM"},
    {"listen", 0, "HOST:PORT", 0,
     "Where --serve listens (default: project.listen, else 127.0.0.1:8080; port 0: any)"},
    {"output", 'o', "FORMAT", 0, "text (default) or json (one object)"},
    {0},
};

const sl_cmd_t sl_cmd_replay = {
    .name = "replay",
    .summary = "Rebuild the fleet's state as it was at a point in time",
    .usage = "[--until TIME] [--store DIR] [--topics REGEX] [--serve [--listen HOST:PORT]] "
             "[-o text|json] [options]",
    .description =
        "Replays the state topics (every topic matching --topics, default\n"
        "project.topic.pattern) from the beginning of the log into a new store, stopping each\n"
        "partition at its first record whose Kafka timestamp is at or after --until (Kafka's\n"
        "offsets-for-times cut), and prints the fleet as it was then: nodes by status, by\n"
        "liveness (judged at --until: a node last heard from long before it is suspect or\n"
        "dead, as the projector would have said then) and by region and type.\n"
        "\n"
        "The replay is a projector of its own with the same rules as 'seerlog project' (same\n"
        "guard, same store, same hash for the same events), but it joins no consumer group,\n"
        "commits nothing to Kafka and publishes nothing (no changelog, liveness, lag reports\n"
        "or dead letters; records that cannot be decoded are counted as bad_records). A\n"
        "running projector is not disturbed.\n"
        "\n"
        "TIME is 'now', relative ('-2h', '90m ago', 'now-1d'), RFC 3339\n"
        "('2026-11-28T03:12:00Z', '2026-11-28 03:12' is UTC, '+01:00' offsets), a date\n"
        "('2026-11-28', midnight UTC), milliseconds since the epoch, or @SECONDS.\n"
        "\n"
        "--store DIR keeps the replayed store (a new or empty directory: a store already in\n"
        "use is refused); 'seerlog state --store DIR', 'seerlog snapshot export' and\n"
        "'seerlog export --state' read it afterwards. Without it the store lives in a\n"
        "temporary directory and is removed at exit. --serve then serves it through the same\n"
        "HTTP API as 'seerlog project --listen' (/v1/nodes, /v1/summary, the dashboard at /)\n"
        "until SIGINT or SIGTERM.\n"
        "\n"
        "Progress (records, rate, ETA) is shown on stderr when it is a terminal.\n"
        "Exit codes: 0 done; 1 failure (brokers, registry, store); 2 usage (an unparsable\n"
        "TIME, a used --store); 3 no topic matches; 130 interrupted (a temporary store is\n"
        "removed; a --store DIR is left as far as it got).\n",
    .opts = sl_replay_opts,
    .run = sl_replay_cmd,
};

static void sl_replay_counts(FILE *fp, const char *title, json_t *obj)
{
        const char *key;
        json_t *v;

        fprintf(fp, "  %-9s", title);
        json_object_foreach(obj, key, v)
            fprintf(fp, " %s %lld", key, (long long)json_integer_value(v));
        fputc('\n', fp);
}

static int sl_replay_group_cmp(const void *a, const void *b)
{
        json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
        int c = strcmp(json_string_value(json_object_get(x, "region")),
                       json_string_value(json_object_get(y, "region")));

        return c ? c
                 : strcmp(json_string_value(json_object_get(x, "type")),
                          json_string_value(json_object_get(y, "type")));
}

static json_int_t sl_replay_get(json_t *g, const char *obj, const char *key)
{
        return json_integer_value(json_object_get(json_object_get(g, obj), key));
}

/* The summary as text (stdout). */
static void sl_replay_print_text(json_t *sum, const char *as_of, const sl_range_t *range,
                                 const sl_replay_result_t *res, const char *hash, const char *store)
{
        json_t *groups = json_object_get(sum, "groups"), **gs;
        size_t n = json_array_size(groups);

        printf("Fleet as of %s\n", as_of);
        printf("  log       %" PRIu64 " records of %zu partitions in %zu topics, read in %.1f s\n",
               res->st.consumed, range->part_cnt, range->topic_cnt, (double)res->ms / 1000.0);
        printf("  nodes     %lld\n", (long long)json_integer_value(json_object_get(sum, "nodes")));
        sl_replay_counts(stdout, "status", json_object_get(sum, "status"));
        sl_replay_counts(stdout, "liveness", json_object_get(sum, "liveness"));
        if (res->st.dead_lettered)
                printf("  bad records (not decodable, skipped) %" PRIu64 "\n",
                       res->st.dead_lettered);
        if (n && (gs = calloc(n, sizeof(*gs)))) {
                for (size_t i = 0; i < n; i++)
                        gs[i] = json_array_get(groups, i);
                qsort(gs, n, sizeof(*gs), sl_replay_group_cmp);
                printf("\n  %-16s %-12s %6s %6s %8s %6s %6s %6s %7s %6s\n", "REGION", "TYPE",
                       "NODES", "UP", "DEGRADED", "DOWN", "LEFT", "ALIVE", "SUSPECT", "DEAD");
                for (size_t i = 0; i < n; i++)
                        printf("  %-16s %-12s %6lld %6lld %8lld %6lld %6lld %6lld %7lld %6lld\n",
                               json_string_value(json_object_get(gs[i], "region")),
                               json_string_value(json_object_get(gs[i], "type")),
                               (long long)json_integer_value(json_object_get(gs[i], "nodes")),
                               (long long)sl_replay_get(gs[i], "status", "up"),
                               (long long)sl_replay_get(gs[i], "status", "degraded"),
                               (long long)sl_replay_get(gs[i], "status", "down"),
                               (long long)sl_replay_get(gs[i], "status", "left"),
                               (long long)sl_replay_get(gs[i], "liveness", "alive"),
                               (long long)sl_replay_get(gs[i], "liveness", "suspect"),
                               (long long)sl_replay_get(gs[i], "liveness", "dead"));
                free(gs);
        }
        printf("\n  hash      %s\n", hash);
        if (store)
                printf("  store     %s\n", store);
        fflush(stdout);
}

static int sl_replay_cmd(sl_cli_t *cli)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *store = sl_cli_str(cli, "store"), *topics = sl_cli_str(cli, "topics");
        const char *out = sl_cli_str(cli, "output"), *listen = sl_cli_str(cli, "listen");
        int serve = sl_cli_count(cli, "serve") > 0, json = 0;
        char tmp[4096] = "", errstr[512], hash[SL_STORE_HASH_HEX_SIZE], as_of[SL_TIME_TEXT_SIZE];
        int64_t since, until, clock_ms;
        sl_range_t range = {0};
        sl_replay_part_t *parts = NULL;
        sl_replay_result_t res = {0};
        rd_kafka_t *rk = NULL;
        sl_api_t *api = NULL;
        json_t *sum = NULL;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_time_range(cli, &since, &until)))
                return ret;
        if (out && strcmp(out, "text") && strcmp(out, "json"))
                return sl_cli_usage_error(cli, "-o %s: expected text or json", out);
        json = out && !strcmp(out, "json");
        if (!topics)
                topics = sl_conf_get(conf, "project.topic.pattern");
        if (!topics || !*topics)
                return sl_cli_usage_error(cli, "--topics: expected a regular expression");
        if (listen && !serve)
                return sl_cli_usage_error(cli, "--listen goes with --serve");
        if (serve) {
                if (!listen || !*listen)
                        listen = sl_conf_get(conf, "project.listen");
                if (!listen || !*listen)
                        listen = "127.0.0.1:8080";
                if (sl_api_check_listen(listen, errstr, sizeof(errstr)))
                        return sl_cli_usage_error(cli, "--listen: %s", errstr);
                if (sl_api_check_security(conf, listen, errstr, sizeof(errstr)))
                        return sl_cli_usage_error(cli, "%s", errstr);
        }
        if (store && !*store)
                return sl_cli_usage_error(cli, "--store: expected a directory");
        if (store && sl_replay_store_used(store))
                return sl_cli_usage_error(cli,
                                          "--store %s already holds a store; a replay builds a "
                                          "new one (give a new or empty directory)",
                                          store);
        clock_ms = until == SL_RANGE_OPEN ? sl_cli_now_ms() : until;
        sl_time_format(clock_ms, as_of, sizeof(as_of));

        sl_cli_trap_signals();
        if (!(rk = sl_range_consumer(cli, "seerlog-replay", &ret)))
                return ret;
        err = sl_range_resolve(rk, topics, SL_RANGE_OPEN, until, NULL, 0, SL_REPLAY_META_TIMEOUT_MS,
                               &range, errstr, sizeof(errstr));
        rd_kafka_destroy(rk);
        if (err) {
                ret = sl_range_exit(err);
                if (ret == SL_EXIT_USAGE)
                        sl_cli_usage_error(cli, "--topics: %s", errstr);
                else
                        sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if (!(parts = calloc(range.part_cnt + 1, sizeof(*parts)))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < range.part_cnt; i++)
                parts[i] = (sl_replay_part_t){range.parts[i].topic, range.parts[i].partition,
                                              range.parts[i].end};
        if (!store) {
                if ((ret = sl_cli_tmpdir(cli, "seerlog-replay", tmp, sizeof(tmp))))
                        goto done;
                store = tmp;
        }
        fprintf(stderr,
                "seerlog: replay: %zu partitions of %zu topics, %" PRId64
                " records up to %s, into %s\n",
                range.part_cnt, range.topic_cnt, range.total, as_of, store);
        if ((ret = sl_replay_run(cli, store, parts, range.part_cnt, clock_ms, range.total, &res)))
                goto done;
        if (sl_store_hash(sl_projector_store(res.p), hash, errstr, sizeof(errstr)) ||
            !(sum = sl_summary_json(res.p, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if (json) {
                json_t *o = json_pack(
                    "{s:s, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, "
                    "s:s, s:s?, s:O}",
                    "as_of", as_of, "as_of_ms", (json_int_t)clock_ms, "records",
                    (json_int_t)res.st.consumed, "partitions", (int)range.part_cnt, "topics",
                    (int)range.topic_cnt, "applied", (json_int_t)res.st.applied, "ignored",
                    (json_int_t)res.st.ignored, "bad_records", (json_int_t)res.st.dead_lettered,
                    "ms", (json_int_t)res.ms, "time_ms", "poll",
                    (json_int_t)(res.st.poll_us / 1000), "read",
                    (json_int_t)(res.st.read_us / 1000), "wait",
                    (json_int_t)(res.st.wait_us / 1000), "write",
                    (json_int_t)(res.st.write_us / 1000), "commit",
                    (json_int_t)(res.st.commit_us / 1000), "hash", hash, "store",
                    tmp[0] ? NULL : store, "summary", sum);

                if (!o || json_dumpf(o, stdout, JSON_COMPACT) || puts("") == EOF)
                        ret = sl_cli_fail(cli, "writing the summary failed");
                json_decref(o);
                fflush(stdout);
        } else {
                sl_replay_print_text(sum, as_of, &range, &res, hash, tmp[0] ? NULL : store);
        }
        if (serve && !ret) {
                if (!(api = sl_api_start(res.p, conf, listen, errstr, sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "--listen: %s", errstr);
                        goto done;
                }
                fprintf(stderr,
                        "seerlog: replay: HTTP API on port %d (%s): the fleet as of %s, until "
                        "SIGINT or SIGTERM\n",
                        sl_api_port(api), listen, as_of);
                while (!sl_cli_interrupted())
                        usleep(100 * 1000);
        }

done:
        sl_api_stop(api);
        json_decref(sum);
        if (res.p)
                sl_projector_destroy(res.p);
        free(parts);
        sl_range_clear(&range);
        if (ret == SL_EXIT_INTERRUPTED)
                fprintf(stderr, "seerlog: replay: interrupted%s\n",
                        tmp[0]  ? " (the temporary store is removed)"
                        : store ? "; the store is left as far as it got"
                                : "");
        sl_cli_rmtree(tmp);
        return ret;
}

/* ---- seerlog verify ---- */

static int sl_verify_cmd(sl_cli_t *cli);

static const sl_opt_t sl_verify_opts[] = {
    {"store", 0, "DIR", 0, "The projection to check: a projector's store (it may be running)"},
    {"snapshot", 0, "FILE", 0, "The projection to check: a snapshot ('seerlog snapshot export')"},
    {"url", 0, "URL", 0,
     "The projection to check: a running projector's API (a snapshot of it, GET /v1/snapshot)"},
    {"scratch", 0, "DIR", 0,
     "Build the replay in DIR, a new directory, and keep it (default: temporary)"},
    {"max-diffs", 0, "N", 0, "Show at most N differing nodes (default 10; all are counted)"},
    {"output", 'o', "FORMAT", 0, "text (default) or json (one object)"},
    {0},
};

const sl_cmd_t sl_cmd_verify = {
    .name = "verify",
    .summary = "Check a projection against a replay of the log, node by node",
    .usage = "--store DIR | --snapshot FILE | --url URL [--scratch DIR] [--max-diffs N] "
             "[-o text|json] [options]",
    .description =
        "Audits the projection itself: replays the log from its beginning into a scratch\n"
        "store, exactly up to the offsets the projection says it has applied, and compares the\n"
        "two node by node (every node's stored state, byte for byte: the store's values are\n"
        "canonical). Exit 0 when they match, 4 when they differ.\n"
        "\n"
        "The projection is one of:\n"
        "  --store DIR      a store, opened read-only beside the projector that may be writing\n"
        "                   it; its offsets and nodes are read in one consistent view, held\n"
        "                   until the comparison is done;\n"
        "  --snapshot FILE  a snapshot file, whose own hash is checked first;\n"
        "  --url URL        a running projector's HTTP API, on this host or another: its\n"
        "                   GET /v1/snapshot is a snapshot of its live store (one consistent\n"
        "                   view), downloaded into the scratch directory and checked as a\n"
        "                   snapshot. The api.* client keys give credentials and a CA.\n"
        "Only the partitions the projection has offsets for are replayed: a projector sharing\n"
        "a group holds only its own.\n"
        "\n"
        "A difference is a node only in the projection, only in the replay, or stored\n"
        "differently; the first --max-diffs are shown with the fields that differ. The replay\n"
        "applies the same rules as 'seerlog project' and publishes nothing. It needs the whole\n"
        "log: a partition whose oldest records were deleted (retention) is named in a warning,\n"
        "and nodes whose events are gone show up as differences.\n"
        "\n"
        "Exit codes: 0 match; 4 mismatch; 1 failure (brokers, registry, an unreadable store or\n"
        "snapshot, an API that cannot be reached, a projection ahead of the log); 2 usage; 130\n"
        "interrupted.\n",
    .opts = sl_verify_opts,
    .run = sl_verify_cmd,
};

typedef struct {
        sl_store_reader_t *ra, *rb; /* to decode values for the report */
        sl_event_t *ea, *eb;
        int64_t max, shown;
        uint64_t only_ref, only_replay, differ;
        json_t *diffs; /* the shown ones */
} sl_verify_t;

/* {"node", "kind": only_in_projection|only_in_replay|different, "fields": {...}} */
static int sl_verify_diff_cb(const char *node_id, const uint8_t *a, size_t a_len, const uint8_t *b,
                             size_t b_len, void *opaque)
{
        sl_verify_t *v = opaque;
        json_t *d, *fields = NULL, *ja = NULL, *jb = NULL;
        char errstr[256];
        const char *key;
        json_t *x;

        if (!a)
                v->only_replay++;
        else if (!b)
                v->only_ref++;
        else
                v->differ++;
        if (v->shown >= v->max)
                return 0;
        v->shown++;
        if (a && !sl_store_reader_decode(v->ra, node_id, a, a_len, v->ea, errstr, sizeof(errstr)))
                ja = sl_event_to_json(v->ea);
        if (b && !sl_store_reader_decode(v->rb, node_id, b, b_len, v->eb, errstr, sizeof(errstr)))
                jb = sl_event_to_json(v->eb);
        d = json_pack("{s:s, s:s}", "node", node_id, "kind",
                      !a   ? "only_in_replay"
                      : !b ? "only_in_projection"
                           : "different");
        if (a && b && ja && jb && (fields = json_object())) {
                json_object_foreach(ja, key, x)
                {
                        json_t *y = json_object_get(jb, key);

                        if (!json_equal(x, y))
                                json_object_set_new(
                                    fields, key,
                                    json_pack("{s:O, s:O*}", "projection", x, "replay", y));
                }
        }
        if (d) {
                if (fields)
                        json_object_set_new(d, "fields", fields);
                else if (a && b)
                        json_object_set_new(d, "fields", json_object());
                if (!a || !b)
                        json_object_set(d, "state", a ? ja : jb);
                json_array_append_new(v->diffs, d);
        } else {
                json_decref(fields);
        }
        json_decref(ja);
        json_decref(jb);
        return 0;
}

/* The projection's offsets, from its store (sl_store_offsets()). */
typedef struct {
        sl_replay_part_t *parts;
        size_t cnt, cap;
} sl_verify_offs_t;

static int sl_verify_off_cb(const char *topic, int32_t partition, int64_t next, void *opaque)
{
        sl_verify_offs_t *o = opaque;

        if (o->cnt == o->cap) {
                size_t cap = o->cap ? 2 * o->cap : 64;
                sl_replay_part_t *np = realloc(o->parts, cap * sizeof(*np));

                if (!np)
                        return SL_ERR_NOMEM;
                o->parts = np;
                o->cap = cap;
        }
        if (!(o->parts[o->cnt].topic = strdup(topic)))
                return SL_ERR_NOMEM;
        o->parts[o->cnt].partition = partition;
        o->parts[o->cnt].end = next;
        o->cnt++;
        return 0;
}

static void sl_verify_print_text(const sl_verify_t *v, uint64_t same, int64_t records, size_t parts,
                                 const char *ref, const char *ref_hash, const char *replay_hash,
                                 int64_t ms)
{
        uint64_t bad = v->only_ref + v->only_replay + v->differ;
        size_t n = json_array_size(v->diffs);

        printf("%s: %s\n", bad ? "MISMATCH" : "MATCH", ref);
        printf("  replayed  %" PRId64 " records of %zu partitions in %.1f s\n", records, parts,
               (double)ms / 1000.0);
        printf("  nodes     %" PRIu64 " equal, %" PRIu64 " different, %" PRIu64
               " only in the projection, %" PRIu64 " only in the replay\n",
               same, v->differ, v->only_ref, v->only_replay);
        printf("  hash      projection %s\n            replay     %s\n", ref_hash, replay_hash);
        for (size_t i = 0; i < n; i++) {
                json_t *d = json_array_get(v->diffs, i), *f = json_object_get(d, "fields");
                const char *key;
                json_t *x;

                printf("  %s: %s\n", json_string_value(json_object_get(d, "node")),
                       json_string_value(json_object_get(d, "kind")));
                json_object_foreach(f, key, x)
                {
                        char *pa = json_dumps(json_object_get(x, "projection"),
                                              JSON_COMPACT | JSON_ENCODE_ANY);
                        char *pb = json_dumps(json_object_get(x, "replay"),
                                              JSON_COMPACT | JSON_ENCODE_ANY);

                        printf("      %-14s projection %.80s, replay %.80s\n", key,
                               pa ? pa : "null", pb ? pb : "null");
                        free(pa);
                        free(pb);
                }
        }
        if ((uint64_t)n < bad)
                printf("  ... %" PRIu64 " more (--max-diffs)\n", bad - (uint64_t)n);
        fflush(stdout);
}

/* Warns about partitions whose log no longer starts at 0; fails for a projection ahead of the
 * log. @returns an exit code; *totalp: the records to replay. */
static int sl_verify_check_log(sl_cli_t *cli, const sl_verify_offs_t *o, int64_t *totalp)
{
        rd_kafka_t *rk;
        int ret = SL_EXIT_OK;

        *totalp = 0;
        if (!(rk = sl_range_consumer(cli, "seerlog-verify", &ret)))
                return ret;
        for (size_t i = 0; i < o->cnt && !ret; i++) {
                const sl_replay_part_t *pt = &o->parts[i];
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                    rk, pt->topic, pt->partition, &lo, &hi, SL_REPLAY_META_TIMEOUT_MS);

                if (err)
                        ret = sl_cli_fail(cli, "the offsets of %s [%d]: %s", pt->topic,
                                          (int)pt->partition, rd_kafka_err2str(err));
                else if (pt->end > hi)
                        ret = sl_cli_fail(cli,
                                          "the projection is at offset %" PRId64
                                          " of %s [%d], but the log ends at %" PRId64
                                          " (was the topic recreated?)",
                                          pt->end, pt->topic, (int)pt->partition, hi);
                else if (lo > 0)
                        fprintf(stderr,
                                "seerlog: verify: warning: %s [%d] starts at offset %" PRId64
                                ": older records were deleted, their nodes cannot be replayed\n",
                                pt->topic, (int)pt->partition, lo);
                if (!ret && pt->end > lo)
                        *totalp += pt->end - lo;
        }
        rd_kafka_destroy(rk);
        return ret;
}

/* Downloads the snapshot of the projector at @p api into SCRATCH/projection.snap (its name in
 * @p path). @returns an exit code. */
static int sl_verify_fetch(sl_cli_t *cli, sl_apic_t *api, const char *scratch, char *path,
                           size_t path_size)
{
        char errstr[512];
        int64_t bytes = 0;
        long status = 0;
        sl_err_t err;
        int fd;

        snprintf(path, path_size, "%s/projection.snap", scratch);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
                return sl_cli_fail(cli, "creating %s: %s", path, strerror(errno));
        fprintf(stderr, "seerlog: verify: fetching a snapshot of the projector at %s\n",
                sl_apic_url(api));
        err = sl_apic_get_file(api, "/v1/snapshot", fd, &bytes, &status, errstr, sizeof(errstr));
        if (close(fd) && !err)
                err = sl_seterr(errstr, sizeof(errstr), SL_ERR_IO, "writing %s: %s", path,
                                strerror(errno));
        if (err) {
                unlink(path);
                if (sl_cli_interrupted())
                        return SL_EXIT_INTERRUPTED;
                if (status == 404)
                        return sl_cli_fail(cli,
                                           "%s/v1/snapshot: not found (is it a seerlog projector's "
                                           "API, of this version or newer?)",
                                           sl_apic_url(api));
                return sl_cli_fail(cli, "fetching the projector's snapshot: %s", errstr);
        }
        fprintf(stderr, "seerlog: verify: fetched %" PRId64 " bytes\n", bytes);
        return SL_EXIT_OK;
}

static int sl_verify_cmd(sl_cli_t *cli)
{
        const char *store_dir = sl_cli_str(cli, "store"), *snap = sl_cli_str(cli, "snapshot"),
                   *url = sl_cli_str(cli, "url");
        const char *scratch = sl_cli_str(cli, "scratch"), *out = sl_cli_str(cli, "output");
        int64_t max_diffs = 10, total = 0;
        char tmp[4096] = "", dir[4200], errstr[512], ref_hash[SL_STORE_HASH_HEX_SIZE] = "",
             replay_hash[SL_STORE_HASH_HEX_SIZE] = "", ref_name[4400], fetched[4200];
        sl_verify_offs_t offs = {0};
        sl_apic_t *api = NULL;
        sl_verify_t v = {0};
        sl_snapshot_info_t info = {0};
        sl_replay_result_t res = {0};
        sl_store_t *ref = NULL;
        uint64_t same = 0;
        int json, ret;
        sl_err_t err;

        if ((ret = sl_cli_int(cli, "max-diffs", 10, 0, 1000000, &max_diffs)))
                return ret;
        if (!!store_dir + !!snap + !!url != 1)
                return sl_cli_usage_error(cli, "give the projection to check: --store DIR, "
                                               "--snapshot FILE or --url URL (one of them)");
        if ((store_dir && !*store_dir) || (snap && !*snap))
                return sl_cli_usage_error(cli, "--%s: expected a path",
                                          store_dir ? "store" : "snapshot");
        if (url && (ret = sl_view_client(cli, &api)))
                return ret;
        if (out && strcmp(out, "text") && strcmp(out, "json"))
                return sl_cli_usage_error(cli, "-o %s: expected text or json", out);
        json = out && !strcmp(out, "json");
        if (scratch && (!*scratch || sl_replay_store_used(scratch)))
                return sl_cli_usage_error(cli, "--scratch %s: expected a new or empty directory",
                                          scratch);
        v.max = max_diffs;
        if (!(v.diffs = json_array()) || !(v.ea = sl_event_new()) || !(v.eb = sl_event_new())) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        sl_cli_trap_signals();
        if (!scratch) {
                if ((ret = sl_cli_tmpdir(cli, "seerlog-verify", tmp, sizeof(tmp))))
                        goto done;
                scratch = tmp;
        }

        /* A projector's API: its snapshot, then checked as one. */
        if (url && (ret = sl_verify_fetch(cli, api, scratch, fetched, sizeof(fetched))))
                goto done;
        if (url)
                snap = fetched;

        /* The projection: its nodes and offsets, in one view. */
        if (store_dir) {
                snprintf(ref_name, sizeof(ref_name), "store %s", store_dir);
                if ((err = sl_store_open_flags(store_dir, 1, SL_STORE_READONLY, &ref, errstr,
                                               sizeof(errstr))) ||
                    (err = sl_store_pin(ref, errstr, sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "%s", errstr);
                        goto done;
                }
        } else {
                if (url)
                        snprintf(ref_name, sizeof(ref_name), "projector %s", sl_apic_url(api));
                else
                        snprintf(ref_name, sizeof(ref_name), "snapshot %s", snap);
                snprintf(dir, sizeof(dir), "%s/projection", scratch);
                if (sl_store_open(dir, sl_conf_get_int(sl_cli_conf(cli), "store.max.bytes"), &ref,
                                  errstr, sizeof(errstr)) ||
                    sl_snapshot_import(snap, ref, &info, errstr, sizeof(errstr))) {
                        ret = sl_cli_fail(cli, "%s", errstr);
                        goto done;
                }
        }
        if ((err = sl_store_offsets(ref, sl_verify_off_cb, &offs, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", err == SL_ERR_NOMEM ? "out of memory" : errstr);
                goto done;
        }
        if (!offs.cnt) {
                ret = sl_cli_fail(cli, "the %s has no offsets: it has read nothing to verify",
                                  ref_name);
                goto done;
        }
        if ((ret = sl_verify_check_log(cli, &offs, &total)))
                goto done;
        fprintf(stderr, "seerlog: verify: replaying %" PRId64 " records of %zu partitions\n", total,
                offs.cnt);

        snprintf(dir, sizeof(dir), "%s/replay", scratch);
        if ((ret = sl_replay_run(cli, dir, offs.parts, offs.cnt, 0, total, &res)))
                goto done;
        if (sl_store_hash(ref, ref_hash, errstr, sizeof(errstr)) ||
            sl_store_hash(sl_projector_store(res.p), replay_hash, errstr, sizeof(errstr)) ||
            !(v.ra = sl_store_reader_new(ref, errstr, sizeof(errstr))) ||
            !(v.rb = sl_store_reader_new(sl_projector_store(res.p), errstr, sizeof(errstr))) ||
            sl_store_diff(ref, sl_projector_store(res.p), sl_verify_diff_cb, &v, &same, errstr,
                          sizeof(errstr))) {
                ret = sl_cli_fail(cli, "comparing: %s", errstr);
                goto done;
        }
        if (json) {
                json_t *o = json_pack(
                    "{s:b, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:O}", "match",
                    !(v.only_ref + v.only_replay + v.differ), "projection", ref_name, "records",
                    (json_int_t)res.st.consumed, "partitions", (int)offs.cnt, "equal",
                    (json_int_t)same, "different", (json_int_t)v.differ, "only_in_projection",
                    (json_int_t)v.only_ref, "only_in_replay", (json_int_t)v.only_replay,
                    "projection_hash", ref_hash, "replay_hash", replay_hash, "ms",
                    (json_int_t)res.ms, "diffs", v.diffs);

                if (!o || json_dumpf(o, stdout, JSON_COMPACT) || puts("") == EOF)
                        ret = sl_cli_fail(cli, "writing the result failed");
                json_decref(o);
                fflush(stdout);
        } else {
                sl_verify_print_text(&v, same, (int64_t)res.st.consumed, offs.cnt, ref_name,
                                     ref_hash, replay_hash, res.ms);
        }
        if (!ret && v.only_ref + v.only_replay + v.differ)
                ret = SL_EXIT_MISMATCH;

done:
        sl_apic_destroy(api);
        sl_store_reader_free(v.ra);
        sl_store_reader_free(v.rb);
        sl_event_destroy(v.ea);
        sl_event_destroy(v.eb);
        json_decref(v.diffs);
        if (res.p)
                sl_projector_destroy(res.p);
        sl_store_close(ref);
        sl_snapshot_info_clear(&info);
        for (size_t i = 0; i < offs.cnt; i++)
                free((char *)offs.parts[i].topic);
        free(offs.parts);
        sl_cli_rmtree(tmp);
        if (ret == SL_EXIT_INTERRUPTED)
                fprintf(stderr, "seerlog: verify: interrupted\n");
        return ret;
}
