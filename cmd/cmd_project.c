/* seerlog project: the projector, replaying the state topics into a store, exactly once. */
#include "cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sl_api.h"
#include "sl_projector.h"
#include "sl_snapshot.h"

static int sl_project_run(sl_cli_t *cli);

static const sl_opt_t sl_project_opts[] = {
    {"store", 0, "DIR", 0, "Store directory (default: store.dir)"},
    {"group", 0, "ID", 0, "Consumer group (default: project.group.id)"},
    {"catch-up", 0, NULL, 0, "Exit once every assigned partition was read to its end"},
    {"from-snapshot", 0, "FILE", 0, "Start an empty store from a snapshot (seerlog snapshot)"},
    {"stats-interval", 0, "S", 0, "Print counters to stderr every S seconds (default 0: never)"},
    {"listen", 0, "HOST:PORT", 0,
     "Serve the HTTP API there (default: project.listen; port 0: any)"},
    {0},
};

const sl_cmd_t sl_cmd_project = {
    .name = "project",
    .summary = "Replay the state topics into a materialised per-node state",
    .usage = "--store DIR [--group ID] [--from-snapshot FILE] [--catch-up] [--stats-interval S] "
             "[--listen HOST:PORT] "
             "[options]",
    .description =
        "Consumes every topic matching project.topic.pattern (default ^seerlog\\.state\\..+;\n"
        "topics created later are picked up) in consumer group --group, and keeps the latest\n"
        "state of every node in the store DIR (an LMDB environment): an event replaces a\n"
        "node's state only if its (incarnation, seq) is newer, so duplicates, producer retries\n"
        "and outbox replays change nothing. Each batch of up to project.batch.max records is\n"
        "applied in ONE store transaction together with the offsets it was read up to, and\n"
        "reading resumes from the store's offsets (not the group's): killed at any point, a\n"
        "projector restarted on the same store ends in the same state as one that never\n"
        "stopped. Offsets are also committed to Kafka, asynchronously, for lag tools.\n"
        "\n"
        "Records that cannot be decoded go to dlq.topic with headers seerlog.dlq.reason,\n"
        "seerlog.dlq.error, seerlog.dlq.topic, seerlog.dlq.partition, seerlog.dlq.offset;\n"
        "processing continues. Schemas other than the built-in one are fetched from the\n"
        "registry (--registry). Projectors sharing a group split the partitions, each into its\n"
        "own store; a store is used by one process at a time.\n"
        "\n"
        "--from-snapshot FILE first loads a snapshot ('seerlog snapshot export') into the\n"
        "store, which must be empty, checking the file's hash; reading then starts at the\n"
        "offsets inside the snapshot instead of the beginning of the log.\n"
        "\n"
        "Runs until SIGINT or SIGTERM (or, with --catch-up, until it has read everything that\n"
        "was there), then prints one JSON line to stdout: consumed, applied (events stored),\n"
        "superseded (newer than the node's state, but followed in their batch by a newer event\n"
        "of the node, stored instead), ignored (duplicate or stale), dead_lettered, batches,\n"
        "retried, nodes, assigned, lag, pauses, store_full (1 while the store has no room:\n"
        "the projector then waits for room instead of exiting, except with --catch-up),\n"
        "liveness (nodes per state), time_ms (where the\n"
        "time went: poll, read = decode and coalesce, wait = for the writer thread, write,\n"
        "commit) and the store's canonical hash (the same as 'seerlog state hash').\n"
        "--stats-interval prints the same, without the hash, to stderr while running.\n"
        "\n"
        "--listen HOST:PORT (or project.listen) serves the HTTP API while projecting:\n"
        "GET /v1/nodes (filters region, type, status, liveness, label=K=V; sort; cursor\n"
        "pages), /v1/nodes/ID, /v1/summary, /v1/watch (Server-Sent Events), /healthz,\n"
        "/readyz and /metrics (Prometheus). docs/api.md has every endpoint.\n"
        "api.tls.cert and api.tls.key serve it over HTTPS; api.auth.file (USER:PASSWORD[:ROLE]\n"
        "and Bearer TOKEN[:ROLE] lines) makes every endpoint but /healthz and /readyz need\n"
        "credentials. A half-configured setup (a certificate without its key, a bad PEM, an\n"
        "auth file that is empty or malformed, or without TLS on a non-loopback address unless\n"
        "api.allow.insecure.auth=true) is refused at start with exit 2.\n"
        "\n"
        "Every project.lag.interval.ms the projector measures its lag per partition, publishes\n"
        "it to control.topic (agents stretch their heartbeats while it is above lag.high) and,\n"
        "while above lag.high, pauses the partitions with more than twice the mean lag until\n"
        "the others are below lag.low. Node liveness (alive, suspect, dead, left, missing with\n"
        "inventory.file) is published to liveness.topic. docs/projector.md states the\n"
        "guarantees.\n",
    .opts = sl_project_opts,
    .run = sl_project_run,
};

