/* seerlog agent: publishes the state of the node it runs on. */
#include "cmds.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sl_event.h"
#include "sl_kafka.h"
#include "sl_producer.h"
#include "sl_sysinfo.h"

static int sl_agent_run(sl_cli_t *cli);

static const sl_opt_t sl_agent_opts[] = {
    {"node", 0, "ID", 0, "The node's id (sets node.id; default: the hostname)"},
    {"type", 0, "TYPE", 0, "The node's role (sets node.type)"},
    {"region", 0, "REGION", 0, "The node's region (sets node.region)"},
    {"once", 0, NULL, 0, "Publish one join and one leave, wait for delivery, and exit"},
    {"stats-interval", 0, "S", 0, "Print the counters as a JSON line on stderr every S seconds"},
    {"flush-timeout-ms", 0, "MS", 0, "How long to wait for delivery at exit (default 10000)"},
    {"disk-path", 0, "PATH", 0, "File system whose size is reported (default /)"},
    {"record", 0, "FILE", 0, "Append NODE INCARNATION SEQ to FILE for every event accepted"},
    {0},
};

const sl_cmd_t sl_cmd_agent = {
    .name = "agent",
    .summary = "Publish this node's state: join, heartbeats, changes, leave",
    .usage = "[--type TYPE] [--region REGION] [--node ID] [--once] [--stats-interval S] "
             "[options]",
    .description =
        "Runs on a node and publishes its state as NodeStateEvents to topic.template (see\n"
        "docs/agent.md). Every event carries the node's full state: status, hostname,\n"
        "addresses, services, labels and usage (CPU, load, memory, disk).\n"
        "\n"
        "  join           at start (status from node.status.file, else up)\n"
        "  status_change  when the first word of node.status.file changes\n"
        "  services       when node.services.file (or node.services) changes\n"
        "  usage          when CPU, memory or disk use moved by usage.threshold.percent\n"
        "                 points since the last usage event\n"
        "  heartbeat      when no event was sent for the heartbeat interval\n"
        "  leave          on SIGTERM or SIGINT (status left)\n"
        "\n"
        "The node is read every check.interval.ms. The heartbeat interval is\n"
        "heartbeat.interval.ms; while a projector reports on control.topic a lag above\n"
        "lag.high it doubles up to heartbeat.max.interval.ms, and it returns to normal below\n"
        "lag.low. Events go through the durable outbox (outbox.dir): what is not delivered at\n"
        "exit (--flush-timeout-ms) is sent at the next start, and seq goes on from there.\n"
        "--record FILE appends one line NODE INCARNATION SEQ per accepted event (once its\n"
        "outbox transaction committed), written out at once, for fault tests and audits.\n"
        "\n"
        "node.type and node.region are required. Exits 0 after a clean shutdown, 2 on a\n"
        "configuration error, 1 when the producer cannot start or the join cannot be\n"
        "published (and with --once when the events were not delivered in time; they stay\n"
        "in the outbox).\n",
    .opts = sl_agent_opts,
    .run = sl_agent_run,
    .help_extra = sl_conf_print_help,
};

/* Largest status or services file read. */
#define SL_AGENT_FILE_MAX (64 * 1024)
/* The loop serves delivery reports and the control topic at least this often. */
#define SL_AGENT_POLL_MS 100

typedef struct {
        sl_cli_t *cli;
        const sl_conf_t *conf;
        sl_producer_t *p;
        sl_sysinfo_t *si;
        sl_event_t *ev;       /* The event being built. */
        sl_event_t *labels;   /* node.labels, parsed once. */
        sl_event_t *svc;      /* Services as last read. */
        sl_event_t *svc_pub;  /* Services as last published. */
        sl_event_t *svc_read; /* Scratch for a new read. */
        const char *node_id, *type, *region, *cluster;
        const char *status_file, *services_key, *services_file;
        char hostname[256];
        char *file_buf; /* SL_AGENT_FILE_MAX + 1 */
        sl_node_status_t status, status_pub;
        sl_usage_t usage;
        int has_usage;
        double usage_pct_pub[3];
        int64_t check_ms, threshold;
        int64_t last_event_ms; /* Monotonic time of the last event accepted. */
        int64_t hb_interval_ms;
        uint64_t published[SL_KIND__CNT];
        uint64_t errors;
        char last_warning[512]; /* Repeated warnings are printed once. */
} sl_agent_t;

