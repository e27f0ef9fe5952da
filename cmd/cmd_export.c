/*
 * seerlog export: the events of the state topics in a time range, or the node states of a
 * projector's store, as an Avro container file, JSON lines or CSV (export_format.h), written
 * atomically.
 */
#include "cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "export_format.h"
#include "logrange.h"
#include "sl_event.h"
#include "sl_registry.h"
#include "sl_store.h"
#include "sl_time.h"

static int sl_export_run(sl_cli_t *cli);

static const sl_opt_t sl_export_opts[] = {
    {"format", 0, "FMT", 0, "avro, jsonl or csv (required)"},
    {"out", 'o', "FILE", 0, "Write to FILE (required; - for stdout)"},
    {"force", 0, NULL, 0, "Replace FILE if it exists"},
    {"compression", 0, "CODEC", 0, "avro: null or deflate (default deflate)"},
    {"topics", 0, "REGEX", 0, "Topics to export (default: project.topic.pattern)"},
    {"since", 0, "TIME", 0, "Only records with a Kafka timestamp at or after TIME"},
    {"until", 0, "TIME", 0, "Only records with a Kafka timestamp before TIME"},
    {"timeout-ms", 0, "MS", 0,
     "How long the brokers may take to answer, at the start and while reading (default 10000)"},
    {"state", 0, NULL, 0, "Export the node states of a store instead of the log"},
    {"store", 0, "DIR", 0, "With --state: the projector's store (default: store.dir)"},
    {"print-schema", 0, NULL, 0, "Print the Avro schema of the export's records and exit"},
    {0},
};

static void sl_export_help_extra(FILE *fp)
{
        fprintf(fp, "\nCSV columns (events):\n  %s\nCSV columns (--state):\n  %s\n",
                sl_export_csv_header(0), sl_export_csv_header(1));
}

const sl_cmd_t sl_cmd_export = {
    .name = "export",
    .summary = "Export the log's events, or a store's node states, as Avro, JSON lines or CSV",
    .usage = "--format avro|jsonl|csv --out FILE [--topics REGEX] [--since TIME] [--until TIME]\n"
             "       [--compression null|deflate] [--force] [options]\n"
             "       seerlog export --state --store DIR --format avro|jsonl|csv --out FILE "
             "[--force]",
    .description =
        "Events (the default): every record of the topics matching --topics (POSIX extended\n"
        "regex; default project.topic.pattern) whose Kafka timestamp lies in [--since, --until)\n"
        "(TIME: now, -15m, now-2h, 2h ago, 2026-11-29T03:12:00Z, 2026-11-29 03:12 (UTC),\n"
        "2026-11-29, ms since the epoch, @SECONDS; either bound may be left open). The stretch\n"
        "is fixed when the export starts: per partition from the first record at or after\n"
        "--since to the first record at or after --until (or the log's end then), read once\n"
        "with read_committed. Each partition comes in offset order;\n"
        "the partitions are read together, so their rows are interleaved in the file.\n"
        "Each row is the record's topic, partition, offset and timestamp (ms), then the\n"
        "NodeStateEvent decoded from whatever writer schema the record carries (schema.id is\n"
        "the built-in one; other ids are fetched from registry.url). A record that does not\n"
        "decode (no value, not the wire format, an unknown schema) or whose event is invalid\n"
        "(the rule the projector applies) is not exported: it is reported on stderr as\n"
        "'TOPIC/PARTITION@OFFSET: reason' (the first 10), counted in the summary, and the\n"
        "export goes on.\n"
        "\n"
        "State (--state): every node's current state in the store DIR, in node id order. The\n"
        "store is opened read-only and read in one transaction, so this works beside a\n"
        "projector writing it and gives one consistent view.\n"
        "\n"
        "Formats:\n"
        "  avro   An Avro Object Container File, codec --compression (deflate by default).\n"
        "         Events: records of seerlog.ExportedEvent, a flat record of topic (string),\n"
        "         partition (int), offset (long), timestamp (long, timestamp-millis), then every\n"
        "         field of NodeStateEvent (--print-schema shows it). Metadata: seerlog.topics\n"
        "         (JSON array), seerlog.range (JSON: pattern, since_ms, until_ms, the offsets\n"
        "         [start, end) of each partition), seerlog.created_ms.\n"
        "         State: records of NodeStateEvent itself with the metadata of a snapshot\n"
        "         (seerlog.offsets, seerlog.nodes, seerlog.hash, seerlog.created_ms): 'seerlog\n"
        "         snapshot import' loads it and checks the hash.\n"
        "  jsonl  One JSON object per line: _topic, _partition, _offset, _timestamp (events) or\n"
        "         _source_topic, _source_partition, _source_offset (state: the record the state\n"
        "         came from, null when unknown), then the event as 'seerlog tail' prints it.\n"
        "  csv    RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma,\n"
        "         a quote or a control character (CR, LF, tab, ...), are empty strings or start\n"
        "         or end with a space; quotes doubled. Numbers read back exactly (doubles in\n"
        "         the shortest form that does); addresses, services, sensors and labels are\n"
        "         JSON text; the usage columns are empty when the event has no usage.\n"
        "         timestamp_iso is the Kafka timestamp as UTC RFC 3339 with milliseconds.\n"
        "\n"
        "Output: FILE is written as FILE.XXXXXX.partial in the same directory, fsynced and\n"
        "renamed to FILE only when complete; on an error, SIGINT or SIGTERM the partial file is\n"
        "removed and FILE is left as it was (a second signal kills at once and may leave the\n"
        "partial file). A FILE that exists is refused (exit 2) unless --force. The directory\n"
        "is checked (by creating the partial file) before Kafka or the store is read. '-' writes\n"
        "to stdout instead, as it goes (not atomic; avro only when stdout is not a terminal).\n"
        "A range without events gives a valid empty file (avro: header only; csv: header row)\n"
        "and exit 0. Progress is shown on stderr when it is a terminal; a one-line summary\n"
        "always ends on stderr; stdout carries only data (with --out -).\n"
        "\n"
        "Exit codes: 0 done (undecodable records included); 1 a failure (unreachable brokers\n"
        "after --timeout-ms, or nothing from them for --timeout-ms in the middle of the read;\n"
        "an unwritable directory, a write error, a corrupt store); 2 a\n"
        "usage error (unknown --format or --compression, unparsable or empty time range, a bad\n"
        "regex, --state without a store, FILE exists without --force); 3 no topic matches the\n"
        "pattern; 130 interrupted.\n",
    .opts = sl_export_opts,
    .run = sl_export_run,
    .help_extra = sl_export_help_extra,
};

