/* seerlog simulate: a virtual fleet in one process, for demos, tests and benchmarks. */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sl_event.h"
#include "sl_producer.h"

static int sl_sim_run(sl_cli_t *cli);

static const sl_opt_t sl_sim_opts[] = {
    {"nodes", 0, "N", SL_OPT_REQUIRED, "Number of virtual nodes"},
    {"regions", 0, "R", 0, "Regions to spread the nodes over (default 3)"},
    {"types", 0, "T", 0, "Node types to spread the nodes over (default 8)"},
    {"rate", 0, "EPS", 0, "Events per second, all nodes together (default N)"},
    {"duration", 0, "S", 0, "Stop after S seconds (default: at SIGINT/SIGTERM)"},
    {"seed", 0, "X", 0, "Seed of every random choice (default: from the clock; in the summary)"},
    {"silent", 0, "PCT", 0, "Percent of the nodes that fall silent (stop without a leave)"},
    {"flap", 0, "PCT", 0, "Percent of the nodes whose status flaps up/degraded/down"},
    {"restart", 0, "PCT", 0, "Percent of the nodes that restart (new incarnation, new join)"},
    {"progress", 0, NULL, 0, "Print a progress line each second on stderr (default on a tty)"},
    {"record", 0, "FILE", 0, "Append NODE INCARNATION SEQ to FILE for every event accepted"},
    {0},
};

static void sl_sim_help_extra(FILE *fp)
{
        fprintf(fp, "\nExample:\n"
                    "  seerlog simulate --nodes 1000 --regions 3 --types 8 --duration 60 "
                    "--restart 2 --flap 1 -X schema.mode=fixed\n");
}

const sl_cmd_t sl_cmd_simulate = {
    .name = "simulate",
    .summary = "Run a virtual fleet of nodes publishing their state",
    .usage = "--nodes N [--regions R] [--types T] [--rate EPS] [--duration S] [--seed X] "
             "[--silent PCT] [--flap PCT] [--restart PCT] [--progress] [options]",
    .description =
        "Runs N virtual nodes in one process, publishing through the producer library like N\n"
        "agents would (topic.template routing, schema.mode, outbox.*, every librdkafka\n"
        "property). Node i is named TYPE-REGION-K, spread evenly over R regions (eu-west,\n"
        "us-east, ap-south, eu-central, us-west, ap-east, sa-east, af-south, then r9, r10, ...)\n"
        "and T types (Tau's roles auth, hoarder, monkey, patrick, seer, substrate, tns,\n"
        "gateway, then t9, t10, ...), so there are R x T topics with the default template.\n"
        "\n"
        "Each node stamps its own (incarnation, seq): the incarnation is a start time in ms,\n"
        "seq counts from 0. A node first sends a join (status up, hostname, addresses,\n"
        "services, labels, usage), then heartbeats, and about one event in ten is a usage event\n"
        "whose CPU, memory, disk and temperature drift slowly. The events of all nodes together\n"
        "go out at --rate events/s (a token bucket; the nodes take turns), in batches of up to\n"
        "1000 per outbox transaction every 10 ms.\n"
        "\n"
        "Faults (disjoint sets of nodes, chosen at random; each fires once at a random time in\n"
        "20-70 % of --duration, or 5-60 s without one): --silent nodes stop publishing, without\n"
        "a leave; --flap nodes then change status up -> degraded -> down -> up every 1-4 s\n"
        "(status_change events); --restart nodes start a new incarnation (seq from 0) with a\n"
        "new join.\n"
        "\n"
        "The same --seed gives the same fleet, the same faulty nodes and fault times and the\n"
        "same sequence of choices; when events go out follows the clock.\n"
        "\n"
        "The outbox is off unless asked for: outbox.enable defaults to false here (a simulated\n"
        "fleet has no events worth keeping across runs, and one outbox for thousands of nodes\n"
        "would measure LMDB rather than the fleet). With -X outbox.enable=true and no\n"
        "outbox.dir, the outbox lives in a new temporary directory removed at exit.\n"
        "\n"
        "Stops after --duration or at SIGINT/SIGTERM, flushes (up to 60 s), and prints one JSON\n"
        "line on stdout: published (events handed to the producer), accepted, sent (delivery\n"
        "reports), coalesced, per-kind counts, faults fired, elapsed seconds. Exits 1 when not\n"
        "everything accepted was delivered.\n"
        "\n"
        "--record FILE appends one line NODE INCARNATION SEQ per event the producer accepted\n"
        "(with the outbox: once its transaction committed), written out at once: the exact\n"
        "set a fault test checks the log against.\n",
    .opts = sl_sim_opts,
    .run = sl_sim_run,
    .help_extra = sl_sim_help_extra,
};