static void sl_agent_warn(sl_agent_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sl_agent_warn(sl_agent_t *a, const char *fmt, ...)
{
        char msg[sizeof(a->last_warning)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!strcmp(msg, a->last_warning))
                return;
        snprintf(a->last_warning, sizeof(a->last_warning), "%s", msg);
        fprintf(stderr, "seerlog: agent: %s\n", msg);
}

/*
 * Reads @p path into a->file_buf. @returns 1 when read, 0 when the file does not exist
 * (a->file_buf is ""), -1 on another error (@p errstr says which).
 */
static int sl_agent_read_file(sl_agent_t *a, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        size_t len;

        a->file_buf[0] = '\0';
        if (!fp) {
                if (errno == ENOENT)
                        return 0;
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        len = fread(a->file_buf, 1, SL_AGENT_FILE_MAX, fp);
        if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                fclose(fp);
                return -1;
        }
        if (len == SL_AGENT_FILE_MAX && fgetc(fp) != EOF) {
                /* Cut in the middle of a line it would be misread: refuse it whole. */
                snprintf(errstr, errstr_size, "%s: larger than %d bytes", path, SL_AGENT_FILE_MAX);
                fclose(fp);
                return -1;
        }
        fclose(fp);
        a->file_buf[len] = '\0';
        if (strlen(a->file_buf) != len) {
                snprintf(errstr, errstr_size, "%s: contains a NUL byte", path);
                return -1;
        }
        return 1;
}

/* Reads the status file into *statusp. @returns SL_OK or an error with @p errstr. */
static sl_err_t sl_agent_read_status(sl_agent_t *a, sl_node_status_t *statusp, char *errstr,
                                     size_t errstr_size)
{
        char detail[512];

        if (!*a->status_file) {
                *statusp = SL_STATUS_UP;
                return SL_OK;
        }
        if (sl_agent_read_file(a, a->status_file, errstr, errstr_size) < 0)
                return SL_ERR_IO;
        if (sl_node_status_file_parse(a->file_buf, statusp, detail, sizeof(detail)))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE, "%s: %s", a->status_file,
                                 detail);
        return SL_OK;
}

/* Reads node.services and node.services.file into a->svc_read. */
static sl_err_t sl_agent_read_services(sl_agent_t *a, char *errstr, size_t errstr_size)
{
        char detail[512];
        sl_err_t err;
        int r;

        sl_event_reset(a->svc_read);
        if ((err =
                 sl_node_services_parse(a->svc_read, a->services_key, ',', detail, sizeof(detail))))
                return sl_seterr(errstr, errstr_size, err, "node.services: %s", detail);
        if (!*a->services_file)
                return SL_OK;
        if ((r = sl_agent_read_file(a, a->services_file, errstr, errstr_size)) < 0)
                return SL_ERR_IO;
        if (r == 0)
                sl_agent_warn(a, "%s does not exist: no services from it", a->services_file);
        if ((err = sl_node_services_parse(a->svc_read, a->file_buf, '\n', detail, sizeof(detail))))
                return sl_seterr(errstr, errstr_size, err, "%s: %s", a->services_file, detail);
        return SL_OK;
}

