/* seerlog bridge: publishes for the nodes that have no agent yet, from probes (the old ping). */
#include "cmds.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bridge_inventory.h"
#include "bridge_probe.h"
#include "sl_event.h"
#include "sl_producer.h"
#include "sl_registry.h"

static int sl_bridge_run(sl_cli_t *cli);

static const sl_opt_t sl_bridge_opts[] = {
    {"inventory", 0, "FILE", SL_OPT_REQUIRED,
     "The nodes to bridge, one per line: NODE_ID TYPE REGION PROBE [KEY=VALUE ...]"},
    {"interval-ms", 0, "MS", 0, "Probe every node every MS (default heartbeat.interval.ms)"},
    {"concurrency", 0, "N", 0, "Most probes running at once (default 64)"},
    {"timeout-ms", 0, "MS", 0, "Timeout of one probe (default the interval, at most 2000)"},
    {"fail-after", 0, "N", 0,
     "Failed probes in a row before an up node is reported degraded or down (default 1)"},
    {"http-error-status", 0, "STATUS", 0,
     "Status of a node whose HTTP probe answers with a non-2xx code: degraded (default) or down"},
    {"insecure", 0, NULL, 0, "Do not verify the certificates of https:// probes"},
    {"native-from", 0, "SOURCE", 0,
     "Where to learn which nodes publish natively: changelog (default), a projector's API URL, "
     "or none"},
    {"native-wait-ms", 0, "MS", 0,
     "At start, how long to wait for the brokers and to read the native source to its end "
     "(default 10000)"},
    {"native-grace-ms", 0, "MS", 0,
     "After a native node's leave, how long before the bridge speaks for it again (default "
     "30000)"},
    {"stats-interval", 0, "S", 0, "Print the counters as a JSON line on stderr every S seconds"},
    {"flush-timeout-ms", 0, "MS", 0, "How long to wait for delivery at exit (default 10000)"},
    {0},
};

static void sl_bridge_help_extra(FILE *fp)
{
        fprintf(fp,
                "\nExample:\n"
                "  seerlog bridge --inventory /etc/seerlog/bridge.inventory --stats-interval 60\n"
                "\n"
                "  # /etc/seerlog/bridge.inventory\n"
                "  seer-eu-1    seer    eu-west  http://10.0.0.11:8080/healthz  rack=r1\n"
                "  tns-eu-1     tns     eu-west  tcp://10.0.0.12:53\n"
                "  gw-us-1      gateway us-east  https://gw-us-1.example:443/health zone=b\n"
                "\n");
        sl_conf_print_help(fp);
}

const sl_cmd_t sl_cmd_bridge = {
    .name = "bridge",
    .summary = "Publish the state of nodes without an agent, from probes (gradual migration)",
    .usage = "--inventory FILE [--interval-ms MS] [--concurrency N] [--timeout-ms MS] "
             "[--native-from changelog|URL|none] [--stats-interval S] [options]",
    .description =
        "For nodes that have not migrated to 'seerlog agent' yet: probes each node of the\n"
        "inventory the way the old ping did and publishes NodeStateEvents on its behalf\n"
        "(source bridge, agent_version bridge/VERSION), keyed by node id, through the\n"
        "producer library like an agent (topic.template, schema.mode, outbox.*, every\n"
        "librdkafka property). See docs/bridge.md.\n"
        "\n"
        "Inventory (--inventory FILE): one node per line, fields separated by blanks:\n"
        "  NODE_ID TYPE REGION PROBE [KEY=VALUE ...]\n"
        "NODE_ID, TYPE and REGION: 1-128 characters of A-Z a-z 0-9 . _ - (TYPE and REGION\n"
        "fill topic.template). PROBE: http://HOST[:PORT][/PATH] or https://... (a GET), or\n"
        "tcp://HOST:PORT (a connect); HOST a name, an IPv4 address or [IPv6]. KEY=VALUE\n"
        "pairs are the node's labels. '#' at the start of a field begins a comment. Every\n"
        "line is checked; a bad line or a node id given twice fails the whole file with\n"
        "FILE:LINE named (exit 2 at start). SIGHUP reads the file again: added nodes join,\n"
        "removed nodes leave; a bad file is logged and the previous one kept.\n"
        "\n"
        "Probes: every --interval-ms each node is probed, at most --concurrency at once,\n"
        "each within --timeout-ms. HTTP: a 2xx answer is up, any other answer\n"
        "--http-error-status (degraded), no answer (refused, timeout, TLS error) down.\n"
        "TCP: an accepted connection is up, anything else down. A node reported up is\n"
        "reported degraded or down only after --fail-after failed probes in a row.\n"
        "\n"
        "Events, per node: a join with the first probe's status; a status_change when the\n"
        "probes' status changes; a heartbeat when no event was sent for the heartbeat\n"
        "interval (heartbeat.interval.ms, stretched under readers' lag like an agent's),\n"
        "whatever the status: liveness says the bridge still reports on the node, status\n"
        "says what the probe found (a node that stops answering is alive and down). Each\n"
        "node has its own (incarnation, seq): a join starts an incarnation (the bridge's\n"
        "start time) with seq 0, so after a restart every node joins again with a newer\n"
        "incarnation under the same key: a projector shows each node once.\n"
        "The outbox defaults to $XDG_STATE_HOME/seerlog/bridge-outbox\n"
        "(~/.local/state/seerlog/bridge-outbox), apart from an agent's on the same host.\n"
        "\n"
        "Native nodes: once a node's latest state comes from another publisher than a\n"
        "bridge (source agent), the bridge stops probing and publishing for it, and says so\n"
        "once. It learns this from the projector's changelog (project.changelog.topic,\n"
        "read from the beginning and followed), or with --native-from URL from a\n"
        "projector's API (GET URL/v1/nodes, every interval, at least once a second; with\n"
        "api.basic.auth.user.info or api.bearer.auth.token.file, and api.ssl.ca.location for\n"
        "https, as the command-line views; docs/api.md). At start it reads the source to\n"
        "its end before it publishes anything (at most --native-wait-ms, then it warns and\n"
        "goes on). When the native publisher leaves (status left: the agent was stopped or\n"
        "removed) and does not come back within --native-grace-ms, or the node's state comes\n"
        "from a bridge again, the bridge speaks for the node again, starting with a join.\n"
        "\n"
        "SIGTERM or SIGINT: stops probing, flushes (--flush-timeout-ms; what is not\n"
        "delivered stays in the outbox for the next start) and exits 0, without a leave for\n"
        "the nodes: they did not leave. Exits 2 on a usage or inventory error, 1 when the\n"
        "producer cannot start or the brokers do not answer within --native-wait-ms.\n",
    .opts = sl_bridge_opts,
    .run = sl_bridge_run,
    .help_extra = sl_bridge_help_extra,
};

/* How often every node is looked at: probes due, events to publish, native changes. */
#define SL_BRIDGE_TICK_MS 50
/* Most events in one publish call (one outbox transaction). */
#define SL_BRIDGE_BATCH_MAX 1000
/* Changelog records read per loop turn, so that probes and heartbeats are not held up. */
#define SL_BRIDGE_CL_BURST 10000
/* Latency samples kept per stats interval. */
#define SL_BRIDGE_SAMPLES_MAX 65536
/* How long one page of the projector's API may take. */
#define SL_BRIDGE_API_TIMEOUT_MS 10000
/* While the changelog topic does not exist, how often to look for it. */
#define SL_BRIDGE_CL_RECHECK_MS 10000

/* What a native source says about a node: its latest state's publisher. */
typedef struct sl_known_s sl_known_t;
struct sl_known_s {
        sl_known_t *next;
        int known; /* 0: tombstone, or not in the last complete walk of the API. */
        sl_source_t source;
        sl_node_status_t status;
        int takeover; /* A bridged state carrying SL_TAKEOVER_LABEL. */
        int64_t incarnation, seq, event_time_ms;
        uint64_t gen;    /* The API walk that saw it last. */
        int64_t run_inc; /* The last incarnation this run gave the node; 0: none. */
        char id[];
};