#define SL_SIM_TICK_MS          10
#define SL_SIM_BATCH_MAX        1000
#define SL_SIM_FLUSH_TIMEOUT_MS 60000
#define SL_SIM_NAME_SIZE        80

static const char *const sl_sim_regions[] = {"eu-west", "us-east", "ap-south", "eu-central",
                                             "us-west", "ap-east", "sa-east",  "af-south"};
static const char *const sl_sim_types[] = {"auth", "hoarder",   "monkey", "patrick",
                                           "seer", "substrate", "tns",    "gateway"};
#define SL_SIM_NAMED_REGIONS (sizeof(sl_sim_regions) / sizeof(sl_sim_regions[0]))
#define SL_SIM_NAMED_TYPES   (sizeof(sl_sim_types) / sizeof(sl_sim_types[0]))

typedef enum {
        SL_SIM_FAULT_NONE = 0,
        SL_SIM_FAULT_SILENT,
        SL_SIM_FAULT_FLAP,
        SL_SIM_FAULT_RESTART,
} sl_sim_fault_t;

typedef struct {
        char id[SL_SIM_NAME_SIZE];
        uint32_t region, type, index;
        int64_t incarnation, seq;
        sl_node_status_t status;
        int joined, pending_join, pending_status, silent;
        sl_sim_fault_t fault;
        int64_t next_flip_ms; /* Flapping nodes: next status change, ms since start. */
        /* Usage, drifting. */
        double cpu, temp;
        int32_t cpu_count;
        int64_t mem_total, mem_used, disk_total, disk_used;
} sl_sim_node_t;

typedef struct {
        int64_t at_ms; /* Since start. */
        uint32_t node;
} sl_sim_fault_at_t;

typedef struct {
        uint64_t rng;
        char (*regions)[SL_SIM_NAME_SIZE];
        char (*types)[SL_SIM_NAME_SIZE];
        sl_sim_node_t *nodes;
        size_t node_cnt, cursor;
        sl_sim_fault_at_t *faults; /* Sorted by time. */
        size_t fault_cnt, fault_next;
        uint32_t *flapping;
        size_t flapping_cnt;
        uint64_t kinds[SL_KIND__CNT];
        uint64_t fired[SL_SIM_FAULT_RESTART + 1];
        uint64_t published;
} sl_sim_t;