/* Fills a->ev with the node's full state, for an event of @p kind. */
static sl_err_t sl_agent_build(sl_agent_t *a, sl_event_kind_t kind, sl_node_status_t status,
                               char *errstr, size_t errstr_size)
{
        sl_event_t *ev = a->ev;
        sl_err_t err;

        sl_event_reset(ev);
        ev->kind = kind;
        ev->status = status;
        ev->source = SL_SOURCE_AGENT;
        if ((err = sl_event_set(ev, &ev->node_id, a->node_id)) ||
            (err = sl_event_set(ev, &ev->node_type, a->type)) ||
            (err = sl_event_set(ev, &ev->region, a->region)) ||
            (err = sl_event_set(ev, &ev->cluster, a->cluster)) ||
            (err = sl_event_set(ev, &ev->hostname, a->hostname)) ||
            (err = sl_event_set(ev, &ev->agent_version, "seerlog-agent/" SEERLOG_VERSION)))
                return sl_seterr(errstr, errstr_size, err, "building the event: %s",
                                 sl_err_str(err));
        if ((err = sl_sysinfo_add_addresses(ev, errstr, errstr_size)))
                sl_agent_warn(a, "%s", errstr); /* The event goes out without addresses. */
        for (size_t i = 0; i < a->svc->service_cnt; i++) {
                const sl_service_t *s = &a->svc->services[i];

                if ((err = sl_event_add_service(ev, s->name)))
                        goto nomem;
                for (size_t j = 0; j < s->meta_cnt; j++)
                        if ((err = sl_event_add_service_meta(ev, s->meta[j].key, s->meta[j].value)))
                                goto nomem;
        }
        for (size_t i = 0; i < a->labels->label_cnt; i++)
                if ((err = sl_event_add_label(ev, a->labels->labels[i].key,
                                              a->labels->labels[i].value)))
                        goto nomem;
        if (a->has_usage) {
                ev->has_usage = 1;
                ev->usage = a->usage;
                ev->usage.sensors = NULL;
                ev->usage.sensor_cnt = 0;
        }
        return SL_OK;

nomem:
        return sl_seterr(errstr, errstr_size, err, "building the event: %s", sl_err_str(err));
}

/* Builds, stamps and publishes one event. @returns SL_OK or the error (in @p errstr). */
static sl_err_t sl_agent_publish(sl_agent_t *a, sl_event_kind_t kind, sl_node_status_t status,
                                 char *errstr, size_t errstr_size)
{
        sl_err_t err;

        if ((err = sl_agent_build(a, kind, status, errstr, errstr_size)) ||
            (err = sl_producer_stamp(a->p, a->ev, errstr, errstr_size)) ||
            (err = sl_producer_publish(a->p, a->ev, errstr, errstr_size))) {
                a->errors++;
                return err;
        }
        a->published[kind]++;
        a->last_event_ms = sl_cli_now_mono_ms();
        if (kind == SL_KIND_JOIN || kind == SL_KIND_USAGE)
                sl_usage_percents(&a->usage, a->usage_pct_pub);
        return SL_OK;
}

/* Publishes @p kind; a failure is a warning (the check retries what still differs). */
static void sl_agent_publish_warn(sl_agent_t *a, sl_event_kind_t kind, sl_node_status_t status)
{
        char errstr[512];
        sl_err_t err = sl_agent_publish(a, kind, status, errstr, sizeof(errstr));

        if (err)
                sl_agent_warn(a, "publishing a %s event: %s: %s", sl_event_kind_name(kind),
                              sl_err_str(err), errstr);
}