typedef struct {
        sl_known_t **buckets;
        size_t bucket_cnt, cnt;
} sl_known_map_t;

/* One bridged node. Allocated once; its address is the probe job's id. */
typedef struct {
        const sl_inv_node_t *inv; /* In the current inventory. */
        sl_known_t *known;        /* What the native source says; may be NULL. */
        int64_t next_probe_ms;    /* Monotonic. */
        int probing;              /* A probe of it is in the prober. */
        int probed;               /* A probe ended since start, resume or a new probe URL. */
        sl_node_status_t seen;    /* The status the probes say (after --fail-after). */
        int fails;                /* Failed probes in a row. */
        char detail[160];         /* Why the last probe failed. */
        int joined;               /* Its join was accepted (since start or resume). */
        sl_node_status_t pub;     /* The last status accepted. */
        int64_t last_event_ms;    /* Monotonic time of the last event accepted. */
        int64_t inc, next_seq;    /* Its incarnation and next seq; inc 0 until a join. */
        int native;               /* The bridge stands aside. */
        int keep;                 /* Scratch of a reload. */
        int warned_route;         /* Warned: its native events go to another region or type. */
} sl_bnode_t;

typedef struct {
        sl_bnode_t *node; /* NULL for a leave of a node being removed. */
        sl_event_t *ev;
} sl_pending_t;

typedef enum { SL_NATIVE_NONE, SL_NATIVE_CHANGELOG, SL_NATIVE_API } sl_native_mode_t;

typedef struct {
        sl_cli_t *cli;
        sl_conf_t *conf;
        const char *inv_path, *tmpl;
        sl_inventory_t *inv;
        sl_bnode_t **nodes; /* Sorted by node id, as the inventory. */
        size_t node_cnt;
        sl_producer_t *p;
        sl_prober_t *pr;
        int log_level; /* 0 error .. 3 debug */

        int64_t interval_ms, timeout_ms, fail_after, grace_ms, wait_ms;
        sl_node_status_t http_error_status;
        int64_t hb_ms;

        /* Publishing. */
        sl_pending_t batch[SL_BRIDGE_BATCH_MAX];
        size_t batch_cnt;
        int64_t retry_at_ms; /* After a failed publish, no publishing before this. */
        uint64_t published[SL_KIND__CNT];
        uint64_t errors;

        /* Probing. */
        uint64_t probes, probe_failures;
        double *samples; /* Probe latencies (ms) of the current stats interval. */
        size_t sample_cnt;
        uint64_t sample_seen, rng;

        /* Native detection. */
        sl_native_mode_t native_mode;
        sl_known_map_t known;
        int caught_up;
        uint64_t native_records, native_errors;
        /* ... from the changelog */
        const char *cl_topic;
        rd_kafka_t *cl_rk;
        sl_codec_t *codec;
        sl_registry_client_t *registry;
        sl_event_t *cl_ev;
        int32_t cl_parts; /* Partitions assigned; 0: not assigned yet. */
        uint8_t *cl_eof;  /* Per partition: reached its end once. */
        int32_t cl_eof_cnt;
        int64_t cl_check_ms; /* When to look for the topic again. */
        /* ... from a projector's API */
        char api_url[2048];
        sl_apic_auth_t api_auth; /* api.basic.auth.user.info, api.ssl.ca.location, ... */
        int api_busy;            /* A page is being fetched. */
        uint64_t api_gen;
        int64_t api_next_ms;
        int api_job; /* Its address is the fetch job's id. */

        char last_warning[512];
} sl_bridge_t;

static volatile sig_atomic_t sl_bridge_hup;

static void sl_bridge_on_hup(int sig)
{
        (void)sig;
        sl_bridge_hup = 1;
}