static void sl_project_print_stats(FILE *fp, const sl_projector_stats_t *st, const char *hash)
{
        fprintf(fp,
                "{\"consumed\":%" PRIu64 ",\"applied\":%" PRIu64 ",\"superseded\":%" PRIu64
                ",\"ignored\":%" PRIu64 ",\"dead_lettered\":%" PRIu64 ",\"batches\":%" PRIu64
                ",\"retried\":%" PRIu64 ",\"nodes\":%" PRIu64 ",\"assigned\":%d,\"lag\":%" PRId64
                ",\"pauses\":%" PRIu64 ",\"store_full\":%d,\"liveness\":{\"alive\":%" PRIu64
                ",\"suspect\":%" PRIu64 ",\"dead\":%" PRIu64 ",\"left\":%" PRIu64
                ",\"missing\":%" PRIu64 "}",
                st->consumed, st->applied, st->superseded, st->ignored, st->dead_lettered,
                st->batches, st->retried, st->nodes, st->assigned, st->lag, st->pauses,
                st->store_full, st->liveness[SL_LIVENESS_ALIVE], st->liveness[SL_LIVENESS_SUSPECT],
                st->liveness[SL_LIVENESS_DEAD], st->liveness[SL_LIVENESS_LEFT],
                st->liveness[SL_LIVENESS_MISSING]);
        fprintf(fp,
                ",\"time_ms\":{\"poll\":%" PRIu64 ",\"read\":%" PRIu64 ",\"wait\":%" PRIu64
                ",\"write\":%" PRIu64 ",\"commit\":%" PRIu64 "}",
                st->poll_us / 1000, st->read_us / 1000, st->wait_us / 1000, st->write_us / 1000,
                st->commit_us / 1000);
        if (hash)
                fprintf(fp, ",\"hash\":\"%s\"", hash);
        fprintf(fp, "}\n");
        fflush(fp);
}

/* --from-snapshot: the snapshot into the (empty) store, before the projector opens it. */
static int sl_project_load(sl_cli_t *cli, const char *store)
{
        const char *path = sl_cli_str(cli, "from-snapshot");
        sl_snapshot_info_t info = {0};
        int64_t t0 = sl_cli_now_mono_ms();
        char errstr[512];
        sl_store_t *s;
        int ret = SL_EXIT_OK;

        if (!*path)
                return sl_cli_usage_error(cli, "--from-snapshot: expected a file");
        if (sl_store_open(store, sl_conf_get_int(sl_cli_conf(cli), "store.max.bytes"), &s, errstr,
                          sizeof(errstr)))
                return sl_cli_fail(cli, "%s", errstr);
        if (sl_store_node_count(s))
                ret = sl_cli_fail(cli,
                                  "--from-snapshot needs an empty store; %s already has %llu "
                                  "nodes (start without --from-snapshot to go on from it)",
                                  store, (unsigned long long)sl_store_node_count(s));
        else if (sl_snapshot_import(path, s, &info, errstr, sizeof(errstr)))
                ret = sl_cli_fail(cli, "loading %s: %s", path, errstr);
        else
                fprintf(stderr,
                        "seerlog: project: loaded %s: %lld nodes, %zu offsets, hash %s, %lld ms\n",
                        path, (long long)info.nodes, info.offset_cnt, info.hash,
                        (long long)(sl_cli_now_mono_ms() - t0));
        sl_snapshot_info_clear(&info);
        sl_store_close(s);
        return ret;
}

