/* seerlog registry: the Confluent-compatible schema registry, stored in Kafka. */
#include "cmds.h"

#include <signal.h>
#include <unistd.h>

#include "sl_registry_server.h"

static int sl_registry_run(sl_cli_t *cli);

static const sl_opt_t sl_registry_opts[] = {
    {"listen", 0, "HOST:PORT", 0, "Address to serve HTTP(S) on (sets registry.listen)"},
    {0},
};

const sl_cmd_t sl_cmd_registry = {
    .name = "registry",
    .summary = "Run the schema registry (Confluent's REST API, stored in a Kafka topic)",
    .usage = "[--listen HOST:PORT] [--bootstrap HOST:PORT] [-X KEY=VALUE...] [--config FILE]",
    .description =
        "Serves Confluent's schema registry REST API (Avro schemas) on registry.listen, with\n"
        "its state in the compacted single-partition topic registry.topic (created if\n"
        "missing). Any number of instances may share one topic: the one elected through the\n"
        "consumer group registry.group.id allocates ids and writes; the others serve reads\n"
        "and forward writes to it. Until it has read the topic to its end, an instance\n"
        "answers 503.\n"
        "\n"
        "Security: registry.auth.file (USER:PASSWORD[:ROLE] and Bearer TOKEN[:ROLE] lines;\n"
        "role read reads, admin also writes, admin when absent), registry.tls.cert and\n"
        "registry.tls.key (HTTPS); credentials without TLS on a non-loopback address need\n"
        "registry.allow.insecure.auth=true. Limits: registry.max.body.bytes,\n"
        "registry.max.connections. See docs/schema-registry.md.\n"
        "\n"
        "Runs until SIGINT or SIGTERM, then stops serving, leaves the group (another instance\n"
        "takes over at once) and exits 0. Exits 2 on a configuration error (a bad value, an\n"
        "unreadable, empty or malformed auth file, a bad certificate or key) and 1 when it cannot "
        "start otherwise (a topic\n"
        "with more than one partition, no broker, the address in use).\n",
    .opts = sl_registry_opts,
    .run = sl_registry_run,
    .help_extra = sl_conf_print_help,
};

static int sl_registry_run(sl_cli_t *cli)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *listen = sl_cli_str(cli, "listen");
        sl_registry_server_t *srv = NULL;
        char errstr[1024];
        sl_err_t err;

        if (listen && sl_conf_set_from(conf, "registry.listen", listen, "flag --listen", errstr,
                                       sizeof(errstr)))
                return sl_cli_usage_error(cli, "--listen: %s", errstr);
        /* A client that disconnects while we answer must not kill the server. */
        signal(SIGPIPE, SIG_IGN);
        sl_cli_trap_signals();
        if ((err = sl_registry_server_start(conf, &srv, errstr, sizeof(errstr))))
                return err == SL_ERR_CONFIG ? sl_cli_usage_error(cli, "%s", errstr)
                                            : sl_cli_fail(cli, "%s", errstr);
        while (!sl_cli_interrupted())
                usleep(100 * 1000);
        sl_registry_server_stop(srv);
        return SL_EXIT_OK;
}