/* splitmix64: tiny, fast, and the same sequence on every platform for a seed. */
static uint64_t sl_sim_rand(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double sl_sim_unif(uint64_t *s)
{
        return (double)(sl_sim_rand(s) >> 11) * 0x1.0p-53;
}

static double sl_sim_clamp(double v, double lo, double hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

static int sl_sim_fault_cmp(const void *a, const void *b)
{
        const sl_sim_fault_at_t *x = a, *y = b;

        if (x->at_ms != y->at_ms)
                return x->at_ms < y->at_ms ? -1 : 1;
        return x->node < y->node ? -1 : x->node > y->node;
}

static void sl_sim_destroy(sl_sim_t *s)
{
        free(s->regions);
        free(s->types);
        free(s->nodes);
        free(s->faults);
        free(s->flapping);
}

/* Builds the fleet and picks the faulty nodes and when their faults fire. */
static int sl_sim_init(sl_sim_t *s, size_t nodes, size_t regions, size_t types, uint64_t seed,
                       const int64_t pct[3], int64_t duration_ms, int64_t wall_ms)
{
        size_t combos = regions * types, k = 0;
        uint32_t *perm = NULL;

        memset(s, 0, sizeof(*s));
        s->rng = seed;
        s->node_cnt = nodes;
        if (!(s->regions = calloc(regions, sizeof(*s->regions))) ||
            !(s->types = calloc(types, sizeof(*s->types))) ||
            !(s->nodes = calloc(nodes, sizeof(*s->nodes))) ||
            !(s->faults = calloc(nodes, sizeof(*s->faults))) ||
            !(s->flapping = calloc(nodes, sizeof(*s->flapping))) ||
            !(perm = calloc(nodes, sizeof(*perm))))
                goto fail;
        for (size_t i = 0; i < regions; i++) {
                if (i < SL_SIM_NAMED_REGIONS)
                        snprintf(s->regions[i], sizeof(s->regions[i]), "%s", sl_sim_regions[i]);
                else
                        snprintf(s->regions[i], sizeof(s->regions[i]), "r%zu", i + 1);
        }
        for (size_t i = 0; i < types; i++) {
                if (i < SL_SIM_NAMED_TYPES)
                        snprintf(s->types[i], sizeof(s->types[i]), "%s", sl_sim_types[i]);
                else
                        snprintf(s->types[i], sizeof(s->types[i]), "t%zu", i + 1);
        }

        for (size_t i = 0; i < nodes; i++) {
                sl_sim_node_t *n = &s->nodes[i];
                static const int32_t cpus[] = {2, 4, 8, 16, 32};
                static const int64_t mem_gib[] = {4, 8, 16, 32, 64, 128};
                static const int64_t disk_gib[] = {128, 256, 512, 1024, 2048};

                n->region = (uint32_t)(i % combos % regions);
                n->type = (uint32_t)(i % combos / regions);
                n->index = (uint32_t)(i / combos);
                snprintf(n->id, sizeof(n->id), "%s-%s-%" PRIu32, s->types[n->type],
                         s->regions[n->region], n->index);
                /* The node's process starts now, as an agent's would: a later run of the
                 * fleet is a newer incarnation of every node. (A random start in the past day,
                 * as before, made about half of a second run's nodes older than the first
                 * run's, and readers dropped their events as stale.) */
                n->incarnation = wall_ms;
                n->status = SL_STATUS_UP;
                n->cpu_count = cpus[sl_sim_rand(&s->rng) % 5];
                n->cpu = 5 + sl_sim_unif(&s->rng) * 60;
                n->temp = 40 + n->cpu * 0.3;
                n->mem_total = mem_gib[sl_sim_rand(&s->rng) % 6] << 30;
                n->mem_used = (int64_t)((double)n->mem_total * (0.2 + sl_sim_unif(&s->rng) * 0.5));
                n->disk_total = disk_gib[sl_sim_rand(&s->rng) % 5] << 30;
                n->disk_used =
                    (int64_t)((double)n->disk_total * (0.1 + sl_sim_unif(&s->rng) * 0.6));
                perm[i] = (uint32_t)i;
        }

        /* Fisher-Yates: the first nodes of the permutation get the faults, in disjoint sets. */
        for (size_t i = nodes - 1; i > 0; i--) {
                size_t j = (size_t)(sl_sim_rand(&s->rng) % (i + 1));
                uint32_t t = perm[i];

                perm[i] = perm[j];
                perm[j] = t;
        }
        for (int f = 0; f < 3; f++) {
                size_t cnt = (size_t)((pct[f] * (int64_t)nodes + 50) / 100);

                for (size_t i = 0; i < cnt && k < nodes; i++, k++) {
                        double u = sl_sim_unif(&s->rng);

                        s->nodes[perm[k]].fault = (sl_sim_fault_t)(SL_SIM_FAULT_SILENT + f);
                        s->faults[s->fault_cnt].node = perm[k];
                        s->faults[s->fault_cnt++].at_ms =
                            duration_ms ? (int64_t)((0.2 + 0.5 * u) * (double)duration_ms)
                                        : 5000 + (int64_t)(u * 55000.0);
                }
        }
        qsort(s->faults, s->fault_cnt, sizeof(*s->faults), sl_sim_fault_cmp);
        free(perm);
        return 0;

fail:
        free(perm);
        sl_sim_destroy(s);
        return -1;
}

/* Fires the faults that are due at @p el_ms (ms since start). */
static void sl_sim_faults(sl_sim_t *s, int64_t el_ms, int64_t wall_ms)
{
        while (s->fault_next < s->fault_cnt && s->faults[s->fault_next].at_ms <= el_ms) {
                sl_sim_node_t *n = &s->nodes[s->faults[s->fault_next].node];

                switch (n->fault) {
                case SL_SIM_FAULT_SILENT:
                        n->silent = 1;
                        break;
                case SL_SIM_FAULT_FLAP:
                        s->flapping[s->flapping_cnt++] = s->faults[s->fault_next].node;
                        n->next_flip_ms = el_ms;
                        break;
                case SL_SIM_FAULT_RESTART:
                        /* A node restarts only once it has joined, so the log shows both lives;
                         * the faults after it wait a turn (at most one round of the nodes). */
                        if (!n->joined || n->pending_join)
                                goto flaps;
                        n->incarnation = wall_ms > n->incarnation ? wall_ms : n->incarnation + 1;
                        n->seq = 0;
                        n->status = SL_STATUS_UP;
                        n->pending_join = 1;
                        n->pending_status = 0;
                        break;
                case SL_SIM_FAULT_NONE:
                        break;
                }
                s->fired[n->fault]++;
                s->fault_next++;
        }
flaps:
        for (size_t i = 0; i < s->flapping_cnt; i++) {
                sl_sim_node_t *n = &s->nodes[s->flapping[i]];

                if (n->next_flip_ms > el_ms)
                        continue;
                n->status = n->status == SL_STATUS_UP         ? SL_STATUS_DEGRADED
                            : n->status == SL_STATUS_DEGRADED ? SL_STATUS_DOWN
                                                              : SL_STATUS_UP;
                n->pending_status = 1;
                n->next_flip_ms = el_ms + 1000 + (int64_t)(sl_sim_unif(&s->rng) * 3000.0);
        }
}

/* The next node whose turn it is, skipping silent ones; NULL when all are silent. */
static sl_sim_node_t *sl_sim_next(sl_sim_t *s)
{
        for (size_t k = 0; k < s->node_cnt; k++) {
                sl_sim_node_t *n = &s->nodes[s->cursor];

                s->cursor = (s->cursor + 1) % s->node_cnt;
                if (!n->silent)
                        return n;
        }
        return NULL;
}

static void sl_sim_drift(sl_sim_t *s, sl_sim_node_t *n)
{
        n->cpu = sl_sim_clamp(n->cpu + (sl_sim_unif(&s->rng) - 0.5) * 8.0, 1.0, 99.0);
        n->temp = sl_sim_clamp(n->temp * 0.8 + (35 + n->cpu * 0.45) * 0.2 +
                                   (sl_sim_unif(&s->rng) - 0.5) * 2.0,
                               25.0, 95.0);
        n->mem_used += (int64_t)((sl_sim_unif(&s->rng) - 0.5) * 0.02 * (double)n->mem_total);
        n->mem_used = (int64_t)sl_sim_clamp((double)n->mem_used, 0.1 * (double)n->mem_total,
                                            0.95 * (double)n->mem_total);
        /* Disks fill slowly (logs, caches) and are cleaned when nearly full. */
        n->disk_used += (int64_t)(sl_sim_unif(&s->rng) * 4.0 * 1048576.0);
        if (n->disk_used > n->disk_total / 100 * 92)
                n->disk_used = n->disk_total / 2;
}

static sl_err_t sl_sim_usage(sl_sim_t *s, sl_sim_node_t *n, sl_event_t *ev)
{
        sl_usage_t *u = &ev->usage;
        sl_err_t err;

        sl_sim_drift(s, n);
        if ((err = sl_event_add_sensor(ev, "temp_c", (double)(int64_t)(n->temp * 10) / 10)))
                return err;
        u->cpu_percent = (double)(int64_t)(n->cpu * 10) / 10;
        u->cpu_count = n->cpu_count;
        u->load1 = n->cpu / 100.0 * n->cpu_count;
        u->load5 = u->load1 * 0.9;
        u->load15 = u->load1 * 0.8;
        u->mem_total = n->mem_total;
        u->mem_used = n->mem_used;
        u->mem_available = n->mem_total - n->mem_used;
        u->disk_total = n->disk_total;
        u->disk_used = n->disk_used;
        ev->has_usage = 1;
        return SL_OK;
}

/* One event of node @p n (its kind from the node's state) into @p ev. */
static sl_err_t sl_sim_event(sl_sim_t *s, sl_sim_node_t *n, sl_event_t *ev)
{
        char buf[SL_SIM_NAME_SIZE + 32];
        sl_event_kind_t kind;
        sl_err_t err;

        if (!n->joined || n->pending_join)
                kind = SL_KIND_JOIN;
        else if (n->pending_status)
                kind = SL_KIND_STATUS_CHANGE;
        else if (sl_sim_rand(&s->rng) % 10 == 0)
                kind = SL_KIND_USAGE;
        else
                kind = SL_KIND_HEARTBEAT;

        sl_event_reset(ev);
        snprintf(buf, sizeof(buf), "%s-%c", s->regions[n->region], 'a' + (int)(n->index % 3));
        if ((err = sl_event_set(ev, &ev->node_id, n->id)) ||
            (err = sl_event_set(ev, &ev->node_type, s->types[n->type])) ||
            (err = sl_event_set(ev, &ev->region, s->regions[n->region])) ||
            (err = sl_event_set(ev, &ev->cluster, buf)) ||
            (err = sl_event_set(ev, &ev->agent_version, "simulate/" SEERLOG_VERSION)))
                return err;
        ev->incarnation = n->incarnation;
        ev->seq = n->seq;
        ev->kind = kind;
        ev->status = n->status;
        ev->source = SL_SOURCE_AGENT;

        if (kind == SL_KIND_JOIN) {
                uint32_t i = (uint32_t)(n - s->nodes);
                const char *type = s->types[n->type];

                if ((err = sl_event_set(ev, &ev->hostname, n->id)))
                        return err;
                snprintf(buf, sizeof(buf), "10.%u.%u.%u", n->region & 0xff, (i >> 8) & 0xff,
                         i & 0xff);
                if ((err = sl_event_add_address(ev, buf)))
                        return err;
                snprintf(buf, sizeof(buf), "/ip4/10.%u.%u.%u/tcp/4242", n->region & 0xff,
                         (i >> 8) & 0xff, i & 0xff);
                if ((err = sl_event_add_address(ev, buf)) || (err = sl_event_add_service(ev, type)))
                        return err;
                snprintf(buf, sizeof(buf), "/%s/v1", type);
                if ((err = sl_event_add_service_meta(ev, "protocol", buf)) ||
                    (err = sl_event_add_service_meta(ev, "cluster", ev->cluster)))
                        return err;
                if ((!strcmp(type, "gateway") || !strcmp(type, "substrate")) &&
                    ((err = sl_event_add_service(ev, "http")) ||
                     (err = sl_event_add_service_meta(ev, "port", "443"))))
                        return err;
                snprintf(buf, sizeof(buf), "rack-%u", n->index % 16);
                if ((err = sl_event_add_label(ev, "zone", ev->cluster)) ||
                    (err = sl_event_add_label(ev, "rack", buf)) ||
                    (err = sl_event_add_label(ev, "arch", i % 5 ? "amd64" : "arm64")) ||
                    (err = sl_event_add_label(ev, "simulated", "true")) ||
                    (err = sl_sim_usage(s, n, ev)))
                        return err;
        } else if (kind == SL_KIND_USAGE) {
                if ((err = sl_sim_usage(s, n, ev)))
                        return err;
        }
        return SL_OK;
}

/* What the event did to the node, once the batch holding it was accepted. */
static void sl_sim_commit(sl_sim_t *s, sl_sim_node_t *n, const sl_event_t *ev)
{
        if (ev->kind == SL_KIND_JOIN) {
                n->joined = 1;
                n->pending_join = 0;
                n->pending_status = 0;
        } else if (ev->kind == SL_KIND_STATUS_CHANGE) {
                n->pending_status = 0;
        }
        n->seq++;
        s->kinds[ev->kind]++;
        s->published++;
}

static json_t *sl_sim_summary(const sl_sim_t *s, const sl_producer_stats_t *st, size_t regions,
                              size_t types, uint64_t seed, int64_t rate, double elapsed_s)
{
        json_t *kinds = json_object(), *faults = json_object();

        for (int k = SL_KIND_JOIN; k < SL_KIND__CNT; k++)
                json_object_set_new(kinds, sl_event_kind_name((sl_event_kind_t)k),
                                    json_integer((json_int_t)s->kinds[k]));
        json_object_set_new(faults, "silent",
                            json_integer((json_int_t)s->fired[SL_SIM_FAULT_SILENT]));
        json_object_set_new(faults, "flap", json_integer((json_int_t)s->fired[SL_SIM_FAULT_FLAP]));
        json_object_set_new(faults, "restart",
                            json_integer((json_int_t)s->fired[SL_SIM_FAULT_RESTART]));
        return json_pack(
            "{sI sI sI sI sI sI sI sI sI sI sI so so sf}", "nodes", (json_int_t)s->node_cnt,
            "regions", (json_int_t)regions, "types", (json_int_t)types, "seed", (json_int_t)seed,
            "rate", (json_int_t)rate, "published", (json_int_t)s->published, "accepted",
            (json_int_t)st->accepted, "sent", (json_int_t)st->sent, "coalesced",
            (json_int_t)st->coalesced, "retried", (json_int_t)st->retried, "outbox_depth",
            (json_int_t)st->outbox_depth, "kinds", kinds, "faults", faults, "elapsed_s", elapsed_s);
}

static int sl_sim_run(sl_cli_t *cli)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        int64_t nodes, regions, types, rate, duration, seed, pct[3];
        int progress = sl_cli_count(cli, "progress") > 0 || isatty(STDERR_FILENO);
        int tty = isatty(STDERR_FILENO);
        sl_event_t *evs[SL_SIM_BATCH_MAX] = {0};
        sl_sim_node_t *owners[SL_SIM_BATCH_MAX];
        char errstr[512], outbox_tmp[4096] = "";
        sl_producer_t *p = NULL;
        FILE *record = NULL;
        sl_producer_stats_t st;
        sl_sim_t sim = {0};
        int64_t start, last, next_progress, wall_start;
        uint64_t last_sent = 0;
        double tokens = 0;
        json_t *summary;
        const char *origin;
        sl_err_t err;
        int ret;

        if ((ret = sl_cli_int(cli, "nodes", 0, 1, 10000000, &nodes)) ||
            (ret = sl_cli_int(cli, "regions", 3, 1, 10000, &regions)) ||
            (ret = sl_cli_int(cli, "types", 8, 1, 10000, &types)) ||
            (ret = sl_cli_int(cli, "rate", nodes, 1, 100000000, &rate)) ||
            (ret = sl_cli_int(cli, "duration", 0, 1, INT32_MAX / 1000, &duration)) ||
            (ret = sl_cli_int(cli, "seed", (int64_t)(sl_cli_now_ms() & INT32_MAX), 0, INT64_MAX,
                              &seed)) ||
            (ret = sl_cli_int(cli, "silent", 0, 0, 100, &pct[0])) ||
            (ret = sl_cli_int(cli, "flap", 0, 0, 100, &pct[1])) ||
            (ret = sl_cli_int(cli, "restart", 0, 0, 100, &pct[2])))
                return ret;
        if (pct[0] + pct[1] + pct[2] > 100)
                return sl_cli_usage_error(cli, "--silent, --flap and --restart add up to more "
                                               "than 100 %%");

        /* A simulated fleet keeps nothing across runs unless asked to (see the description). */
        origin = sl_conf_origin(conf, "outbox.enable");
        if ((!origin || !strcmp(origin, "default")) &&
            sl_conf_set_from(conf, "outbox.enable", "false", "simulate default", errstr,
                             sizeof(errstr)))
                return sl_cli_fail(cli, "%s", errstr);
        if ((ret = sl_cli_outbox_tmp_prepare(cli, "seerlog-simulate", outbox_tmp,
                                             sizeof(outbox_tmp))))
                return ret;

        wall_start = sl_cli_now_ms();
        if (sl_sim_init(&sim, (size_t)nodes, (size_t)regions, (size_t)types, (uint64_t)seed, pct,
                        duration * 1000, wall_start)) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < SL_SIM_BATCH_MAX; i++) {
                if (!(evs[i] = sl_event_new())) {
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
        }
        if (!(p = sl_producer_new(conf, errstr, sizeof(errstr)))) {
                ret = sl_cli_fail(cli, "%s", errstr);
                goto done;
        }
        if ((ret = sl_cli_record_start(cli, p, &record)))
                goto done;
        sl_cli_trap_signals();

        start = last = sl_cli_now_mono_ms();
        next_progress = start + 1000;
        while (!sl_cli_interrupted()) {
                int64_t now = sl_cli_now_mono_ms(), el = now - start, wait;

                if (duration && el >= duration * 1000)
                        break;
                tokens += (double)rate * (double)(now - last) / 1000.0;
                last = now;
                /* A stalled loop does not make up for it later with a burst over 100 ms. */
                if (tokens > (double)rate / 10.0 + 1.0)
                        tokens = (double)rate / 10.0 + 1.0;
                sl_sim_faults(&sim, el, wall_start + el);

                while (tokens >= 1.0) {
                        /* A node appears at most once per batch: its next event depends on
                         * what this one did (seq, join). */
                        size_t active = sim.node_cnt - sim.fired[SL_SIM_FAULT_SILENT];
                        size_t cnt = 0,
                               want = tokens < SL_SIM_BATCH_MAX ? (size_t)tokens : SL_SIM_BATCH_MAX;

                        if (want > active)
                                want = active;

                        for (; cnt < want; cnt++) {
                                sl_sim_node_t *n = sl_sim_next(&sim);

                                if (!n)
                                        break;
                                if ((err = sl_sim_event(&sim, n, evs[cnt]))) {
                                        ret = sl_cli_fail(cli, "building an event: %s",
                                                          sl_err_str(err));
                                        goto done;
                                }
                                owners[cnt] = n;
                        }
                        if (!cnt) {
                                tokens = 0; /* Every node is silent. */
                                break;
                        }
                        if ((err =
                                 sl_producer_publish_batch(p, evs, cnt, errstr, sizeof(errstr)))) {
                                ret =
                                    sl_cli_fail(cli, "publishing: %s: %s", sl_err_str(err), errstr);
                                goto done;
                        }
                        for (size_t i = 0; i < cnt; i++)
                                sl_sim_commit(&sim, owners[i], evs[i]);
                        tokens -= (double)cnt;
                        sl_producer_poll(p, 0);
                }

                now = sl_cli_now_mono_ms();
                if (progress && now >= next_progress) {
                        sl_producer_stats(p, &st);
                        fprintf(stderr,
                                "simulate: %3" PRId64 " s  published %" PRIu64 "  sent %" PRIu64
                                " (%" PRIu64 "/s)  outbox %" PRIu64 "  in flight %" PRIu64
                                "  coalesced %" PRIu64 "%s",
                                (now - start) / 1000, sim.published, st.sent, st.sent - last_sent,
                                st.outbox_depth, st.in_flight, st.coalesced,
                                tty ? "\033[K\r" : "\n");
                        last_sent = st.sent;
                        next_progress += 1000;
                        if (next_progress <= now)
                                next_progress = now + 1000;
                }
                wait = SL_SIM_TICK_MS - (sl_cli_now_mono_ms() - now);
                sl_producer_poll(p, wait > 0 ? (int)wait : 0);
        }

        err = sl_producer_flush(p, SL_SIM_FLUSH_TIMEOUT_MS);
        sl_producer_stats(p, &st);
        if (progress && tty)
                fputs("\n", stderr);
        if (!(summary = sl_sim_summary(&sim, &st, (size_t)regions, (size_t)types, (uint64_t)seed,
                                       rate, (double)(sl_cli_now_mono_ms() - start) / 1000.0))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        json_dumpf(summary, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
        putchar('\n');
        fflush(stdout);
        json_decref(summary);
        if (err || st.sent < st.accepted)
                ret = sl_cli_fail(cli, "%" PRIu64 " accepted events not delivered within %d s",
                                  st.accepted - st.sent, SL_SIM_FLUSH_TIMEOUT_MS / 1000);
        else
                ret = SL_EXIT_OK;

done:
        if (p)
                sl_producer_destroy(p, 0);
        if (record)
                fclose(record);
        for (size_t i = 0; i < SL_SIM_BATCH_MAX; i++)
                sl_event_destroy(evs[i]);
        sl_sim_destroy(&sim);
        sl_cli_outbox_tmp_cleanup(outbox_tmp);
        return ret;
}