static int sl_project_run(sl_cli_t *cli)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *store = sl_cli_str(cli, "store"), *group = sl_cli_str(cli, "group");
        int catch_up = sl_cli_count(cli, "catch-up") > 0;
        char errstr[512], hash[SL_STORE_HASH_HEX_SIZE];
        const char *listen = sl_cli_str(cli, "listen");
        sl_projector_stats_t st;
        sl_projector_t *p;
        sl_api_t *api = NULL;
        int64_t every, next_stats;
        int ret = SL_EXIT_OK;

        if ((ret = sl_cli_int(cli, "stats-interval", 0, 0, 86400, &every)))
                return ret;
        if (!store || !*store)
                store = sl_conf_get(conf, "store.dir");
        if (!store || !*store)
                return sl_cli_usage_error(cli, "--store DIR is required (or set store.dir)");
        if (group && (!*group || sl_conf_set_from(conf, "project.group.id", group, "flag --group",
                                                  errstr, sizeof(errstr))))
                return sl_cli_usage_error(cli, "--group: %s", *group ? errstr : "empty");
        if (sl_cli_str(cli, "from-snapshot") && (ret = sl_project_load(cli, store)))
                return ret;
        if (!listen)
                listen = sl_conf_get(conf, "project.listen");
        /* Before the store and Kafka: a bad address is the user's to fix at once. */
        if (listen && *listen && sl_api_check_listen(listen, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "--listen: %s", errstr);
        if (listen && *listen && sl_api_check_security(conf, listen, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        if (!(p = sl_projector_new(conf, store, errstr, sizeof(errstr))))
                return sl_cli_fail(cli, "%s", errstr);
        if (listen && *listen) {
                if (!(api = sl_api_start(p, conf, listen, errstr, sizeof(errstr)))) {
                        sl_projector_destroy(p);
                        return sl_cli_fail(cli, "--listen: %s", errstr);
                }
                fprintf(stderr, "seerlog: project: HTTP API on port %d (%s)\n", sl_api_port(api),
                        listen);
        }
        sl_cli_trap_signals();
        fprintf(stderr, "seerlog: project: store %s, group %s, topics %s\n", store,
                sl_conf_get(conf, "project.group.id"), sl_conf_get(conf, "project.topic.pattern"));
        next_stats = sl_cli_now_mono_ms() + every * 1000;
        while (!sl_cli_interrupted()) {
                if (sl_projector_poll(p, 200, errstr, sizeof(errstr)) < 0) {
                        ret = sl_cli_fail(cli, "%s", errstr);
                        break;
                }
                if (catch_up && sl_projector_caught_up(p))
                        break;
                /* A service waits for room (not ready); a one-off catch-up has no one to wait
                 * for it. */
                if (catch_up) {
                        sl_projector_stats(p, &st);
                        if (st.store_full) {
                                ret = sl_cli_fail(cli, "%s", st.store_error);
                                break;
                        }
                }
                if (every && sl_cli_now_mono_ms() >= next_stats) {
                        sl_projector_stats(p, &st);
                        sl_project_print_stats(stderr, &st, NULL);
                        next_stats += every * 1000;
                }
        }
        sl_projector_flush(p); /* the last batch's result */
        sl_projector_stats(p, &st);
        if (sl_store_hash(sl_projector_store(p), hash, errstr, sizeof(errstr))) {
                fprintf(stderr, "seerlog: project: %s\n", errstr);
                hash[0] = '\0';
                ret = SL_EXIT_FAIL;
        }
        sl_project_print_stats(stdout, &st, hash[0] ? hash : NULL);
        sl_api_stop(api); /* (the writer is idle since the flush) */
        sl_projector_destroy(p);
        return ret;
}