/* Reads the node and publishes what changed. */
static void sl_agent_check(sl_agent_t *a)
{
        char errstr[512];
        sl_node_status_t status;
        double pct[3];

        if (sl_agent_read_status(a, &status, errstr, sizeof(errstr)))
                sl_agent_warn(a, "%s (status stays %s)", errstr, sl_node_status_name(a->status));
        else
                a->status = status;
        if (sl_agent_read_services(a, errstr, sizeof(errstr))) {
                sl_agent_warn(a, "%s (services unchanged)", errstr);
        } else {
                sl_event_t *tmp = a->svc;

                a->svc = a->svc_read;
                a->svc_read = tmp;
        }
        if (sl_sysinfo_read(a->si, &a->usage, errstr, sizeof(errstr)))
                sl_agent_warn(a, "reading usage: %s", errstr);
        else
                a->has_usage = 1;

        /* Compared with what was published, so a failed publish is retried at the next check. */
        if (a->status != a->status_pub) {
                if (!sl_agent_publish(a, SL_KIND_STATUS_CHANGE, a->status, errstr, sizeof(errstr)))
                        a->status_pub = a->status;
                else
                        sl_agent_warn(a, "publishing a status_change event: %s", errstr);
        }
        if (!sl_node_services_equal(a->svc, a->svc_pub)) {
                if (!sl_agent_publish(a, SL_KIND_SERVICES, a->status_pub, errstr, sizeof(errstr)))
                        sl_event_copy(a->svc_pub, a->svc);
                else
                        sl_agent_warn(a, "publishing a services event: %s", errstr);
        }
        sl_usage_percents(&a->usage, pct);
        if (a->has_usage && sl_usage_moved(a->usage_pct_pub, pct, (double)a->threshold))
                sl_agent_publish_warn(a, SL_KIND_USAGE, a->status_pub);
}

static void sl_agent_print_stats(sl_agent_t *a)
{
        sl_producer_stats_t st;
        json_t *o = json_object(), *pub = json_object();

        if (!o || !pub)
                goto done;
        sl_producer_stats(a->p, &st);
        for (int k = SL_KIND_JOIN; k < SL_KIND__CNT; k++)
                json_object_set_new(pub, sl_event_kind_name((sl_event_kind_t)k),
                                    json_integer((json_int_t)a->published[k]));
        json_object_set_new(o, "time_ms", json_integer(sl_cli_now_ms()));
        json_object_set_new(o, "node_id", json_string(a->node_id));
        json_object_set_new(o, "accepted", json_integer((json_int_t)st.accepted));
        json_object_set_new(o, "sent", json_integer((json_int_t)st.sent));
        json_object_set_new(o, "retried", json_integer((json_int_t)st.retried));
        json_object_set_new(o, "replayed", json_integer((json_int_t)st.replayed));
        json_object_set_new(o, "coalesced", json_integer((json_int_t)st.coalesced));
        json_object_set_new(o, "rejected", json_integer((json_int_t)st.rejected));
        json_object_set_new(o, "outbox_depth", json_integer((json_int_t)st.outbox_depth));
        json_object_set_new(o, "parked", json_integer((json_int_t)st.parked));
        json_object_set_new(o, "in_flight", json_integer((json_int_t)st.in_flight));
        json_object_set_new(o, "lag", json_integer(st.lag));
        json_object_set_new(o, "throttled", json_integer(st.throttled));
        json_object_set_new(o, "heartbeat_interval_ms", json_integer(a->hb_interval_ms));
        json_object_set_new(o, "errors", json_integer((json_int_t)a->errors));
        json_object_set(o, "published", pub);
        json_dumpf(o, stderr, JSON_COMPACT);
        fputc('\n', stderr);
        fflush(stderr);

done:
        json_decref(pub);
        json_decref(o);
}

/* Applies --node/--type/--region to the configuration. */
static int sl_agent_apply_flags(sl_cli_t *cli)
{
        static const char *const flags[][2] = {
            {"node", "node.id"}, {"type", "node.type"}, {"region", "node.region"}};
        char errstr[512], origin[32];

        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
                const char *v = sl_cli_str(cli, flags[i][0]);

                snprintf(origin, sizeof(origin), "flag --%s", flags[i][0]);
                if (v && sl_conf_set_from(sl_cli_conf(cli), flags[i][1], v, origin, errstr,
                                          sizeof(errstr)))
                        return sl_cli_usage_error(cli, "--%s: %s", flags[i][0], errstr);
        }
        return 0;
}