static void sl_bridge_log(sl_bridge_t *b, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs at @p level (1 warn, 2 info, 3 debug) when log.level allows. */
static void sl_bridge_log(sl_bridge_t *b, int level, const char *fmt, ...)
{
        va_list ap;

        if (level > b->log_level)
                return;
        va_start(ap, fmt);
        fputs("seerlog: bridge: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

static void sl_bridge_warn(sl_bridge_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A warning; the same one repeated is printed once. */
static void sl_bridge_warn(sl_bridge_t *b, const char *fmt, ...)
{
        char msg[sizeof(b->last_warning)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!strcmp(msg, b->last_warning))
                return;
        snprintf(b->last_warning, sizeof(b->last_warning), "%s", msg);
        sl_bridge_log(b, 1, "%s", msg);
}

/* ---- what the native source knows ---- */

static uint64_t sl_known_hash(const char *s, size_t len)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
        return h;
}

static sl_known_t *sl_known_find(const sl_known_map_t *m, const char *id, size_t len)
{
        sl_known_t *k;

        if (!m->bucket_cnt)
                return NULL;
        for (k = m->buckets[sl_known_hash(id, len) & (m->bucket_cnt - 1)]; k; k = k->next)
                if (!strncmp(k->id, id, len) && !k->id[len])
                        return k;
        return NULL;
}

/* The entry of @p id, created if needed. NULL when out of memory. */
static sl_known_t *sl_known_get(sl_known_map_t *m, const char *id, size_t len)
{
        sl_known_t *k = sl_known_find(m, id, len);
        size_t b;

        if (k)
                return k;
        if (m->cnt >= m->bucket_cnt) {
                size_t n = m->bucket_cnt ? 2 * m->bucket_cnt : 1024;
                sl_known_t **nb = calloc(n, sizeof(*nb));

                if (!nb)
                        return NULL;
                for (size_t i = 0; i < m->bucket_cnt; i++) {
                        while (m->buckets[i]) {
                                sl_known_t *e = m->buckets[i];

                                m->buckets[i] = e->next;
                                b = sl_known_hash(e->id, strlen(e->id)) & (n - 1);
                                e->next = nb[b];
                                nb[b] = e;
                        }
                }
                free(m->buckets);
                m->buckets = nb;
                m->bucket_cnt = n;
        }
        if (!(k = calloc(1, sizeof(*k) + len + 1)))
                return NULL;
        memcpy(k->id, id, len);
        b = sl_known_hash(id, len) & (m->bucket_cnt - 1);
        k->next = m->buckets[b];
        m->buckets[b] = k;
        m->cnt++;
        return k;
}

static void sl_known_free(sl_known_map_t *m)
{
        for (size_t i = 0; i < m->bucket_cnt; i++) {
                while (m->buckets[i]) {
                        sl_known_t *e = m->buckets[i];

                        m->buckets[i] = e->next;
                        free(e);
                }
        }
        free(m->buckets);
        memset(m, 0, sizeof(*m));
}

/*
 * Whether the bridge stands aside for a node: its latest state comes from a publisher that is
 * not a bridge (an agent; an unknown source is a newer kind of publisher, not a bridge), unless
 * that publisher left more than the grace period ago.
 */
static int sl_bridge_is_native(const sl_bridge_t *b, const sl_known_t *k, int64_t now_wall)
{
        if (!k || !k->known || k->source == SL_SOURCE_BRIDGE)
                return 0;
        if (k->status == SL_STATUS_LEFT && now_wall - k->event_time_ms >= b->grace_ms)
                return 0;
        return 1;
}

/* ---- nodes ---- */

static sl_bnode_t *sl_bridge_node(const sl_bridge_t *b, const char *id, size_t len)
{
        size_t lo = 0, hi = b->node_cnt;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *mid_id = b->nodes[mid]->inv->node_id;
                int c = strncmp(mid_id, id, len);

                if (!c && !mid_id[len])
                        return b->nodes[mid];
                if (!c)
                        c = 1; /* mid_id is longer: after id */
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Points every node at the inventory @p inv's entries; new nodes for new ids. The old array
 * is returned in *oldp (the caller frees the nodes it does not keep: keep == 0). */
static int sl_bridge_nodes_build(sl_bridge_t *b, const sl_inventory_t *inv, int64_t now,
                                 sl_bnode_t ***oldp, size_t *old_cntp)
{
        sl_bnode_t **nodes = calloc(inv->node_cnt + 1, sizeof(*nodes));

        if (!nodes)
                return -1;
        for (size_t i = 0; i < b->node_cnt; i++)
                b->nodes[i]->keep = 0;
        for (size_t i = 0; i < inv->node_cnt; i++) {
                const sl_inv_node_t *in = &inv->nodes[i];
                sl_bnode_t *n = sl_bridge_node(b, in->node_id, strlen(in->node_id));

                if (!n) {
                        if (!(n = calloc(1, sizeof(*n)))) {
                                for (size_t j = 0; j < i; j++)
                                        if (!sl_bridge_node(b, nodes[j]->inv->node_id,
                                                            strlen(nodes[j]->inv->node_id)))
                                                free(nodes[j]);
                                free(nodes);
                                return -1;
                        }
                        n->inv = in;
                        n->known = sl_known_find(&b->known, in->node_id, strlen(in->node_id));
                        /* Probed at once; later rounds spread over the interval. */
                        n->next_probe_ms =
                            now - b->interval_ms +
                            (int64_t)((double)b->interval_ms * (double)i / (double)inv->node_cnt);
                        n->seen = n->pub = SL_STATUS_UNKNOWN;
                }
                n->keep = 1;
                nodes[i] = n;
        }
        *oldp = b->nodes;
        *old_cntp = b->node_cnt;
        b->nodes = nodes;
        b->node_cnt = inv->node_cnt;
        return 0;
}

/* Fills @p ev with the state of the node of inventory entry @p in, for an event of @p kind. */
static sl_err_t sl_bridge_build(const sl_inv_node_t *in, sl_event_t *ev, sl_event_kind_t kind,
                                sl_node_status_t status)
{
        sl_err_t err;

        sl_event_reset(ev);
        ev->kind = kind;
        ev->status = status;
        ev->source = SL_SOURCE_BRIDGE;
        if ((err = sl_event_set(ev, &ev->node_id, in->node_id)) ||
            (err = sl_event_set(ev, &ev->node_type, in->type)) ||
            (err = sl_event_set(ev, &ev->region, in->region)) ||
            (err = sl_event_set(ev, &ev->hostname, in->host)) ||
            (err = sl_event_set(ev, &ev->agent_version, "bridge/" SEERLOG_VERSION)) ||
            (err = sl_event_add_address(ev, in->probe)))
                return err;
        for (size_t i = 0; i < in->label_cnt; i++)
                if ((err = sl_event_add_label(ev, in->labels[i].key, in->labels[i].value)))
                        return err;
        return SL_OK;
}

/*
 * Gives @p ev its (incarnation, seq). A join starts a new incarnation, seq 0: at the node's
 * first join in this run the producer's (the bridge's start time, or later than any the outbox
 * stored for the node), at a later one (a resume, a node added again) now, and later than the
 * last this run gave it; in both cases later than the incarnation of the node's latest state
 * that the native source knows, so that the projector takes it. Other events go on in the
 * node's incarnation.
 */
static sl_err_t sl_bridge_stamp(sl_bridge_t *b, sl_bnode_t *n, sl_event_t *ev, char *errstr,
                                size_t errstr_size)
{
        int64_t now = sl_cli_now_ms();
        const char *id = n->inv->node_id;
        sl_known_t *k;
        sl_err_t err;

        if (ev->kind != SL_KIND_JOIN) {
                ev->incarnation = n->inc;
                ev->seq = n->next_seq;
                return SL_OK;
        }
        if (!n->known && !(n->known = sl_known_get(&b->known, id, strlen(id))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        k = n->known;
        if (!k->run_inc) {
                ev->incarnation = 0;
                if ((err = sl_producer_stamp(b->p, ev, errstr, errstr_size)))
                        return err;
        } else {
                ev->incarnation = now > k->run_inc ? now : k->run_inc + 1;
        }
        if (k->known && k->incarnation >= ev->incarnation)
                ev->incarnation = now > k->incarnation ? now : k->incarnation + 1;
        ev->seq = 0;
        return SL_OK;
}

/* Adds an event of @p kind for node @p n (NULL: a leave, built from @p in, whose pair the
 * caller sets) to the batch. @returns it, or NULL (warned). */
static sl_pending_t *sl_bridge_queue(sl_bridge_t *b, sl_bnode_t *n, const sl_inv_node_t *in,
                                     sl_event_kind_t kind, sl_node_status_t status);

/* Publishes the batch. @returns 0, or -1 (nothing accepted; warned). */
static int sl_bridge_flush_batch(sl_bridge_t *b)
{
        sl_event_t *evs[SL_BRIDGE_BATCH_MAX];
        char errstr[512];
        int64_t now = sl_cli_now_mono_ms();
        sl_err_t err;

        if (!b->p) {
                /* It failed for good and could not be started again: the loop ends. */
                b->batch_cnt = 0;
                return -2;
        }
        if (!b->batch_cnt)
                return 0;
        for (size_t i = 0; i < b->batch_cnt; i++)
                evs[i] = b->batch[i].ev;
        if ((err = sl_producer_publish_batch(b->p, evs, b->batch_cnt, errstr, sizeof(errstr)))) {
                b->errors++;
                sl_bridge_warn(b, "publishing %zu event(s): %s: %s", b->batch_cnt, sl_err_str(err),
                               errstr);
                b->batch_cnt = 0;
                b->retry_at_ms = now + 1000;
                if (err == SL_ERR_KAFKA) {
                        /* The idempotent producer failed for good; the outbox keeps all. */
                        sl_producer_t *np;

                        sl_producer_destroy(b->p, 0);
                        b->p = NULL;
                        if (!(np = sl_producer_new(b->conf, errstr, sizeof(errstr)))) {
                                sl_bridge_log(b, 0, "starting the producer again: %s", errstr);
                                return -2;
                        }
                        b->p = np;
                }
                return -1;
        }
        for (size_t i = 0; i < b->batch_cnt; i++) {
                sl_bnode_t *n = b->batch[i].node;
                const sl_event_t *ev = b->batch[i].ev;

                b->published[ev->kind]++;
                if (!n)
                        continue;
                n->inc = ev->incarnation;
                n->next_seq = ev->seq + 1;
                n->last_event_ms = now;
                if (ev->kind == SL_KIND_JOIN) {
                        n->joined = 1;
                        n->known->run_inc = ev->incarnation;
                }
                n->pub = ev->status;
        }
        b->batch_cnt = 0;
        return 0;
}

static sl_pending_t *sl_bridge_queue(sl_bridge_t *b, sl_bnode_t *n, const sl_inv_node_t *in,
                                     sl_event_kind_t kind, sl_node_status_t status)
{
        char errstr[512];
        sl_pending_t *pe;
        sl_err_t err;

        if (b->batch_cnt == SL_BRIDGE_BATCH_MAX && sl_bridge_flush_batch(b) < -1)
                return NULL;
        pe = &b->batch[b->batch_cnt];
        if ((err = sl_bridge_build(n ? n->inv : in, pe->ev, kind, status))) {
                b->errors++;
                sl_bridge_warn(b, "building an event of node %s: %s", (n ? n->inv : in)->node_id,
                               sl_err_str(err));
                return NULL;
        }
        if (n && (err = sl_bridge_stamp(b, n, pe->ev, errstr, sizeof(errstr)))) {
                b->errors++;
                sl_bridge_warn(b, "node %s: %s", n->inv->node_id, errstr);
                return NULL;
        }
        /* Taking the node back after its agent left (or going on with such a takeover): the
         * events say so, and only a newer native event then replaces them in the projector,
         * not a stale one of the agent that left (sl_store_supersedes()). */
        if (n && n->known && n->known->known &&
            ((n->known->source != SL_SOURCE_BRIDGE && n->known->status == SL_STATUS_LEFT) ||
             (n->known->source == SL_SOURCE_BRIDGE && n->known->takeover)) &&
            (err = sl_event_add_label(pe->ev, SL_TAKEOVER_LABEL, "1"))) {
                b->errors++;
                sl_bridge_warn(b, "node %s: %s", n->inv->node_id, sl_err_str(err));
                return NULL;
        }
        pe->node = n;
        b->batch_cnt++;
        return pe;
}

/* Queues the leave of node @p n (if the bridge speaks for it), built from @p in, the entry
 * about to go away. */
static void sl_bridge_queue_leave(sl_bridge_t *b, sl_bnode_t *n, const sl_inv_node_t *in)
{
        sl_pending_t *pe;

        if (!n->joined || n->native ||
            !(pe = sl_bridge_queue(b, NULL, in, SL_KIND_LEAVE, SL_STATUS_LEFT)))
                return;
        pe->ev->incarnation = n->inc;
        pe->ev->seq = n->next_seq++;
}

/* ---- probing ---- */

static void sl_bridge_sample(sl_bridge_t *b, double ms)
{
        b->sample_seen++;
        if (b->sample_cnt < SL_BRIDGE_SAMPLES_MAX) {
                b->samples[b->sample_cnt++] = ms;
                return;
        }
        /* Reservoir sampling: every probe of the interval equally likely to be kept. */
        b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        {
                uint64_t j = (b->rng >> 11) % b->sample_seen;

                if (j < SL_BRIDGE_SAMPLES_MAX)
                        b->samples[j] = ms;
        }
}

static void sl_bridge_api_done(sl_bridge_t *b, const sl_probe_result_t *res);

static void sl_bridge_probe_done(void *job, const sl_probe_result_t *res, void *opaque)
{
        sl_bridge_t *b = opaque;
        sl_bnode_t *n = job;
        sl_node_status_t st;

        if (job == &b->api_job) {
                sl_bridge_api_done(b, res);
                return;
        }
        n->probing = 0;
        if (n->native)
                return;
        b->probes++;
        sl_bridge_sample(b, (double)res->latency_us / 1000.0);
        if (!res->answered) {
                b->probe_failures++;
                st = SL_STATUS_DOWN;
                snprintf(n->detail, sizeof(n->detail), "%s", res->error);
        } else if (n->inv->kind == SL_PROBE_TCP ||
                   (res->http_status >= 200 && res->http_status < 300)) {
                st = SL_STATUS_UP;
                n->detail[0] = '\0';
        } else {
                st = b->http_error_status;
                snprintf(n->detail, sizeof(n->detail), "HTTP %ld", res->http_status);
        }
        if (st == SL_STATUS_UP) {
                n->fails = 0;
                n->seen = st;
        } else if (++n->fails >= b->fail_after || !n->probed || n->seen != SL_STATUS_UP) {
                n->seen = st;
        }
        n->probed = 1;
}

/* ---- native detection: the projector's changelog ---- */

/* Records what a changelog record (or an API node) says about node @p id. */
static void sl_bridge_learn(sl_bridge_t *b, const char *id, size_t len, const sl_event_t *ev)
{
        sl_known_t *k;
        sl_bnode_t *n;

        if (!ev) {
                /* A tombstone: the projector forgot the node. */
                if ((k = sl_known_find(&b->known, id, len)))
                        k->known = 0;
                return;
        }
        if (!(k = sl_known_get(&b->known, id, len))) {
                sl_bridge_warn(b, "out of memory: node %.*s not recorded", (int)len, id);
                return;
        }
        k->known = 1;
        k->source = ev->source;
        k->status = ev->status;
        k->takeover = sl_event_takeover(ev);
        k->incarnation = ev->incarnation;
        k->seq = ev->seq;
        k->event_time_ms = ev->event_time_ms;
        k->gen = b->api_gen;
        if (!(n = sl_bridge_node(b, id, len)))
                return;
        n->known = k;
        /* The rule that native events win over bridged ones relies on Kafka keeping the order of
         * a node's events, which it does within one partition only: the agent must publish to
         * the topic the inventory gives the node. */
        if (ev->source != SL_SOURCE_BRIDGE && !n->warned_route && ev->region && *ev->region &&
            ev->node_type && *ev->node_type &&
            (strcmp(ev->region, n->inv->region) || strcmp(ev->node_type, n->inv->type))) {
                n->warned_route = 1;
                sl_bridge_warn(b,
                               "node %s publishes natively as region %s, type %s, but the "
                               "inventory says region %s, type %s: its native and bridged events "
                               "go to different topics, whose relative order Kafka does not "
                               "keep; make the inventory line (%s:%d) match the agent's "
                               "configuration",
                               n->inv->node_id, ev->region, ev->node_type, n->inv->region,
                               n->inv->type, b->inv_path, n->inv->line);
        }
}

/* The consumer of the changelog (assigned, never in a group; read_committed: the projector
 * writes it in transactions). */
static int sl_bridge_cl_start(sl_bridge_t *b)
{
        const char *defaults[] = {"client.id", "seerlog-bridge-native", "group.id",
                                  "seerlog-bridge-assign", "enable.auto.commit", "false",
                                  "enable.partition.eof", "true", "isolation.level",
                                  "read_committed", "auto.offset.reset", "earliest",
                                  /* An empty partition's EOF comes after the broker's fetch
                                   * wait: this bounds how long the start waits for it. */
                                  "fetch.wait.max.ms", "100", NULL};
        rd_kafka_conf_t *conf;
        char errstr[512];
        int ret;

        if (!(b->codec = sl_codec_new((int32_t)sl_conf_get_int(b->conf, "schema.id"), errstr,
                                      sizeof(errstr))))
                return sl_cli_fail(b->cli, "%s", errstr);
        /* Asked for the ids the codec does not know; with a registry in use, for every id. */
        if (!(b->registry = sl_registry_client_new(b->conf, errstr, sizeof(errstr))))
                return sl_cli_usage_error(b->cli, "%s", errstr);
        sl_codec_set_fetch_cb(b->codec, sl_registry_fetch_cb, b->registry);
        sl_cli_decoder_ids(b->cli, b->codec);
        if (!(b->cl_ev = sl_event_new()))
                return sl_cli_fail(b->cli, "out of memory");
        if (!(conf = sl_cli_kafka_conf(b->cli, defaults, &ret)))
                return ret;
        if (!(b->cl_rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                return sl_cli_usage_error(b->cli, "creating the changelog consumer: %s", errstr);
        }
        rd_kafka_poll_set_consumer(b->cl_rk);
        return 0;
}

/*
 * Looks for the changelog topic and assigns all its partitions from the beginning; once
 * assigned, looks whether partitions were added to it and reads those from the beginning too
 * (the others go on from where they are).
 * @returns 1 assigned (or more partitions now), 0 not there (yet) or nothing new, -1 the
 *          brokers did not answer.
 */
static int sl_bridge_cl_assign(sl_bridge_t *b, int timeout_ms)
{
        const struct rd_kafka_metadata *md = NULL;
        const struct rd_kafka_metadata_topic *mt = NULL;
        rd_kafka_topic_partition_list_t *list = NULL, *pos = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_resp_err_t err;
        uint8_t *eof = NULL;
        int ret = 0;

        /* Only this topic once it is known (a re-check every few seconds stays cheap). */
        if (b->cl_parts && !(rkt = rd_kafka_topic_new(b->cl_rk, b->cl_topic, NULL)))
                return -1;
        if ((err = rd_kafka_metadata(b->cl_rk, !rkt, rkt, &md, timeout_ms))) {
                sl_bridge_warn(b, "changelog %s: asking the brokers for it: %s", b->cl_topic,
                               rd_kafka_err2str(err));
                ret = -1;
                goto done;
        }
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, b->cl_topic))
                        mt = &md->topics[i];
        if (!mt || mt->err || mt->partition_cnt <= b->cl_parts)
                goto done;
        if (!(list = rd_kafka_topic_partition_list_new(mt->partition_cnt)) ||
            !(eof = calloc((size_t)mt->partition_cnt, 1))) {
                sl_bridge_warn(b, "out of memory");
                ret = -1;
                goto done;
        }
        for (int i = 0; i < mt->partition_cnt; i++)
                rd_kafka_topic_partition_list_add(list, b->cl_topic, mt->partitions[i].id)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        if (b->cl_parts) {
                /* The partitions read so far go on from their positions. */
                if (!(pos = rd_kafka_topic_partition_list_copy(list)) ||
                    rd_kafka_position(b->cl_rk, pos)) {
                        ret = -1;
                        goto done;
                }
                for (int i = 0; i < pos->cnt; i++)
                        if (pos->elems[i].partition < b->cl_parts && pos->elems[i].offset >= 0)
                                list->elems[i].offset = pos->elems[i].offset;
                memcpy(eof, b->cl_eof, (size_t)b->cl_parts);
        }
        if ((err = rd_kafka_assign(b->cl_rk, list))) {
                sl_bridge_warn(b, "changelog %s: assigning its partitions: %s", b->cl_topic,
                               rd_kafka_err2str(err));
                ret = -1;
                goto done;
        }
        if (b->cl_parts)
                sl_bridge_log(b, 2,
                              "changelog %s has %d partitions now (was %d): reading the new "
                              "ones from the beginning",
                              b->cl_topic, mt->partition_cnt, (int)b->cl_parts);
        free(b->cl_eof);
        b->cl_eof = eof;
        eof = NULL;
        b->cl_parts = mt->partition_cnt;
        ret = 1;

done:
        free(eof);
        if (pos)
                rd_kafka_topic_partition_list_destroy(pos);
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return ret;
}

/* Reads what arrived on the changelog (up to a burst). */
static void sl_bridge_cl_poll(sl_bridge_t *b, int64_t now)
{
        char errstr[512];

        if (!b->cl_parts) {
                int r;

                if (now < b->cl_check_ms)
                        return;
                b->cl_check_ms = now + SL_BRIDGE_CL_RECHECK_MS;
                if ((r = sl_bridge_cl_assign(b, 1000)) <= 0)
                        return;
                sl_bridge_log(b, 2, "changelog %s appeared: reading it for native nodes",
                              b->cl_topic);
                b->caught_up = 0;
        } else if (now >= b->cl_check_ms) {
                /* Partitions added to the changelog meanwhile. */
                b->cl_check_ms = now + SL_BRIDGE_CL_RECHECK_MS;
                sl_bridge_cl_assign(b, 1000);
        }
        for (int i = 0; i < SL_BRIDGE_CL_BURST; i++) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(b->cl_rk, 0);
                sl_err_t err;

                if (!m)
                        break;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->partition >= 0 && m->partition < b->cl_parts &&
                            !b->cl_eof[m->partition]) {
                                b->cl_eof[m->partition] = 1;
                                b->cl_eof_cnt++;
                        }
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err) {
                        sl_bridge_warn(b, "changelog %s: %s", b->cl_topic,
                                       rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                b->native_records++;
                /* Keys that cannot be node ids are no node of the inventory. */
                if (!m->key || !m->key_len || m->key_len > SL_NAME_MAX ||
                    memchr(m->key, '\0', m->key_len)) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (!m->payload) {
                        sl_bridge_learn(b, m->key, m->key_len, NULL);
                } else if ((err = sl_codec_decode(b->codec, m->payload, m->len, b->cl_ev, errstr,
                                                  sizeof(errstr)))) {
                        b->native_errors++;
                        sl_bridge_warn(b,
                                       "changelog %s [%d] at offset %" PRId64
                                       ": cannot decode the state of %.*s: %s: %s",
                                       b->cl_topic, (int)m->partition, m->offset, (int)m->key_len,
                                       (const char *)m->key, sl_err_str(err), errstr);
                } else {
                        sl_bridge_learn(b, m->key, m->key_len, b->cl_ev);
                }
                rd_kafka_message_destroy(m);
        }
        if (!b->caught_up && b->cl_eof_cnt == b->cl_parts)
                b->caught_up = 1;
}

/* ---- native detection: a projector's API ---- */

static void sl_bridge_api_fetch(sl_bridge_t *b, const char *cursor)
{
        char errstr[256], *url = NULL, *esc = NULL;
        int len;

        if (cursor && !(esc = curl_easy_escape(NULL, cursor, 0)))
                goto nomem;
        len = asprintf(&url, "%s/v1/nodes?limit=1000%s%s", b->api_url, esc ? "&cursor=" : "",
                       esc ? esc : "");
        curl_free(esc);
        if (len < 0)
                goto nomem;
        if (sl_prober_submit(b->pr, SL_JOB_FETCH, url, SL_BRIDGE_API_TIMEOUT_MS, &b->api_job,
                             errstr, sizeof(errstr))) {
                free(url);
                goto nomem;
        }
        free(url);
        b->api_busy = 1;
        return;

nomem:
        sl_bridge_warn(b, "out of memory: the projector's API is not asked");
        b->api_busy = 0;
        b->api_next_ms = sl_cli_now_mono_ms() + 1000;
}

/* The interval between walks of the API: the probe interval, at least a second. */
static int64_t sl_bridge_api_interval(const sl_bridge_t *b)
{
        return b->interval_ms > 1000 ? b->interval_ms : 1000;
}

static void sl_bridge_api_done(sl_bridge_t *b, const sl_probe_result_t *res)
{
        json_t *doc = NULL, *nodes, *node, *next;
        json_error_t jerr;
        size_t i;

        b->api_busy = 0;
        if (!res->answered) {
                sl_bridge_warn(b, "native source %s/v1/nodes: %s", b->api_url, res->error);
                goto retry;
        }
        if (res->http_status < 200 || res->http_status >= 300) {
                sl_bridge_warn(b, "native source %s/v1/nodes: HTTP %ld", b->api_url,
                               res->http_status);
                goto retry;
        }
        if (!(doc = json_loadb(res->body, res->body_len, 0, &jerr)) ||
            !json_is_array(nodes = json_object_get(doc, "nodes"))) {
                sl_bridge_warn(b, "native source %s/v1/nodes: not a page of nodes (%s)", b->api_url,
                               doc ? "no \"nodes\" array" : jerr.text);
                goto retry;
        }
        json_array_foreach(nodes, i, node)
        {
                const char *id = json_string_value(json_object_get(node, "node_id"));
                json_t *state = json_object_get(node, "state");
                const char *src = json_string_value(json_object_get(state, "source"));
                const char *status = json_string_value(json_object_get(state, "status"));
                sl_event_t *ev = b->cl_ev;

                if (!id || !*id || strlen(id) > SL_NAME_MAX || !json_is_object(state))
                        continue;
                b->native_records++;
                sl_event_reset(ev);
                if (!src || sl_source_parse(src, &ev->source))
                        ev->source = SL_SOURCE_UNKNOWN;
                if (!status || sl_node_status_parse(status, &ev->status))
                        ev->status = SL_STATUS_UNKNOWN;
                {
                        const char *region = json_string_value(json_object_get(node, "region"));
                        const char *type = json_string_value(json_object_get(node, "node_type"));

                        if ((region && sl_event_set(ev, &ev->region, region)) ||
                            (type && sl_event_set(ev, &ev->node_type, type)))
                                continue;
                }
                ev->incarnation = json_integer_value(json_object_get(state, "incarnation"));
                ev->seq = json_integer_value(json_object_get(state, "seq"));
                ev->event_time_ms = json_integer_value(json_object_get(state, "event_time"));
                {
                        json_t *take =
                            json_object_get(json_object_get(state, "labels"), SL_TAKEOVER_LABEL);

                        if (json_is_string(take) &&
                            sl_event_add_label(ev, SL_TAKEOVER_LABEL, json_string_value(take)))
                                continue;
                }
                sl_bridge_learn(b, id, strlen(id), ev);
        }
        next = json_object_get(doc, "next_cursor");
        if (json_is_string(next) && *json_string_value(next)) {
                sl_bridge_api_fetch(b, json_string_value(next));
                json_decref(doc);
                return;
        }
        /* A complete walk: nodes it did not list are not known any more. */
        for (size_t k = 0; k < b->known.bucket_cnt; k++)
                for (sl_known_t *e = b->known.buckets[k]; e; e = e->next)
                        if (e->gen != b->api_gen)
                                e->known = 0;
        b->caught_up = 1;
        b->api_gen++;
        b->api_next_ms = sl_cli_now_mono_ms() + sl_bridge_api_interval(b);
        json_decref(doc);
        return;

retry:
        json_decref(doc);
        b->api_next_ms = sl_cli_now_mono_ms() + sl_bridge_api_interval(b);
}

static void sl_bridge_native_poll(sl_bridge_t *b, int64_t now)
{
        if (b->native_mode == SL_NATIVE_CHANGELOG)
                sl_bridge_cl_poll(b, now);
        else if (b->native_mode == SL_NATIVE_API && !b->api_busy && now >= b->api_next_ms)
                sl_bridge_api_fetch(b, NULL);
}

/* ---- the loop ---- */

/* Looks at every node: native changes, probes due, events due. */
static void sl_bridge_sweep(sl_bridge_t *b, int64_t now)
{
        int64_t wall = sl_cli_now_ms();
        char errstr[256];

        b->hb_ms = sl_producer_heartbeat_interval(b->p);
        for (size_t i = 0; i < b->node_cnt && b->p; i++) {
                sl_bnode_t *n = b->nodes[i];
                int native = sl_bridge_is_native(b, n->known, wall);

                if (native && !n->native) {
                        n->native = 1;
                        if (n->probing) {
                                sl_prober_cancel(b->pr, n);
                                n->probing = 0;
                        }
                        sl_bridge_log(b, 2,
                                      "node %s is native now (source %s); the bridge stops "
                                      "speaking for it",
                                      n->inv->node_id, sl_source_name(n->known->source));
                } else if (!native && n->native) {
                        n->native = 0;
                        n->joined = 0;
                        n->probed = 0;
                        n->fails = 0;
                        n->seen = SL_STATUS_UNKNOWN;
                        n->next_probe_ms = now;
                        if (n->known && n->known->known && n->known->status == SL_STATUS_LEFT)
                                sl_bridge_log(b, 2,
                                              "node %s: its native publisher left %" PRId64
                                              " s ago; the bridge speaks for it again",
                                              n->inv->node_id,
                                              (wall - n->known->event_time_ms) / 1000);
                        else
                                sl_bridge_log(b, 2,
                                              "node %s has no native publisher any more; "
                                              "the bridge speaks for it again",
                                              n->inv->node_id);
                }
                if (n->native)
                        continue;
                if (!n->probing && now >= n->next_probe_ms) {
                        sl_job_kind_t kind =
                            n->inv->kind == SL_PROBE_TCP ? SL_JOB_TCP : SL_JOB_HTTP;

                        if (!sl_prober_submit(b->pr, kind, n->inv->probe, (int)b->timeout_ms, n,
                                              errstr, sizeof(errstr)))
                                n->probing = 1;
                        n->next_probe_ms += b->interval_ms;
                        if (n->next_probe_ms <= now)
                                n->next_probe_ms = now + b->interval_ms;
                }
                if (!n->probed || now < b->retry_at_ms)
                        continue;
                if (!n->joined) {
                        sl_bridge_queue(b, n, NULL, SL_KIND_JOIN, n->seen);
                } else if (n->seen != n->pub) {
                        sl_bridge_log(b, 2, "node %s: %s -> %s%s%s%s", n->inv->node_id,
                                      sl_node_status_name(n->pub), sl_node_status_name(n->seen),
                                      n->detail[0] ? " (" : "", n->detail, n->detail[0] ? ")" : "");
                        sl_bridge_queue(b, n, NULL, SL_KIND_STATUS_CHANGE, n->seen);
                } else if (now - n->last_event_ms >= b->hb_ms) {
                        sl_bridge_queue(b, n, NULL, SL_KIND_HEARTBEAT, n->pub);
                }
        }
        if (b->p)
                sl_bridge_flush_batch(b);
}

/* Reads the inventory again (SIGHUP): new nodes join at their first probe, removed ones leave,
 * a node whose type or region changed leaves and joins again under the new ones. */
static void sl_bridge_reload(sl_bridge_t *b, int64_t now)
{
        sl_inventory_t *inv = NULL;
        sl_bnode_t **old = NULL;
        size_t old_cnt = 0, added = 0, removed = 0, changed = 0;
        char errstr[1024];
        sl_err_t err;

        if ((err = sl_inventory_load(b->inv_path, b->tmpl, &inv, errstr, sizeof(errstr)))) {
                sl_bridge_log(b, 1,
                              "reloading the inventory: %s; keeping the previous one (%zu "
                              "nodes)",
                              errstr, b->node_cnt);
                return;
        }
        /* Leaves are built from the old entries, so the old inventory lives until they are
         * published. */
        for (size_t i = 0; i < inv->node_cnt; i++) {
                const sl_inv_node_t *in = &inv->nodes[i];
                sl_bnode_t *n = sl_bridge_node(b, in->node_id, strlen(in->node_id));

                if (!n) {
                        added++;
                        continue;
                }
                if (strcmp(n->inv->type, in->type) || strcmp(n->inv->region, in->region)) {
                        changed++;
                        sl_bridge_queue_leave(b, n, n->inv);
                        n->joined = 0;
                        n->probed = 0;
                        n->fails = 0;
                        n->seen = SL_STATUS_UNKNOWN;
                } else if (strcmp(n->inv->probe, in->probe)) {
                        changed++;
                        n->probed = 0; /* The old probe's result says nothing of the new. */
                        n->fails = 0;
                }
                if (strcmp(n->inv->probe, in->probe) || !n->probed) {
                        if (n->probing)
                                sl_prober_cancel(b->pr, n);
                        n->probing = 0;
                        n->next_probe_ms = now;
                }
        }
        for (size_t i = 0; i < b->node_cnt; i++) {
                sl_bnode_t *n = b->nodes[i];

                if (sl_inventory_find(inv, n->inv->node_id))
                        continue;
                removed++;
                if (n->probing)
                        sl_prober_cancel(b->pr, n);
                n->probing = 0;
                sl_bridge_queue_leave(b, n, n->inv);
        }
        sl_bridge_flush_batch(b);
        if (sl_bridge_nodes_build(b, inv, now, &old, &old_cnt)) {
                sl_bridge_log(b, 1,
                              "reloading the inventory: out of memory; keeping the previous "
                              "one");
                sl_inventory_destroy(inv);
                return;
        }
        for (size_t i = 0; i < b->node_cnt; i++)
                b->nodes[i]->inv = &inv->nodes[i];
        for (size_t i = 0; i < old_cnt; i++)
                if (!old[i]->keep)
                        free(old[i]);
        free(old);
        sl_inventory_destroy(b->inv);
        b->inv = inv;
        sl_bridge_log(b, 2, "reloaded %s: %zu nodes (%zu added, %zu removed, %zu changed)",
                      b->inv_path, b->node_cnt, added, removed, changed);
}

static int sl_bridge_cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static void sl_bridge_print_stats(sl_bridge_t *b)
{
        sl_producer_stats_t st;
        json_t *o = json_object(), *pub = json_object();
        uint64_t cnt[SL_STATUS__CNT] = {0}, native = 0, unprobed = 0;
        double p50 = -1, p99 = -1;

        if (!o || !pub)
                goto done;
        for (size_t i = 0; i < b->node_cnt; i++) {
                const sl_bnode_t *n = b->nodes[i];

                if (n->native)
                        native++;
                else if (!n->joined)
                        unprobed++;
                else
                        cnt[n->pub]++;
        }
        if (b->sample_cnt) {
                qsort(b->samples, b->sample_cnt, sizeof(*b->samples), sl_bridge_cmp_double);
                p50 = b->samples[(b->sample_cnt - 1) / 2];
                p99 = b->samples[(size_t)((double)(b->sample_cnt - 1) * 0.99)];
        }
        b->sample_cnt = 0;
        b->sample_seen = 0;
        if (b->p)
                sl_producer_stats(b->p, &st);
        else
                memset(&st, 0, sizeof(st));
        for (int k = SL_KIND_JOIN; k < SL_KIND__CNT; k++)
                json_object_set_new(pub, sl_event_kind_name((sl_event_kind_t)k),
                                    json_integer((json_int_t)b->published[k]));
        json_object_set_new(o, "time_ms", json_integer(sl_cli_now_ms()));
        json_object_set_new(o, "nodes", json_integer((json_int_t)b->node_cnt));
        json_object_set_new(o, "bridged", json_integer((json_int_t)(b->node_cnt - native)));
        json_object_set_new(o, "native", json_integer((json_int_t)native));
        json_object_set_new(o, "up", json_integer((json_int_t)cnt[SL_STATUS_UP]));
        json_object_set_new(o, "degraded", json_integer((json_int_t)cnt[SL_STATUS_DEGRADED]));
        json_object_set_new(o, "down", json_integer((json_int_t)cnt[SL_STATUS_DOWN]));
        json_object_set_new(o, "not_joined", json_integer((json_int_t)unprobed));
        json_object_set_new(o, "probes", json_integer((json_int_t)b->probes));
        json_object_set_new(o, "probe_failures", json_integer((json_int_t)b->probe_failures));
        json_object_set_new(o, "probe_p50_ms", p50 < 0 ? json_null() : json_real(p50));
        json_object_set_new(o, "probe_p99_ms", p99 < 0 ? json_null() : json_real(p99));
        json_object_set_new(o, "probes_waiting",
                            json_integer(b->pr ? (json_int_t)sl_prober_busy(b->pr) : 0));
        json_object_set(o, "published", pub);
        json_object_set_new(o, "accepted", json_integer((json_int_t)st.accepted));
        json_object_set_new(o, "sent", json_integer((json_int_t)st.sent));
        json_object_set_new(o, "outbox_depth", json_integer((json_int_t)st.outbox_depth));
        json_object_set_new(o, "in_flight", json_integer((json_int_t)st.in_flight));
        json_object_set_new(o, "lag", json_integer(st.lag));
        json_object_set_new(o, "throttled", json_integer(st.throttled));
        json_object_set_new(o, "heartbeat_interval_ms", json_integer(b->hb_ms));
        json_object_set_new(o, "native_source",
                            json_string(b->native_mode == SL_NATIVE_CHANGELOG ? "changelog"
                                        : b->native_mode == SL_NATIVE_API     ? "api"
                                                                              : "none"));
        json_object_set_new(o, "native_caught_up", json_boolean(b->caught_up));
        json_object_set_new(o, "native_records", json_integer((json_int_t)b->native_records));
        json_object_set_new(o, "errors", json_integer((json_int_t)(b->errors + b->native_errors)));
        json_dumpf(o, stderr, JSON_COMPACT | JSON_REAL_PRECISION(4));
        fputc('\n', stderr);
        fflush(stderr);

done:
        json_decref(pub);
        json_decref(o);
}

/* ---- setup ---- */

/* Reads the options into @p b. @returns 0 or the exit code. */
static int sl_bridge_options(sl_bridge_t *b)
{
        sl_cli_t *cli = b->cli;
        char errstr[512];
        const char *s;
        int ret;

        b->inv_path = sl_cli_str(cli, "inventory");
        b->tmpl = sl_conf_get(b->conf, "topic.template");
        b->log_level = sl_conf_get_enum(b->conf, "log.level");
        if ((ret = sl_cli_int(cli, "interval-ms", sl_conf_get_int(b->conf, "heartbeat.interval.ms"),
                              10, 3600000, &b->interval_ms)) ||
            (ret = sl_cli_int(cli, "timeout-ms", b->interval_ms < 2000 ? b->interval_ms : 2000, 1,
                              600000, &b->timeout_ms)) ||
            (ret = sl_cli_int(cli, "fail-after", 1, 1, 1000, &b->fail_after)) ||
            (ret = sl_cli_int(cli, "native-wait-ms", 10000, 0, 3600000, &b->wait_ms)) ||
            (ret = sl_cli_int(cli, "native-grace-ms", 30000, 0, INT32_MAX, &b->grace_ms)))
                return ret;
        s = sl_cli_str(cli, "http-error-status");
        if (!s || !strcmp(s, "degraded"))
                b->http_error_status = SL_STATUS_DEGRADED;
        else if (!strcmp(s, "down"))
                b->http_error_status = SL_STATUS_DOWN;
        else
                return sl_cli_usage_error(cli, "--http-error-status %s: expected degraded or down",
                                          s);
        s = sl_cli_str(cli, "native-from");
        if (!s || !strcmp(s, "changelog")) {
                b->native_mode = SL_NATIVE_CHANGELOG;
                b->cl_topic = sl_conf_get(b->conf, "project.changelog.topic");
                if (!*b->cl_topic)
                        return sl_cli_usage_error(cli, "--native-from changelog: "
                                                       "project.changelog.topic is empty (set "
                                                       "it, or use --native-from URL or none)");
        } else if (!strcmp(s, "none")) {
                b->native_mode = SL_NATIVE_NONE;
        } else if (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)) {
                size_t len = strlen(s);

                while (len > 0 && s[len - 1] == '/')
                        len--;
                if (len >= sizeof(b->api_url))
                        return sl_cli_usage_error(cli, "--native-from: URL too long");
                if (sl_apic_url_has_userinfo(s))
                        return sl_cli_usage_error(cli, "--native-from: the URL carries credentials "
                                                       "(USER:PASSWORD@); use "
                                                       "api.basic.auth.user.info instead");
                memcpy(b->api_url, s, len);
                b->api_url[len] = '\0';
                b->native_mode = SL_NATIVE_API;
                if (sl_apic_auth_load(b->conf, &b->api_auth, errstr, sizeof(errstr)))
                        return sl_cli_usage_error(cli, "--native-from %s: %s", s, errstr);
        } else {
                return sl_cli_usage_error(cli,
                                          "--native-from %s: expected changelog, none, or "
                                          "the URL of a projector's API (http://HOST:PORT)",
                                          s);
        }
        return 0;
}

/* The outbox of the bridge: its own directory unless outbox.dir is set. */
static int sl_bridge_outbox_dir(sl_bridge_t *b)
{
        const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        char dir[4096], errstr[512];

        if (!sl_conf_get_bool(b->conf, "outbox.enable") || *sl_conf_get(b->conf, "outbox.dir"))
                return 0;
        if (state && *state)
                snprintf(dir, sizeof(dir), "%s/seerlog/bridge-outbox", state);
        else
                snprintf(dir, sizeof(dir), "%s/.local/state/seerlog/bridge-outbox",
                         home && *home ? home : ".");
        if (sl_conf_set_from(b->conf, "outbox.dir", dir, "bridge default", errstr, sizeof(errstr)))
                return sl_cli_fail(b->cli, "%s", errstr);
        return 0;
}

/* At start: the brokers must answer, and the native source is read to its end (bounded). */
static int sl_bridge_catch_up(sl_bridge_t *b)
{
        const struct rd_kafka_metadata *md = NULL;
        int64_t start = sl_cli_now_mono_ms(), deadline = start + b->wait_ms;
        /* At least a second: --native-wait-ms 0 skips the wait for the source, not the check. */
        int md_ms = b->wait_ms > 1000 ? (int)b->wait_ms : 1000;
        rd_kafka_resp_err_t err;
        int found = 1;

        if ((err = rd_kafka_metadata(sl_producer_rk(b->p), 0, NULL, &md, md_ms)))
                return sl_cli_fail(b->cli,
                                   "the Kafka brokers (bootstrap.servers=%s) did not answer within "
                                   "%d ms: %s",
                                   sl_conf_get(b->conf, "bootstrap.servers"), md_ms,
                                   rd_kafka_err2str(err));
        rd_kafka_metadata_destroy(md);

        if (b->native_mode == SL_NATIVE_CHANGELOG) {
                int64_t left = deadline - sl_cli_now_mono_ms();
                int r = sl_bridge_cl_assign(b, left > 100 ? (int)left : 100);

                b->cl_check_ms = sl_cli_now_mono_ms() + SL_BRIDGE_CL_RECHECK_MS;
                if (r < 0)
                        return sl_cli_fail(b->cli, "changelog %s: the brokers did not answer",
                                           b->cl_topic);
                if (!r) {
                        found = 0;
                        sl_bridge_log(b, 1,
                                      "changelog %s does not exist (yet): no node is known "
                                      "to publish natively; looking for it every %d s",
                                      b->cl_topic, SL_BRIDGE_CL_RECHECK_MS / 1000);
                }
        }
        while (found && b->native_mode != SL_NATIVE_NONE && !b->caught_up &&
               !sl_cli_interrupted() && sl_cli_now_mono_ms() < deadline) {
                int64_t now = sl_cli_now_mono_ms();

                sl_bridge_native_poll(b, now);
                if (b->native_mode == SL_NATIVE_API)
                        sl_prober_run(b->pr, 50);
                else
                        sl_producer_poll(b->p, 10);
        }
        if (found && b->native_mode != SL_NATIVE_NONE && !b->caught_up && !sl_cli_interrupted()) {
                sl_bridge_log(b, 1,
                              "the native source (%s) was not read to its end within %" PRId64
                              " ms: going on; a node that publishes natively may get "
                              "bridged events until it is",
                              b->native_mode == SL_NATIVE_API ? b->api_url : b->cl_topic,
                              b->wait_ms);
        } else if (found && b->native_mode != SL_NATIVE_NONE && b->caught_up) {
                size_t native = 0;
                int64_t wall = sl_cli_now_ms();

                for (size_t i = 0; i < b->node_cnt; i++)
                        native += sl_bridge_is_native(b, b->nodes[i]->known, wall);
                sl_bridge_log(b, 2,
                              "native source %s read in %" PRId64 " ms: %zu nodes known, %zu of "
                              "the inventory native",
                              b->native_mode == SL_NATIVE_API ? b->api_url : b->cl_topic,
                              sl_cli_now_mono_ms() - start, b->known.cnt, native);
        }
        return 0;
}

static int sl_bridge_run(sl_cli_t *cli)
{
        sl_bridge_t b = {.cli = cli, .conf = sl_cli_conf(cli), .rng = 0x5eed};
        int64_t stats_s, flush_ms, concurrency, now, next_sweep, next_stats = INT64_MAX;
        sl_bnode_t **old = NULL;
        size_t old_cnt = 0;
        char errstr[1024];
        struct sigaction sa;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_int(cli, "stats-interval", 0, 1, 86400, &stats_s)) ||
            (ret = sl_cli_int(cli, "flush-timeout-ms", 10000, 0, INT32_MAX, &flush_ms)) ||
            (ret = sl_cli_int(cli, "concurrency", 64, 1, 100000, &concurrency)) ||
            (ret = sl_bridge_options(&b)))
                return ret;
        {
                char topic[256];

                if (sl_topic_expand(b.tmpl, "r", "t", topic, sizeof(topic), errstr,
                                    sizeof(errstr))) {
                        sl_apic_auth_clear(&b.api_auth);
                        return sl_cli_usage_error(cli, "topic.template: %s", errstr);
                }
        }
        if ((err = sl_inventory_load(b.inv_path, b.tmpl, &b.inv, errstr, sizeof(errstr)))) {
                sl_apic_auth_clear(&b.api_auth);
                return err == SL_ERR_NOMEM ? sl_cli_fail(cli, "out of memory")
                                           : sl_cli_usage_error(cli, "%s", errstr);
        }
        for (size_t i = 0; i < SL_BRIDGE_BATCH_MAX; i++)
                if (!(b.batch[i].ev = sl_event_new())) {
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
        if (!(b.samples = malloc(SL_BRIDGE_SAMPLES_MAX * sizeof(*b.samples)))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if ((ret = sl_bridge_outbox_dir(&b)))
                goto done;
        if (b.native_mode == SL_NATIVE_CHANGELOG && (ret = sl_bridge_cl_start(&b)))
                goto done;
        if (b.native_mode == SL_NATIVE_API && !(b.cl_ev = sl_event_new())) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (!(b.pr = sl_prober_new((size_t)concurrency, sl_cli_count(cli, "insecure") > 0,
                                   sl_bridge_probe_done, &b, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        sl_prober_set_fetch_auth(b.pr, &b.api_auth);
        if (!(b.p = sl_producer_new(b.conf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "starting the producer: %s", errstr);
                goto done;
        }
        now = sl_cli_now_mono_ms();
        if (sl_bridge_nodes_build(&b, b.inv, now, &old, &old_cnt)) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        free(old);
        sl_cli_trap_signals();
        signal(SIGPIPE, SIG_IGN);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = sl_bridge_on_hup;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);

        if ((ret = sl_bridge_catch_up(&b)))
                goto done;
        if (sl_cli_interrupted())
                goto stop;
        b.hb_ms = sl_producer_heartbeat_interval(b.p);
        sl_bridge_log(&b, 2,
                      "bridging %zu nodes of %s: probing every %" PRId64 " ms (timeout %" PRId64
                      " ms, %" PRId64 " at once), publishing to %s, outbox %s",
                      b.node_cnt, b.inv_path, b.interval_ms, b.timeout_ms, concurrency, b.tmpl,
                      sl_conf_get_bool(b.conf, "outbox.enable") ? sl_conf_get(b.conf, "outbox.dir")
                                                                : "off");

        now = sl_cli_now_mono_ms();
        /* Every node is probed at once (within --concurrency), so that after a restart each
         * joins again soon; later rounds are spread over the interval, not in bursts. */
        for (size_t i = 0; i < b.node_cnt; i++)
                b.nodes[i]->next_probe_ms =
                    now - b.interval_ms +
                    (int64_t)((double)b.interval_ms * (double)i / (double)b.node_cnt);
        next_sweep = now;
        if (stats_s)
                next_stats = now + stats_s * 1000;
        while (!sl_cli_interrupted()) {
                int64_t wait;

                now = sl_cli_now_mono_ms();
                if (sl_bridge_hup) {
                        sl_bridge_hup = 0;
                        sl_bridge_reload(&b, now);
                }
                sl_bridge_native_poll(&b, now);
                if (now >= next_sweep) {
                        sl_bridge_sweep(&b, now);
                        next_sweep = now + SL_BRIDGE_TICK_MS;
                }
                if (!b.p) {
                        ret = SL_EXIT_FAIL; /* The producer failed and could not start again. */
                        goto done;
                }
                if (now >= next_stats) {
                        sl_bridge_print_stats(&b);
                        next_stats = now + stats_s * 1000;
                }
                wait = next_sweep - sl_cli_now_mono_ms();
                if (wait < 0)
                        wait = 0;
                if (sl_prober_busy(b.pr)) {
                        sl_prober_run(b.pr, wait < 10 ? (int)wait : 10);
                        sl_producer_poll(b.p, 0);
                } else {
                        sl_producer_poll(b.p, (int)wait);
                }
        }

stop:
        sl_bridge_log(&b, 2, "stopping (no leave: the nodes did not leave)");
        sl_prober_destroy(b.pr);
        b.pr = NULL;
        if (sl_producer_flush(b.p, (int)flush_ms)) {
                sl_producer_stats_t st;

                sl_producer_stats(b.p, &st);
                sl_bridge_log(&b, 1,
                              "%" PRIu64 " event(s) not delivered within %" PRId64
                              " ms stay in the outbox for the next start",
                              st.outbox_depth ? st.outbox_depth : st.in_flight + st.parked,
                              flush_ms);
        }
        if (stats_s)
                sl_bridge_print_stats(&b);
        ret = SL_EXIT_OK;

done:
        if (b.pr)
                sl_prober_destroy(b.pr);
        if (b.p)
                sl_producer_destroy(b.p, 0);
        if (b.cl_rk) {
                rd_kafka_consumer_close(b.cl_rk);
                rd_kafka_destroy(b.cl_rk);
        }
        free(b.cl_eof);
        sl_codec_destroy(b.codec);
        sl_registry_client_destroy(b.registry);
        sl_event_destroy(b.cl_ev);
        for (size_t i = 0; i < b.node_cnt; i++)
                free(b.nodes[i]);
        free(b.nodes);
        sl_known_free(&b.known);
        for (size_t i = 0; i < SL_BRIDGE_BATCH_MAX; i++)
                sl_event_destroy(b.batch[i].ev);
        free(b.samples);
        sl_inventory_destroy(b.inv);
        sl_apic_auth_clear(&b.api_auth);
        return ret;
}