/* Undecodable records reported one by one; the rest only counted. */
#define SL_EXPORT_REPORT_MAX 10

/* ---- the output file ---- */

typedef struct {
        const char *path; /* FILE, or NULL for stdout */
        char *tmp;        /* FILE.XXXXXX.partial while it exists */
        int fd;
        int force;
} sl_export_out_t;

/* The directory part of @p path ("." for a bare name), malloc()ed. */
static char *sl_export_dirname(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

/* Creates the partial file beside FILE, or opens stdout. @returns an exit code. */
static int sl_export_out_open(sl_cli_t *cli, sl_export_out_t *o)
{
        struct stat st;
        char *dir;
        mode_t mask;
        int ret = SL_EXIT_OK;

        if (!o->path) {
                o->fd = STDOUT_FILENO;
                return SL_EXIT_OK;
        }
        if (!stat(o->path, &st)) {
                if (S_ISDIR(st.st_mode))
                        return sl_cli_fail(cli, "--out %s is a directory", o->path);
                if (!o->force)
                        return sl_cli_usage_error(cli, "%s exists (--force replaces it)", o->path);
        }
        if (!(dir = sl_export_dirname(o->path)) ||
            asprintf(&o->tmp, "%s.XXXXXX.partial", o->path) < 0) {
                o->tmp = NULL;
                free(dir);
                return sl_cli_fail(cli, "out of memory");
        }
        if ((o->fd = mkstemps(o->tmp, 8)) < 0) {
                int e = errno;

                if (stat(dir, &st))
                        ret = sl_cli_fail(cli, "cannot write %s: directory %s: %s", o->path, dir,
                                          strerror(errno));
                else if (!S_ISDIR(st.st_mode))
                        ret = sl_cli_fail(cli, "cannot write %s: %s is not a directory", o->path,
                                          dir);
                else
                        ret = sl_cli_fail(cli, "cannot write %s: creating a file in %s: %s",
                                          o->path, dir, strerror(e));
                free(o->tmp);
                o->tmp = NULL;
                o->fd = -1;
                free(dir);
                return ret;
        }
        free(dir);
        /* mkstemps() makes 0600; the finished file gets the mode a new file would. */
        mask = umask(0);
        umask(mask);
        if (fchmod(o->fd, 0666 & ~mask))
                return sl_cli_fail(cli, "%s: %s", o->tmp, strerror(errno));
        return SL_EXIT_OK;
}

/* Removes the partial file (after a failure or an interruption). */
static void sl_export_out_discard(sl_export_out_t *o)
{
        if (o->path && o->fd >= 0)
                close(o->fd);
        o->fd = -1;
        if (o->tmp) {
                unlink(o->tmp);
                free(o->tmp);
                o->tmp = NULL;
        }
}

/* fsync, close, rename to FILE (not over one that appeared meanwhile unless --force), sync the
 * directory. @returns an exit code; the partial file is gone either way. */
static int sl_export_out_commit(sl_cli_t *cli, sl_export_out_t *o)
{
        char *dir = NULL;
        int dfd, rc;

        if (!o->path)
                return fflush(stdout) ? sl_cli_fail(cli, "stdout: %s", strerror(errno))
                                      : SL_EXIT_OK;
        if (fsync(o->fd) || close(o->fd)) {
                o->fd = -1;
                rc = sl_cli_fail(cli, "writing %s: %s", o->tmp, strerror(errno));
                sl_export_out_discard(o);
                return rc;
        }
        o->fd = -1;
        if (o->force) {
                rc = rename(o->tmp, o->path);
        } else {
                rc = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_NOREPLACE);
                /* A file system without RENAME_NOREPLACE: link() refuses an existing name too. */
                if (rc && errno == EINVAL && !(rc = link(o->tmp, o->path)))
                        unlink(o->tmp);
        }
        if (rc) {
                rc = sl_cli_fail(cli, "renaming %s to %s: %s%s", o->tmp, o->path, strerror(errno),
                                 errno == EEXIST ? " (it appeared during the export)" : "");
                sl_export_out_discard(o);
                return rc;
        }
        free(o->tmp);
        o->tmp = NULL;
        /* The file is complete under its name; syncing the directory makes the rename
         * durable. */
        if ((dir = sl_export_dirname(o->path)) &&
            (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                if (fsync(dfd))
                        fprintf(stderr, "seerlog: export: syncing directory %s: %s\n", dir,
                                strerror(errno));
                close(dfd);
        }
        free(dir);
        return SL_EXIT_OK;
}

/* ---- events ---- */

typedef struct {
        sl_cli_t *cli;
        sl_codec_t *codec;
        sl_event_t *ev;
        sl_export_writer_t *w;
        int64_t skipped;
        sl_err_t werr; /* a write error that stopped the read */
        char errstr[512];
} sl_export_events_t;

static void sl_export_skip(sl_export_events_t *x, const rd_kafka_message_t *m, const char *what,
                           const char *detail)
{
        if (x->skipped++ < SL_EXPORT_REPORT_MAX)
                fprintf(stderr, "seerlog: export: %s/%d@%" PRId64 ": %s%s%s\n",
                        rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset, what,
                        *detail ? ": " : "", detail);
}

static int sl_export_record_cb(const rd_kafka_message_t *m, void *opaque)
{
        sl_export_events_t *x = opaque;
        sl_export_coord_t c;
        rd_kafka_timestamp_type_t tstype;
        char detail[512];
        sl_err_t err;
        int invalid;

        if (!m->payload) {
                sl_export_skip(x, m, "no value (a tombstone)", "");
                return 0;
        }
        if ((err = sl_codec_decode(x->codec, m->payload, m->len, x->ev, detail, sizeof(detail)))) {
                sl_export_skip(x, m, sl_err_str(err), detail);
                return 0;
        }
        c.topic = rd_kafka_topic_name(m->rkt);
        c.partition = m->partition;
        c.offset = m->offset;
        c.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
        if ((err = sl_export_writer_row(x->w, &c, x->ev, &invalid, detail, sizeof(detail)))) {
                if (invalid) {
                        sl_export_skip(x, m, "invalid event", detail);
                        return 0;
                }
                x->werr = err;
                snprintf(x->errstr, sizeof(x->errstr), "%s", detail);
                return 1;
        }
        return 0;
}

static int sl_export_stop(void)
{
        return sl_cli_interrupted();
}

/* The seerlog.* metadata of an events file; malloc()ed texts into @p range_json, @p topics. */
static int sl_export_events_meta(const sl_range_t *r, const char *pattern, int64_t since,
                                 int64_t until, char **range_json, char **topics_json)
{
        json_t *parts = json_array(), *topics = json_array(), *obj = NULL;
        int bad = !parts || !topics;

        for (size_t i = 0; !bad && i < r->part_cnt; i++) {
                const sl_range_part_t *p = &r->parts[i];

                bad |= json_array_append_new(
                    parts, json_pack("{s:s, s:i, s:I, s:I}", "topic", p->topic, "partition",
                                     (int)p->partition, "start", (json_int_t)p->start, "end",
                                     (json_int_t)p->end));
        }
        for (size_t i = 0; !bad && i < r->topic_cnt; i++)
                bad |= json_array_append_new(topics, json_string(r->topics[i]));
        if (!bad)
                obj = json_pack("{s:s, s:o, s:o, s:O}", "pattern", pattern, "since_ms",
                                since == SL_RANGE_OPEN ? json_null() : json_integer(since),
                                "until_ms",
                                until == SL_RANGE_OPEN ? json_null() : json_integer(until),
                                "partitions", parts);
        *range_json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        *topics_json = !bad ? json_dumps(topics, JSON_COMPACT) : NULL;
        json_decref(obj);
        json_decref(parts);
        json_decref(topics);
        return *range_json && *topics_json ? 0 : -1;
}

static void sl_export_summary(const char *what, int64_t rows, const char *from, int64_t bytes,
                              int64_t started, int64_t skipped, const char *dest)
{
        int64_t ms = sl_cli_now_mono_ms() - started;
        double secs = ms > 0 ? (double)ms / 1000.0 : 0.001;

        fprintf(stderr,
                "exported %" PRId64 " %s from %s to %s: %" PRId64 " bytes, %.3f s, %.0f %s/s", rows,
                what, from, dest, bytes, secs, (double)rows / secs, what);
        if (skipped)
                fprintf(stderr, "; %" PRId64 " record%s not exported (undecodable or invalid)",
                        skipped, skipped == 1 ? "" : "s");
        fputc('\n', stderr);
}

static int sl_export_events(sl_cli_t *cli, sl_export_out_t *o, sl_export_format_t fmt,
                            sl_ocf_codec_t ocodec, int64_t since, int64_t until, int timeout_ms)
{
        const sl_conf_t *conf = sl_cli_conf(cli);
        const char *pattern = sl_cli_str(cli, "topics");
        sl_export_events_t x = {.cli = cli};
        sl_registry_client_t *registry = NULL;
        sl_range_t range = {0};
        sl_progress_t progress;
        rd_kafka_t *rk = NULL;
        char *range_json = NULL, *topics_json = NULL, created[24], from[128], errstr[512];
        int64_t started = sl_cli_now_mono_ms(), read = 0;
        sl_err_t err;
        int ret = SL_EXIT_OK;

        if (!pattern)
                pattern = sl_conf_get(conf, "project.topic.pattern");
        if (!(x.codec = sl_codec_new((int32_t)sl_conf_get_int(conf, "schema.id"), errstr,
                                     sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        /* Only contacted for a schema id the codec does not know. */
        if (!(registry = sl_registry_client_new(conf, errstr, sizeof(errstr)))) {
                ret = sl_cli_usage_error(cli, "%s", errstr);
                goto done;
        }
        sl_codec_set_fetch_cb(x.codec, sl_registry_fetch_cb, registry);
        sl_cli_decoder_ids(cli, x.codec);
        if (!(x.ev = sl_event_new())) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (!(rk = sl_range_consumer(cli, "seerlog-export", &ret)))
                goto done;
        if ((err = sl_range_resolve(rk, pattern, since, until, NULL, 0, timeout_ms, &range, errstr,
                                    sizeof(errstr)))) {
                ret = sl_range_exit(err);
                if (sl_cli_interrupted())
                        ret = SL_EXIT_INTERRUPTED;
                else if (ret == SL_EXIT_USAGE)
                        sl_cli_usage_error(cli, "--topics: %s", errstr);
                else if (err == SL_ERR_TIMEOUT)
                        sl_cli_fail(cli, "%s (bootstrap %s, --timeout-ms %d)", errstr,
                                    sl_conf_get(conf, "bootstrap.servers"), timeout_ms);
                else
                        sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if (sl_cli_interrupted()) {
                ret = SL_EXIT_INTERRUPTED;
                goto done;
        }
        snprintf(created, sizeof(created), "%" PRId64, sl_cli_now_ms());
        if (sl_export_events_meta(&range, pattern, since, until, &range_json, &topics_json)) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        {
                const char *meta[] = {"seerlog.topics",
                                      topics_json,
                                      "seerlog.range",
                                      range_json,
                                      "seerlog.created_ms",
                                      created,
                                      NULL};

                if ((err = sl_export_writer_new(fmt, 0, o->fd, ocodec, meta, &x.w, errstr,
                                                sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "%s: %s", o->path ? o->tmp : "stdout", errstr);
                        goto done;
                }
        }
        sl_progress_init(&progress, "exported", 0);
        err = sl_range_read(rk, &range, sl_export_record_cb, &x, sl_export_stop, timeout_ms,
                            &progress, &read, errstr, sizeof(errstr));
        if (x.werr) {
                ret = sl_cli_fail(cli, "%s: %s", o->path ? o->tmp : "stdout", x.errstr);
                goto done;
        }
        if (sl_cli_interrupted()) {
                ret = SL_EXIT_INTERRUPTED;
                goto done;
        }
        if (err == SL_ERR_TIMEOUT) {
                ret = sl_cli_fail(cli, "reading the log: %s (bootstrap %s, --timeout-ms %d)",
                                  errstr, sl_conf_get(conf, "bootstrap.servers"), timeout_ms);
                goto done;
        }
        if (err) {
                ret = sl_cli_fail(cli, "reading the log: %s", errstr);
                goto done;
        }
        if ((err = sl_export_writer_finish(x.w, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s: %s", o->path ? o->tmp : "stdout", errstr);
                goto done;
        }
        if (x.skipped > SL_EXPORT_REPORT_MAX)
                fprintf(stderr, "seerlog: export: ... and %" PRId64 " more not shown\n",
                        x.skipped - SL_EXPORT_REPORT_MAX);
        if ((ret = sl_export_out_commit(cli, o)))
                goto done;
        snprintf(from, sizeof(from), "%zu partition%s of %zu topic%s", range.part_cnt,
                 range.part_cnt == 1 ? "" : "s", range.topic_cnt, range.topic_cnt == 1 ? "" : "s");
        sl_export_summary("events", sl_export_writer_rows(x.w), from, sl_export_writer_bytes(x.w),
                          started, x.skipped, o->path ? o->path : "stdout");

done:
        if (ret == SL_EXIT_INTERRUPTED)
                fprintf(stderr, "seerlog: export: interrupted; %s\n",
                        o->path ? "nothing written" : "the output is incomplete");
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        sl_range_clear(&range);
        sl_export_writer_free(x.w);
        sl_event_destroy(x.ev);
        sl_codec_destroy(x.codec);
        sl_registry_client_destroy(registry);
        free(range_json);
        free(topics_json);
        return ret;
}

/* ---- state ---- */

typedef struct {
        sl_export_writer_t *w;
        sl_store_reader_t *reader; /* sources; NULL for avro */
        sl_progress_t progress;
        int64_t total;
        int interrupted;
        char errstr[512];
} sl_export_state_t;

static int sl_export_node_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        sl_export_state_t *x = opaque;
        sl_export_coord_t c = {0}, *cp = NULL;
        char topic[256];
        int invalid;
        sl_err_t err;

        if (sl_cli_interrupted()) {
                x->interrupted = 1;
                return SL_ERR_INVALID_ARG;
        }
        if (x->reader) {
                char why[512];

                err = sl_store_reader_source(x->reader, node_id, topic, sizeof(topic), &c.partition,
                                             &c.offset, why, sizeof(why));
                if (!err) {
                        c.topic = topic;
                        cp = &c;
                } else if (err != SL_ERR_NOT_FOUND) { /* NOT_FOUND: imported, no source */
                        snprintf(x->errstr, sizeof(x->errstr), "%s", why);
                        return err;
                }
        }
        /* A stored state passed validation when it was stored: an error here is the file's. */
        if ((err = sl_export_writer_row(x->w, cp, ev, &invalid, x->errstr, sizeof(x->errstr)))) {
                if (invalid)
                        snprintf(x->errstr, sizeof(x->errstr), "node %.200s: invalid state",
                                 node_id);
                return err;
        }
        sl_progress_update(&x->progress, sl_export_writer_rows(x->w), x->total);
        return 0;
}

static int sl_export_offset_cb(const char *topic, int32_t partition, int64_t next_offset,
                               void *opaque)
{
        json_t *o = json_pack("{s:s, s:i, s:I}", "topic", topic, "partition", (int)partition,
                              "offset", (json_int_t)next_offset);

        return !o || json_array_append_new(opaque, o) ? SL_ERR_NOMEM : 0;
}

static int sl_export_state(sl_cli_t *cli, sl_export_out_t *o, sl_export_format_t fmt,
                           sl_ocf_codec_t ocodec)
{
        const char *dir = sl_cli_str(cli, "store");
        sl_export_state_t x = {0};
        sl_store_t *s = NULL;
        json_t *offsets = NULL;
        char *offsets_json = NULL, hash[SL_STORE_HASH_HEX_SIZE], nodes[24], created[24];
        char from[4200], errstr[512];
        int64_t started = sl_cli_now_mono_ms();
        sl_err_t err;
        int ret = SL_EXIT_OK;

        if (!dir || !*dir)
                dir = sl_conf_get(sl_cli_conf(cli), "store.dir");
        if ((err = sl_store_open_flags(dir, 1, SL_STORE_READONLY, &s, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        /* One read transaction for the count, hash, offsets and nodes alike. */
        if ((err = sl_store_pin(s, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        x.total = (int64_t)sl_store_node_count(s);
        snprintf(nodes, sizeof(nodes), "%" PRId64, x.total);
        snprintf(created, sizeof(created), "%" PRId64, sl_cli_now_ms());
        if (fmt == SL_EXPORT_AVRO) {
                if ((err = sl_store_hash(s, hash, errstr, sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "%s", errstr);
                        goto done;
                }
                if (!(offsets = json_array()) ||
                    (err = sl_store_offsets(s, sl_export_offset_cb, offsets, errstr,
                                            sizeof(errstr))) ||
                    !(offsets_json = json_dumps(offsets, JSON_COMPACT))) {
                        ret = sl_cli_fail(cli, "%s",
                                          err && err != SL_ERR_NOMEM ? errstr : "out of memory");
                        goto done;
                }
        } else if (!(x.reader = sl_store_reader_new(s, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        {
                /* A snapshot's metadata (sl_snapshot.h), so that snapshot import reads it. */
                const char *meta[] = {"seerlog.offsets",
                                      offsets_json,
                                      "seerlog.nodes",
                                      nodes,
                                      "seerlog.hash",
                                      hash,
                                      "seerlog.created_ms",
                                      created,
                                      NULL};

                if ((err = sl_export_writer_new(fmt, 1, o->fd, ocodec,
                                                fmt == SL_EXPORT_AVRO ? meta : NULL, &x.w, errstr,
                                                sizeof(errstr)))) {
                        ret = sl_cli_fail(cli, "%s: %s", o->path ? o->tmp : "stdout", errstr);
                        goto done;
                }
        }
        sl_progress_init(&x.progress, "exported", 0);
        err = sl_store_walk(s, sl_export_node_cb, &x, errstr, sizeof(errstr));
        sl_progress_done(&x.progress);
        if (x.interrupted) {
                ret = SL_EXIT_INTERRUPTED;
                fprintf(stderr, "seerlog: export: interrupted; %s\n",
                        o->path ? "nothing written" : "the output is incomplete");
                goto done;
        }
        if (err) {
                /* The walk's own errors fill errstr; the callback's fill x.errstr. */
                ret = sl_cli_fail(cli, "%s", *x.errstr ? x.errstr : errstr);
                goto done;
        }
        if (sl_export_writer_rows(x.w) != x.total) {
                ret = sl_cli_fail(cli, "store %s: walked %" PRId64 " nodes, counted %" PRId64, dir,
                                  sl_export_writer_rows(x.w), x.total);
                goto done;
        }
        if ((err = sl_export_writer_finish(x.w, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s: %s", o->path ? o->tmp : "stdout", errstr);
                goto done;
        }
        if ((ret = sl_export_out_commit(cli, o)))
                goto done;
        snprintf(from, sizeof(from), "store %s", dir);
        sl_export_summary("nodes", sl_export_writer_rows(x.w), from, sl_export_writer_bytes(x.w),
                          started, 0, o->path ? o->path : "stdout");

done:
        sl_export_writer_free(x.w);
        sl_store_reader_free(x.reader);
        sl_store_close(s);
        json_decref(offsets);
        free(offsets_json);
        return ret;
}

/* ---- the command ---- */

static int sl_export_print_schema(sl_cli_t *cli, int state)
{
        char errstr[512], *text;

        if (state) {
                fputs(sl_event_schema_text(), stdout);
                return SL_EXIT_OK;
        }
        if (!(text = sl_export_events_schema(JSON_INDENT(2), errstr, sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        puts(text);
        free(text);
        return SL_EXIT_OK;
}

static int sl_export_run(sl_cli_t *cli)
{
        const char *fmt_name = sl_cli_str(cli, "format"), *out = sl_cli_str(cli, "out");
        const char *comp = sl_cli_str(cli, "compression"), *store = sl_cli_str(cli, "store");
        int state = sl_cli_count(cli, "state") > 0;
        sl_export_out_t o = {.fd = -1, .force = sl_cli_count(cli, "force") > 0};
        sl_export_format_t fmt;
        sl_ocf_codec_t ocodec = SL_OCF_CODEC_DEFLATE;
        int64_t since = SL_RANGE_OPEN, until = SL_RANGE_OPEN, timeout_ms;
        int ret;

        if (sl_cli_count(cli, "print-schema"))
                return sl_export_print_schema(cli, state);
        if (!fmt_name)
                return sl_cli_usage_error(cli, "--format avro|jsonl|csv is required");
        if (sl_export_format_parse(fmt_name, &fmt))
                return sl_cli_usage_error(cli, "--format: unknown format '%s' (avro, jsonl, csv)",
                                          fmt_name);
        if (comp && fmt != SL_EXPORT_AVRO)
                return sl_cli_usage_error(cli, "--compression applies to --format avro only");
        if (comp && sl_ocf_codec_parse(comp, &ocodec))
                return sl_cli_usage_error(cli, "--compression: unknown codec '%s' (null, deflate)",
                                          comp);
        if ((ret = sl_cli_int(cli, "timeout-ms", 10000, 1, INT32_MAX, &timeout_ms)))
                return ret;
        if (state) {
                if (sl_cli_str(cli, "topics") || sl_cli_str(cli, "since") ||
                    sl_cli_str(cli, "until"))
                        return sl_cli_usage_error(
                            cli, "--topics, --since and --until select events, not --state");
                if ((!store || !*store) && !*sl_conf_get(sl_cli_conf(cli), "store.dir"))
                        return sl_cli_usage_error(cli, "--state needs --store DIR (or store.dir)");
        } else {
                if (store)
                        return sl_cli_usage_error(cli, "--store goes with --state");
                if ((ret = sl_cli_time_range(cli, &since, &until)))
                        return ret;
        }
        if (!out || !*out)
                return sl_cli_usage_error(cli, "--out FILE is required (- for stdout)");
        if (!strcmp(out, "-")) {
                if (fmt == SL_EXPORT_AVRO && isatty(STDOUT_FILENO))
                        return sl_cli_usage_error(cli, "not writing Avro to a terminal");
                /* A closed pipe is a write error, not a kill. */
                signal(SIGPIPE, SIG_IGN);
        } else {
                o.path = out;
        }
        /* From before the partial file exists: a signal must not leave it behind. */
        sl_cli_trap_signals();
        /* Before Kafka or the store is read: a bad output path fails at once. */
        if ((ret = sl_export_out_open(cli, &o))) {
                sl_export_out_discard(&o);
                return ret;
        }
        ret = state ? sl_export_state(cli, &o, fmt, ocodec)
                    : sl_export_events(cli, &o, fmt, ocodec, since, until, (int)timeout_ms);
        /* Still there after a failure or an interruption: FILE is left as it was. */
        sl_export_out_discard(&o);
        return ret;
}