/* Reads and checks the node's description. @returns 0 or the exit code. */
static int sl_agent_setup(sl_agent_t *a)
{
        sl_cli_t *cli = a->cli;
        char errstr[512];
        sl_err_t err;

        if (sl_sysinfo_hostname(a->hostname, sizeof(a->hostname), errstr, sizeof(errstr)))
                return sl_cli_fail(cli, "%s", errstr);
        a->node_id = sl_conf_get(a->conf, "node.id");
        if (!*a->node_id)
                a->node_id = a->hostname;
        a->type = sl_conf_get(a->conf, "node.type");
        a->region = sl_conf_get(a->conf, "node.region");
        a->cluster = sl_conf_get(a->conf, "node.cluster");
        a->status_file = sl_conf_get(a->conf, "node.status.file");
        a->services_key = sl_conf_get(a->conf, "node.services");
        a->services_file = sl_conf_get(a->conf, "node.services.file");
        a->check_ms = sl_conf_get_int(a->conf, "check.interval.ms");
        a->threshold = sl_conf_get_int(a->conf, "usage.threshold.percent");
        if (!*a->type)
                return sl_cli_usage_error(cli, "node.type is required (--type TYPE or -X "
                                               "node.type=TYPE: seer, gateway, ...)");
        if (!*a->region)
                return sl_cli_usage_error(cli, "node.region is required (--region REGION or -X "
                                               "node.region=REGION)");
        if (sl_name_validate("node id", a->node_id, errstr, sizeof(errstr)) ||
            sl_name_validate("type", a->type, errstr, sizeof(errstr)) ||
            sl_name_validate("region", a->region, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        if ((err = sl_node_labels_parse(a->labels, sl_conf_get(a->conf, "node.labels"), errstr,
                                        sizeof(errstr))))
                return err == SL_ERR_NOMEM ? sl_cli_fail(cli, "out of memory")
                                           : sl_cli_usage_error(cli, "node.labels: %s", errstr);
        /* At start a bad file is a configuration error; later it is a warning. */
        if ((err = sl_agent_read_status(a, &a->status, errstr, sizeof(errstr))) ||
            (err = sl_agent_read_services(a, errstr, sizeof(errstr))))
                return err == SL_ERR_NOMEM ? sl_cli_fail(cli, "out of memory")
                                           : sl_cli_usage_error(cli, "%s", errstr);
        {
                sl_event_t *tmp = a->svc;

                a->svc = a->svc_read;
                a->svc_read = tmp;
        }
        if (!(a->si = sl_sysinfo_new(NULL, sl_cli_str(cli, "disk-path"), errstr, sizeof(errstr))))
                return sl_cli_usage_error(cli, "--disk-path %s", errstr);
        if (sl_sysinfo_read(a->si, &a->usage, errstr, sizeof(errstr)))
                sl_agent_warn(a, "reading usage: %s", errstr);
        else
                a->has_usage = 1;
        return 0;
}

/* Publishes leave, waits for delivery. @returns 0 when everything was delivered. */
static int sl_agent_leave(sl_agent_t *a, int64_t flush_ms)
{
        char errstr[512];
        sl_producer_stats_t st;
        sl_err_t err;

        if ((err = sl_agent_publish(a, SL_KIND_LEAVE, SL_STATUS_LEFT, errstr, sizeof(errstr))))
                fprintf(stderr, "seerlog: agent: publishing the leave event: %s: %s\n",
                        sl_err_str(err), errstr);
        if (sl_producer_flush(a->p, (int)flush_ms)) {
                sl_producer_stats(a->p, &st);
                fprintf(stderr,
                        "seerlog: agent: %llu event(s) not delivered within %lld ms stay in the "
                        "outbox for the next start\n",
                        (unsigned long long)(st.outbox_depth ? st.outbox_depth
                                                             : st.in_flight + st.parked),
                        (long long)flush_ms);
                return -1;
        }
        return err ? -1 : 0;
}

static int sl_agent_run(sl_cli_t *cli)
{
        sl_agent_t a = {.cli = cli, .conf = sl_cli_conf(cli)};
        int once = sl_cli_count(cli, "once") > 0;
        int64_t stats_s, flush_ms, now, next_check, next_stats = INT64_MAX;
        char errstr[512], topic[256];
        FILE *record = NULL;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_int(cli, "stats-interval", 0, 1, 86400, &stats_s)) ||
            (ret = sl_cli_int(cli, "flush-timeout-ms", 10000, 0, INT32_MAX, &flush_ms)) ||
            (ret = sl_agent_apply_flags(cli)))
                return ret;
        if (!(a.ev = sl_event_new()) || !(a.labels = sl_event_new()) || !(a.svc = sl_event_new()) ||
            !(a.svc_pub = sl_event_new()) || !(a.svc_read = sl_event_new()) ||
            !(a.file_buf = malloc(SL_AGENT_FILE_MAX + 1))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if ((ret = sl_agent_setup(&a)))
                goto done;
        if (sl_topic_expand(sl_conf_get(a.conf, "topic.template"), a.region, a.type, topic,
                            sizeof(topic), errstr, sizeof(errstr))) {
                ret = sl_cli_usage_error(cli, "topic.template: %s", errstr);
                goto done;
        }
        if (!(a.p = sl_producer_new(a.conf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "starting the producer: %s", errstr);
                goto done;
        }
        if ((ret = sl_cli_record_start(cli, a.p, &record)))
                goto done;
        sl_cli_trap_signals();
        signal(SIGPIPE, SIG_IGN);

        if ((err = sl_agent_publish(&a, SL_KIND_JOIN, a.status, errstr, sizeof(errstr)))) {
                ret =
                    sl_cli_fail(cli, "publishing the join event: %s: %s", sl_err_str(err), errstr);
                goto done;
        }
        a.status_pub = a.status;
        sl_event_copy(a.svc_pub, a.svc);
        fprintf(stderr,
                "seerlog: agent: node %s (%s, %s) joined as incarnation %lld, publishing to %s\n",
                a.node_id, a.type, a.region, (long long)a.ev->incarnation, topic);
        a.hb_interval_ms = sl_producer_heartbeat_interval(a.p);

        if (once) {
                if (sl_agent_leave(&a, flush_ms))
                        ret = SL_EXIT_FAIL;
                if (stats_s)
                        sl_agent_print_stats(&a);
                goto done;
        }

        now = sl_cli_now_mono_ms();
        next_check = now + a.check_ms;
        if (stats_s)
                next_stats = now + stats_s * 1000;
        while (!sl_cli_interrupted()) {
                int64_t wait;

                now = sl_cli_now_mono_ms();
                if (now >= next_check) {
                        sl_agent_check(&a);
                        next_check = now + a.check_ms;
                }
                a.hb_interval_ms = sl_producer_heartbeat_interval(a.p);
                if (now - a.last_event_ms >= a.hb_interval_ms) {
                        sl_agent_publish_warn(&a, SL_KIND_HEARTBEAT, a.status_pub);
                        /* A failed heartbeat waits one interval too, not one poll. */
                        a.last_event_ms = now;
                }
                if (now >= next_stats) {
                        sl_agent_print_stats(&a);
                        next_stats = now + stats_s * 1000;
                }
                wait = SL_AGENT_POLL_MS;
                if (next_check - now < wait)
                        wait = next_check - now;
                if (a.last_event_ms + a.hb_interval_ms - now < wait)
                        wait = a.last_event_ms + a.hb_interval_ms - now;
                sl_producer_poll(a.p, wait > 0 ? (int)wait : 0);
        }
        fprintf(stderr, "seerlog: agent: stopping\n");
        /* Nothing gets through wrong credentials: no waiting for the leave (the outbox keeps
         * it). */
        sl_agent_leave(&a, sl_kafka_fatal(NULL, 0) ? 0 : flush_ms);
        if (stats_s)
                sl_agent_print_stats(&a);
        ret = SL_EXIT_OK;

done:
        if (a.p)
                sl_producer_destroy(a.p, 0);
        if (record)
                fclose(record);
        sl_sysinfo_destroy(a.si);
        sl_event_destroy(a.ev);
        sl_event_destroy(a.labels);
        sl_event_destroy(a.svc);
        sl_event_destroy(a.svc_pub);
        sl_event_destroy(a.svc_read);
        free(a.file_buf);
        return ret;
}
