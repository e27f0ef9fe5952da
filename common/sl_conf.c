#include "sl_conf.h"

#include "sl_kafka.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

/* One table entry per key type: SL_<TYPE>(name, default, ..., description). */
/* clang-format off */
#define SL_STRING(name, def, flags, desc)    {name, SL_CONF_STRING, def, 0, 0, NULL, flags, desc}
#define SL_INT(name, def, min, max, desc)    {name, SL_CONF_INT, def, min, max, NULL, 0, desc}
#define SL_BOOL(name, def, desc)             {name, SL_CONF_BOOL, def, 0, 0, NULL, 0, desc}
#define SL_URL(name, def, desc)              {name, SL_CONF_URL, def, 0, 0, NULL, 0, desc}
#define SL_HOSTPORTS(name, def, flags, desc) {name, SL_CONF_HOSTPORTS, def, 0, 0, NULL, flags, desc}
#define SL_ENUM(name, def, choices, desc)    {name, SL_CONF_ENUM, def, 0, 0, choices, 0, desc}
/* clang-format on */

/*
 * seerlog's own keys. Adding a key is adding an entry here; validation, sl_conf_print_help() and
 * the Markdown reference (docs/configuration.md) follow from it.
 */
static const sl_conf_prop_t sl_conf_table[] = {
    SL_HOSTPORTS("bootstrap.servers", "127.0.0.1:9092", SL_CONF_F_KAFKA,
                 "Kafka brokers to bootstrap from. Also given to librdkafka."),
    SL_URL("registry.url", "http://127.0.0.1:8081", "Base URL of the schema registry."),
    SL_INT("schema.id", "1", 1, INT32_MAX,
           "Registry id of the NodeStateEvent schema: records are written with it (unless "
           "publish --auto-register asks the registry), and it is the id under which the "
           "built-in schema is known without asking the registry."),
    SL_ENUM("log.level", "info", "error|warn|info|debug",
            "Least severe message that seerlog logs, librdkafka's included."),

    /* The schema registry client (every component that encodes or decodes events). */
    SL_STRING("registry.basic.auth.user.info", "", 0,
              "USER:PASSWORD for HTTP basic authentication to the registry; empty: none."),
    SL_STRING("registry.ssl.ca.location", "", 0,
              "CA certificate file (PEM) to verify an https registry with; empty: the system's."),
    SL_INT("registry.request.timeout.ms", "10000", 100, 600000,
           "Timeout of one HTTP request to the registry."),
    SL_INT("registry.retries", "3", 0, 100,
           "Retries of a registry request that failed with a timeout, a connection error or a "
           "5xx answer, with exponential backoff from 100 ms."),

    /* Producing events (seerlog agent, publish, simulate, bench produce). */
    SL_STRING("topic.template", "seerlog.state.{region}.{type}", 0,
              "Topic of a node's events; {region} and {type} are replaced by the node's. A "
              "template without placeholders puts every event in one topic."),
    SL_BOOL("topic.create", "true",
            "Create a topic through the admin API the first time it is used (else the operator "
            "creates it, or the broker auto-creates it)."),
    SL_INT("topic.partitions", "6", 1, 100000, "Partitions of a topic seerlog creates."),
    SL_INT("topic.replication.factor", "-1", -1, 32,
           "Replication factor of a topic seerlog creates; -1: the broker's "
           "default.replication.factor."),
    SL_ENUM("schema.mode", "register", "register|lookup|fixed",
            "How a producer gets the event schema's id: register it under <topic>-value, "
            "look it up there (it must be registered already), or use schema.id as is."),
    SL_BOOL("outbox.enable", "true",
            "Write every accepted event to the durable outbox before producing it, and remove "
            "it only on Kafka's delivery report."),
    SL_STRING("outbox.dir", "", 0,
              "Directory of the outbox (an LMDB environment); empty: "
              "$XDG_STATE_HOME/seerlog/outbox, or ~/.local/state/seerlog/outbox."),
    SL_INT("outbox.max.bytes", "1073741824", 1048576, INT64_MAX,
           "Largest size the outbox may grow to (LMDB map size); publishing fails when full."),
    SL_INT("delivery.timeout.ms", "0", 0, INT32_MAX,
           "How long librdkafka keeps trying one record (message.timeout.ms); 0: forever. "
           "With the outbox a failed record is produced again later anyway."),

    /* The node agent (seerlog agent). */
    SL_STRING("node.id", "", 0, "The node's id (the record key); empty: the hostname."),
    SL_STRING("node.type", "", 0,
              "The node's role: auth, hoarder, monkey, patrick, seer, substrate, tns, gateway, "
              "or any other name."),
    SL_STRING("node.region", "", 0, "Region the node runs in."),
    SL_STRING("node.cluster", "", 0, "Cluster within the region, if any."),
    SL_STRING("node.labels", "", 0, "Labels, as key=value[,key=value...]."),
    SL_STRING("node.services", "", 0,
              "Services the node runs, as name[;key=value...][,name...]; a file named by "
              "node.services.file is read again on every check, so edits are announced."),
    SL_STRING("node.services.file", "", 0,
              "File with one service per line (name[;key=value...]); empty: none."),
    SL_STRING("node.status.file", "", 0,
              "File whose first word is the node's status (up, degraded, draining, down, "
              "maintenance); read "
              "on every check; empty or missing: up."),
    SL_INT("heartbeat.interval.ms", "1000", 10, 3600000,
           "Interval between heartbeats. (librdkafka's consumer property of the same name is "
           "kafka.heartbeat.interval.ms.)"),
    SL_INT("check.interval.ms", "1000", 10, 3600000,
           "Interval at which the agent reads the node's state (/proc, statfs, files)."),
    SL_INT("usage.threshold.percent", "10", 0, 100,
           "A usage event is sent when CPU, memory or disk use moved by at least this many "
           "percentage points since the last one."),

    /* Backpressure from the readers' lag (seerlog.control). */
    SL_STRING("control.topic", "seerlog.control", 0,
              "Compacted topic where projectors publish their consumer lag."),
    SL_INT("lag.high", "100000", 1, INT64_MAX,
           "Consumer lag (events) above which producers stretch their heartbeat interval."),
    SL_INT("lag.low", "10000", 0, INT64_MAX,
           "Consumer lag below which the heartbeat interval returns to normal (hysteresis)."),
    SL_INT("heartbeat.max.interval.ms", "30000", 10, 3600000,
           "Longest heartbeat interval that lag stretches to."),

    /* The projector (seerlog project). */
    SL_STRING("project.reader.schema", "", 0,
              "File with an older NodeStateEvent schema (e.g. schemas/node_state.v1.avsc) to "
              "decode as a projector of that version would: fields it lacks are skipped, enum "
              "symbols it lacks read as the enum's default. For testing mixed versions and "
              "rolling upgrades; empty: the built-in schema."),
    SL_STRING("project.group.id", "seerlog-projector", 0,
              "Consumer group of the projectors; projectors sharing it split the partitions, "
              "each into its own store."),
    SL_STRING("project.topic.pattern", "^seerlog\\.state\\..+", 0,
              "Regular expression (POSIX extended, anchored with ^) of the state topics to "
              "project; topics created later are picked up within "
              "topic.metadata.refresh.interval.ms."),
    SL_INT("project.batch.max", "500000", 1, 1000000,
           "Most records in one store transaction. A batch is read while the one before is "
           "stored, and grows up to this while that takes; smaller values bound the work "
           "redone after a crash."),
    /* Limits of what one record may make the projector do (with the event limits of
     * event/sl_event.h). */
    SL_INT("project.max.record.bytes", "1048576", 64, INT32_MAX,
           "Largest state record the projector reads; a larger one goes to the dead-letter "
           "topic (without its value, its size in the seerlog.dlq.size header)."),
    SL_STRING("store.dir", "", 0, "The projector's store directory (an LMDB environment)."),
    SL_INT("store.max.bytes", "10737418240", 1048576, INT64_MAX,
           "Largest size the store may grow to (LMDB map size); when full the projector stops "
           "applying (not ready) until restarted with more."),
    SL_STRING("project.changelog.topic", "seerlog.snapshot", 0,
              "Compacted topic where the projector publishes every node's latest state, in the "
              "same Kafka transaction as the offsets it consumed; empty: none."),
    SL_INT("project.changelog.partitions", "6", 1, 100000,
           "Partitions of the changelog topic when the projector creates it (topic.create)."),
    SL_INT("project.lag.interval.ms", "5000", 0, 3600000,
           "How often the projector measures its lag, reports it to control.topic (per "
           "partition and total) and pauses or resumes the busiest partitions; 0: never."),
    SL_STRING("project.listen", "", 0,
              "HOST:PORT where the projector serves its HTTP API (docs/api.md): nodes, summary, "
              "watch stream, /healthz, /readyz, /metrics; empty: no API. --listen sets it."),
    SL_INT("api.max.connections", "64", 1, 100000,
           "Most simultaneous connections to the projector's HTTP API; more are refused."),
    SL_INT("api.max.watchers", "16", 0, 10000,
           "Most simultaneous clients of /v1/watch; more get 503."),
    SL_INT("api.watch.buffer", "65536", 16, 100000000,
           "Events of the watch stream kept for clients that lag or resume (Last-Event-ID); a "
           "client further behind is cut off."),
    SL_INT("api.ready.lag", "1000", 0, INT64_MAX,
           "/readyz answers 200 once every assigned partition was read to its end, or the "
           "reported lag is at most this."),
    SL_STRING("api.tls.cert", "", 0,
              "Certificate (PEM) to serve the projector's API over HTTPS with; needs api.tls.key. "
              "Empty: HTTP."),
    SL_STRING("api.tls.key", "", 0, "Private key (PEM) of api.tls.cert."),
    SL_STRING("api.auth.file", "", 0,
              "File of USER:PASSWORD[:ROLE] and Bearer TOKEN[:ROLE] lines (ROLE admin or read; "
              "admin when absent); when set, every request but /healthz and /readyz needs one "
              "of them (HTTP basic or bearer authentication). Keep it mode 600."),
    SL_BOOL("api.allow.insecure.auth", "false",
            "Accept api.auth.file without api.tls.cert on an address that is not loopback "
            "(credentials then cross the network in clear); otherwise refused at start."),
    SL_URL("api.url", "http://127.0.0.1:8080",
           "URL of the projector's HTTP API that the command-line views read (seerlog state "
           "without --store, seerlog watch, seerlog top); --url sets it."),
    SL_STRING("api.basic.auth.user.info", "", 0,
              "USER:PASSWORD the command-line views and the bridge (--native-from URL) send to "
              "the projector's API (HTTP basic); empty: none."),
    SL_STRING("api.bearer.auth.token.file", "", 0,
              "File holding the bearer token the command-line views and the bridge send to the "
              "projector's API instead of api.basic.auth.user.info; empty: none."),
    SL_STRING("api.ssl.ca.location", "", 0,
              "CA certificate file (PEM) to verify an https projector API with; empty: the "
              "system's."),
    SL_STRING("dlq.topic", "seerlog.dlq", 0,
              "Dead-letter topic: records the projector cannot decode, with headers naming the "
              "reason and where they came from."),

    /* The projector's liveness tracking (projector/sl_liveness.h). */
    SL_INT("liveness.suspect.intervals", "3", 1, 1000000,
           "A node is suspect when nothing was heard from it for more than this many heartbeat "
           "intervals: heartbeat.interval.ms, or heartbeat.max.interval.ms while the projector "
           "reports a lag above lag.high."),
    SL_INT("liveness.dead.intervals", "10", 2, 1000000,
           "A node is dead when nothing was heard from it for more than this many heartbeat "
           "intervals; must be more than liveness.suspect.intervals."),
    SL_STRING("liveness.topic", "seerlog.liveness", 0,
              "Compacted topic where the projector publishes each change of a node's liveness "
              "(NodeLiveness records, schemas/liveness.avsc), keyed by node id."),
    SL_STRING("inventory.file", "", 0,
              "File listing the nodes expected to exist, one node id per line (# comments); a "
              "listed node never heard from is reported missing. Empty: no inventory."),

    /* The schema registry server (seerlog registry). */
    SL_HOSTPORTS("registry.listen", "127.0.0.1:8081", 0,
                 "HOST:PORT the registry server listens on."),
    SL_STRING("registry.advertised.url", "", 0,
              "URL other registry instances use to forward writes to this one when it leads; "
              "empty: derived from registry.listen (and TLS)."),
    SL_STRING("registry.topic", "_schemas", 0,
              "Compacted single-partition topic holding every schema, config and mode record."),
    SL_INT("registry.topic.replication.factor", "-1", -1, 32,
           "Replication factor used when the registry creates its topic; -1: the broker's "
           "default.replication.factor."),
    SL_STRING("registry.group.id", "seerlog-registry", 0,
              "Consumer group through which registry instances sharing a topic elect the one "
              "that allocates ids; also the stem of its transactional.id."),
    SL_INT("registry.write.timeout.ms", "10000", 100, 600000,
           "How long a write waits to be committed to Kafka and read back before it fails."),
    SL_INT("registry.max.body.bytes", "1048576", 1024, 67108864,
           "Largest request body accepted; larger ones are refused with 413."),
    SL_INT("registry.max.connections", "256", 1, 65536,
           "Most concurrent HTTP connections; more are refused."),
    SL_STRING("registry.auth.file", "", 0,
              "File of USER:PASSWORD[:ROLE] and Bearer TOKEN[:ROLE] lines (ROLE admin or read; "
              "admin when absent); when set, every request needs one of them (HTTP basic or "
              "bearer authentication), and writes the admin role. Keep it mode 600."),
    SL_STRING("registry.tls.cert", "", 0,
              "Certificate (PEM) to serve HTTPS with; needs registry.tls.key. Empty: HTTP."),
    SL_STRING("registry.tls.key", "", 0, "Private key (PEM) of registry.tls.cert."),
    SL_BOOL("registry.allow.insecure.auth", "false",
            "Accept registry.auth.file without registry.tls.cert on an address that is not "
            "loopback (credentials then cross the network in clear); otherwise refused at start."),
};

#define SL_CONF_CNT (sizeof(sl_conf_table) / sizeof(sl_conf_table[0]))

/* librdkafka aliases of the keys above that librdkafka also takes. */
static const struct {
        const char *alias, *name;
} sl_conf_aliases[] = {
    {"metadata.broker.list", "bootstrap.servers"},
};

#define SL_CONF_KAFKA_PREFIX     "kafka."
#define SL_CONF_KAFKA_PREFIX_LEN (sizeof(SL_CONF_KAFKA_PREFIX) - 1)

typedef struct {
        char *name, *value, *origin;
} sl_conf_kv_t;

struct sl_conf_s {
        char *values[SL_CONF_CNT];  /**< NULL: default. */
        char *origins[SL_CONF_CNT]; /**< NULL while values[i] is NULL. */
        sl_conf_kv_t *kafka;        /**< librdkafka properties in set order. */
        size_t kafka_cnt, kafka_cap;
        rd_kafka_conf_t *scratch; /**< Validates librdkafka values at set time. */
};

const sl_conf_prop_t *sl_conf_props(size_t *cntp)
{
        if (cntp)
                *cntp = SL_CONF_CNT;
        return sl_conf_table;
}

static int sl_conf_find(const char *key)
{
        for (size_t i = 0; i < SL_CONF_CNT; i++)
                if (!strcmp(sl_conf_table[i].name, key))
                        return (int)i;
        return -1;
}

/* A seerlog key that librdkafka also takes, named by its librdkafka name or alias, or -1. */
static int sl_conf_find_kafka_shared(const char *rk_name)
{
        int i = sl_conf_find(rk_name);

        if (i >= 0)
                return (sl_conf_table[i].flags & SL_CONF_F_KAFKA) ? i : -1;
        for (size_t a = 0; a < sizeof(sl_conf_aliases) / sizeof(sl_conf_aliases[0]); a++)
                if (!strcmp(sl_conf_aliases[a].alias, rk_name))
                        return sl_conf_find(sl_conf_aliases[a].name);
        return -1;
}

static const char *sl_conf_rk_name(const char *key)
{
        if (!strncmp(key, SL_CONF_KAFKA_PREFIX, SL_CONF_KAFKA_PREFIX_LEN))
                return key + SL_CONF_KAFKA_PREFIX_LEN;
        return key;
}

static ssize_t sl_conf_kafka_find(const sl_conf_t *conf, const char *rk_name)
{
        for (size_t i = 0; i < conf->kafka_cnt; i++)
                if (!strcmp(conf->kafka[i].name, rk_name))
                        return (ssize_t)i;
        return -1;
}

sl_conf_t *sl_conf_new(void)
{
        sl_conf_t *conf = calloc(1, sizeof(*conf));

        if (!conf)
                return NULL;
        if (!(conf->scratch = rd_kafka_conf_new())) {
                free(conf);
                return NULL;
        }
        return conf;
}

static void sl_conf_kv_free(sl_conf_kv_t *kv)
{
        free(kv->name);
        free(kv->value);
        free(kv->origin);
}

void sl_conf_destroy(sl_conf_t *conf)
{
        if (!conf)
                return;
        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                free(conf->values[i]);
                free(conf->origins[i]);
        }
        for (size_t i = 0; i < conf->kafka_cnt; i++)
                sl_conf_kv_free(&conf->kafka[i]);
        free(conf->kafka);
        if (conf->scratch)
                rd_kafka_conf_destroy(conf->scratch);
        free(conf);
}

/* A deep copy, so that sl_conf_load_file() can be all or nothing. */
static sl_conf_t *sl_conf_dup(const sl_conf_t *src)
{
        sl_conf_t *conf = calloc(1, sizeof(*conf));

        if (!conf)
                return NULL;
        if (!(conf->scratch = rd_kafka_conf_dup(src->scratch)))
                goto fail;
        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                if (!src->values[i])
                        continue;
                if (!(conf->values[i] = strdup(src->values[i])) ||
                    !(conf->origins[i] = strdup(src->origins[i])))
                        goto fail;
        }
        if (src->kafka_cnt) {
                if (!(conf->kafka = calloc(src->kafka_cnt, sizeof(*conf->kafka))))
                        goto fail;
                conf->kafka_cap = src->kafka_cnt;
                for (size_t i = 0; i < src->kafka_cnt; i++) {
                        sl_conf_kv_t *kv = &conf->kafka[conf->kafka_cnt++];

                        if (!(kv->name = strdup(src->kafka[i].name)) ||
                            !(kv->value = strdup(src->kafka[i].value)) ||
                            !(kv->origin = strdup(src->kafka[i].origin)))
                                goto fail;
                }
        }
        return conf;

fail:
        sl_conf_destroy(conf);
        return NULL;
}

/* Swaps the contents of two configurations (the handles stay with their owners). */
static void sl_conf_swap(sl_conf_t *a, sl_conf_t *b)
{
        sl_conf_t tmp = *a;

        *a = *b;
        *b = tmp;
}

/*
 * Type checks. Each returns NULL when @p v is valid for @p p, else a static or @p buf text saying
 * what is wrong, to follow "expected ...".
 */

static int sl_conf_parse_int(const char *v, int64_t *valp)
{
        char *end;
        long long n;

        if (!*v || isspace((unsigned char)*v))
                return -1;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || *end)
                return -1;
        *valp = n;
        return 0;
}

static int sl_conf_parse_bool(const char *v, int *valp)
{
        if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
                *valp = 1;
                return 0;
        }
        if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
                *valp = 0;
                return 0;
        }
        return -1;
}

/* Port text [p, end): 1..65535, digits only. */
static int sl_conf_port_ok(const char *p, const char *end)
{
        long port = 0;

        if (p == end || end - p > 5)
                return 0;
        for (; p < end; p++) {
                if (!isdigit((unsigned char)*p))
                        return 0;
                port = port * 10 + (*p - '0');
        }
        return port >= 1 && port <= 65535;
}

/*
 * host:port in [s, end): host is a name or address without ':' or an IPv6 address in brackets.
 * @returns NULL or what is wrong.
 */
static const char *sl_conf_hostport_check(const char *s, const char *end)
{
        const char *colon;

        if (s == end)
                return "an entry is empty";
        for (const char *p = s; p < end; p++)
                if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '/' ||
                    *p == '@')
                        return "a host:port contains a space, '/' or '@'";
        if (*s == '[') {
                const char *close = memchr(s, ']', (size_t)(end - s));

                if (!close || close == s + 1)
                        return "an IPv6 address is not closed with ']'";
                if (close + 1 == end || close[1] != ':')
                        return "a host has no :port";
                colon = close + 1;
        } else {
                colon = memchr(s, ':', (size_t)(end - s));
                if (!colon)
                        return "a host has no :port";
                if (colon == s)
                        return "a host is empty";
                if (memchr(colon + 1, ':', (size_t)(end - colon - 1)))
                        return "an IPv6 address must be in brackets: [::1]:9092";
        }
        if (!sl_conf_port_ok(colon + 1, end))
                return "a port is not a number from 1 to 65535";
        return NULL;
}

static const char *sl_conf_hostports_check(const char *v)
{
        const char *s = v;

        for (;;) {
                const char *comma = strchr(s, ',');
                const char *end = comma ? comma : s + strlen(s);
                const char *b = s, *e = end;
                const char *why;

                while (b < e && (*b == ' ' || *b == '\t'))
                        b++;
                while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if ((why = sl_conf_hostport_check(b, e)))
                        return why;
                if (!comma)
                        return NULL;
                s = comma + 1;
        }
}

static const char sl_conf_url_userinfo[] =
    "user:password@ in the URL is not supported: use the key's *.basic.auth.user.info";

static const char *sl_conf_url_check(const char *v)
{
        const char *host, *end, *close;

        if (!strncasecmp(v, "http://", 7))
                host = v + 7;
        else if (!strncasecmp(v, "https://", 8))
                host = v + 8;
        else
                return "the scheme is not http:// or https://";
        for (const char *p = v; *p; p++)
                if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
                        return "it contains a space or control character";
        end = host + strcspn(host, "/?#");
        if (end == host)
                return "the host is empty";
        if (memchr(host, '@', (size_t)(end - host)))
                return sl_conf_url_userinfo;
        if (*host == '[') {
                close = memchr(host, ']', (size_t)(end - host));
                if (!close || close == host + 1)
                        return "an IPv6 address is not closed with ']'";
                if (close + 1 == end)
                        return NULL;
                if (close[1] != ':')
                        return "junk after the IPv6 address";
                return sl_conf_port_ok(close + 2, end) ? NULL
                                                       : "the port is not a number from 1 to 65535";
        }
        close = memchr(host, ':', (size_t)(end - host));
        if (!close)
                return NULL;
        if (close == host)
                return "the host is empty";
        return sl_conf_port_ok(close + 1, end) ? NULL : "the port is not a number from 1 to 65535";
}

static int sl_conf_enum_index(const char *choices, const char *v)
{
        size_t vlen = strlen(v);
        int idx = 0;

        for (const char *s = choices;; idx++) {
                const char *bar = strchr(s, '|');
                size_t len = bar ? (size_t)(bar - s) : strlen(s);

                if (len == vlen && !strncmp(s, v, len))
                        return idx;
                if (!bar)
                        return -1;
                s = bar + 1;
        }
}

/* What a value of @p p's type looks like, for messages and help. */
static const char *sl_conf_type_name(const sl_conf_prop_t *p)
{
        switch (p->type) {
        case SL_CONF_STRING:
                return "string";
        case SL_CONF_INT:
                return "integer";
        case SL_CONF_BOOL:
                return "true|false";
        case SL_CONF_URL:
                return "http(s) URL";
        case SL_CONF_HOSTPORTS:
                return "host:port[,host:port...]";
        case SL_CONF_ENUM:
                return p->choices;
        }
        return "?";
}

static sl_err_t sl_conf_check(const sl_conf_prop_t *p, const char *key, const char *v, char *errstr,
                              size_t errstr_size)
{
        const char *why = NULL;
        int64_t n;
        int b;

        switch (p->type) {
        case SL_CONF_STRING:
                return SL_OK;
        case SL_CONF_INT:
                if (sl_conf_parse_int(v, &n) || n < p->min || n > p->max)
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "%s=%s: expected an integer from %lld to %lld", key, v,
                                         (long long)p->min, (long long)p->max);
                return SL_OK;
        case SL_CONF_BOOL:
                if (sl_conf_parse_bool(v, &b))
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "%s=%s: expected true or false", key, v);
                return SL_OK;
        case SL_CONF_ENUM:
                if (sl_conf_enum_index(p->choices, v) < 0)
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "%s=%s: expected one of %s", key, v, p->choices);
                return SL_OK;
        case SL_CONF_URL:
                why = sl_conf_url_check(v);
                break;
        case SL_CONF_HOSTPORTS:
                why = sl_conf_hostports_check(v);
                break;
        }
        if (why)
                /* A URL with user:password@ holds a secret: not repeated in the message. */
                return sl_seterr(
                    errstr, errstr_size, SL_ERR_CONFIG, "%s=%s: expected %s (%s)", key,
                    why == sl_conf_url_userinfo || sl_conf_is_sensitive(key) ? "(redacted)" : v,
                    p->type == SL_CONF_URL ? "an http:// or https:// URL" : sl_conf_type_name(p),
                    why);
        return SL_OK;
}

/* Sets @p rk_name on a librdkafka configuration, turning its message into ours. */
static sl_err_t sl_conf_rk_set(rd_kafka_conf_t *rk_conf, const char *key, const char *rk_name,
                               const char *value, char *errstr, size_t errstr_size)
{
        char rkerr[512];
        size_t len;

        rkerr[0] = '\0';
        switch (rd_kafka_conf_set(rk_conf, rk_name, value, rkerr, sizeof(rkerr))) {
        case RD_KAFKA_CONF_OK:
                return SL_OK;
        case RD_KAFKA_CONF_UNKNOWN:
                /* librdkafka's message ends in "\n" for some errors. */
                len = strlen(rkerr);
                while (len > 0 && isspace((unsigned char)rkerr[len - 1]))
                        rkerr[--len] = '\0';
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "%s=%s: %s (not a seerlog key either)", key, value, rkerr);
        default:
                len = strlen(rkerr);
                while (len > 0 && isspace((unsigned char)rkerr[len - 1]))
                        rkerr[--len] = '\0';
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s: %s", key, value,
                                 rkerr);
        }
}

static sl_err_t sl_conf_set_ours(sl_conf_t *conf, int idx, const char *key, const char *value,
                                 const char *origin, char *errstr, size_t errstr_size)
{
        const sl_conf_prop_t *p = &sl_conf_table[idx];
        char *v, *o;
        sl_err_t err;

        if ((err = sl_conf_check(p, key, value, errstr, errstr_size)))
                return err;
        if ((p->flags & SL_CONF_F_KAFKA) &&
            (err = sl_conf_rk_set(conf->scratch, key, p->name, value, errstr, errstr_size)))
                return err;
        v = strdup(value);
        o = strdup(origin);
        if (!v || !o) {
                free(v);
                free(o);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "%s: out of memory", key);
        }
        free(conf->values[idx]);
        free(conf->origins[idx]);
        conf->values[idx] = v;
        conf->origins[idx] = o;
        return SL_OK;
}

static sl_err_t sl_conf_set_kafka(sl_conf_t *conf, const char *key, const char *rk_name,
                                  const char *value, const char *origin, char *errstr,
                                  size_t errstr_size)
{
        sl_conf_kv_t kv = {0};
        ssize_t old;
        sl_err_t err;

        if (!*rk_name)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "%s=%s: no librdkafka property name after \"%s\"", key, value,
                                 SL_CONF_KAFKA_PREFIX);
        if ((err = sl_conf_rk_set(conf->scratch, key, rk_name, value, errstr, errstr_size)))
                return err;
        if (conf->kafka_cnt == conf->kafka_cap) {
                size_t cap = conf->kafka_cap ? conf->kafka_cap * 2 : 8;
                sl_conf_kv_t *tmp = realloc(conf->kafka, cap * sizeof(*tmp));

                if (!tmp)
                        goto nomem;
                conf->kafka = tmp;
                conf->kafka_cap = cap;
        }
        if (!(kv.name = strdup(rk_name)) || !(kv.value = strdup(value)) ||
            !(kv.origin = strdup(origin)))
                goto nomem;

        /* Set order is apply order: setting a property again moves it to the end. */
        if ((old = sl_conf_kafka_find(conf, rk_name)) >= 0) {
                sl_conf_kv_free(&conf->kafka[old]);
                memmove(&conf->kafka[old], &conf->kafka[old + 1],
                        (conf->kafka_cnt - (size_t)old - 1) * sizeof(*conf->kafka));
                conf->kafka_cnt--;
        }
        conf->kafka[conf->kafka_cnt++] = kv;
        return SL_OK;

nomem:
        sl_conf_kv_free(&kv);
        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "%s: out of memory", key);
}

sl_err_t sl_conf_set_from(sl_conf_t *conf, const char *key, const char *value, const char *origin,
                          char *errstr, size_t errstr_size)
{
        const char *rk_name;
        int idx;

        if (!conf || !key || !value)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "sl_conf_set: NULL argument");
        if (!origin)
                origin = "set";
        if (!*key)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "=%s: empty key", value);

        if ((idx = sl_conf_find(key)) >= 0)
                return sl_conf_set_ours(conf, idx, key, value, origin, errstr, errstr_size);

        rk_name = sl_conf_rk_name(key);
        if ((idx = sl_conf_find_kafka_shared(rk_name)) >= 0)
                return sl_conf_set_ours(conf, idx, key, value, origin, errstr, errstr_size);
        return sl_conf_set_kafka(conf, key, rk_name, value, origin, errstr, errstr_size);
}

sl_err_t sl_conf_set(sl_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
        return sl_conf_set_from(conf, key, value, "set", errstr, errstr_size);
}

static char *sl_conf_trim(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* Applies the lines of @p fp to @p conf; @p conf is a scratch copy the caller throws away on
 * error. */
static sl_err_t sl_conf_load_lines(sl_conf_t *conf, FILE *fp, const char *path, char *errstr,
                                   size_t errstr_size)
{
        char *line = NULL, *origin = NULL;
        size_t line_size = 0;
        size_t lineno = 0;
        ssize_t len;
        sl_err_t err = SL_OK;
        char detail[512];

        while ((len = getline(&line, &line_size, fp)) >= 0) {
                char *s = line, *sep, *key, *value;

                lineno++;
                if ((size_t)len != strlen(line)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                        "%s:%zu: line contains a NUL byte", path, lineno);
                        goto done;
                }
                if (lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3)) /* UTF-8 BOM */
                        s += 3;
                s = sl_conf_trim(s);
                if (!*s || *s == '#' || *s == '!')
                        continue;
                sep = s + strcspn(s, "=:");
                if (!*sep) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                        "%s:%zu: expected key=value or key: value, not \"%s\"",
                                        path, lineno, s);
                        goto done;
                }
                *sep = '\0';
                key = sl_conf_trim(s);
                value = sl_conf_trim(sep + 1);
                if (!*key) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s:%zu: empty key",
                                        path, lineno);
                        goto done;
                }
                free(origin);
                if (asprintf(&origin, "file %s:%zu", path, lineno) < 0) {
                        origin = NULL;
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                if ((err = sl_conf_set_from(conf, key, value, origin, detail, sizeof(detail)))) {
                        sl_seterr(errstr, errstr_size, err, "%s:%zu: %s", path, lineno, detail);
                        goto done;
                }
        }
        if (ferror(fp))
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));

done:
        free(origin);
        free(line);
        return err;
}

sl_err_t sl_conf_load_stream(sl_conf_t *conf, FILE *fp, const char *name, char *errstr,
                             size_t errstr_size)
{
        sl_conf_t *tmp = NULL;
        sl_err_t err;

        if (!conf || !fp || !name)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "sl_conf_load_stream: NULL argument");
        if (!(tmp = sl_conf_dup(conf))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "%s: out of memory", name);
                goto done;
        }
        if ((err = sl_conf_load_lines(tmp, fp, name, errstr, errstr_size)))
                goto done;
        sl_conf_swap(conf, tmp);

done:
        sl_conf_destroy(tmp);
        return err;
}

sl_err_t sl_conf_load_file(sl_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp;
        sl_err_t err;

        if (!conf || !path)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "sl_conf_load_file: NULL argument");
        if (!(fp = fopen(path, "r")))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
        err = sl_conf_load_stream(conf, fp, path, errstr, errstr_size);
        fclose(fp);
        return err;
}

const char *sl_conf_get(const sl_conf_t *conf, const char *key)
{
        const char *rk_name = sl_conf_rk_name(key);
        ssize_t k;
        int idx;

        if ((idx = sl_conf_find(key)) < 0)
                idx = sl_conf_find_kafka_shared(rk_name);
        if (idx >= 0)
                return conf->values[idx] ? conf->values[idx] : sl_conf_table[idx].def;
        if ((k = sl_conf_kafka_find(conf, rk_name)) >= 0)
                return conf->kafka[k].value;
        return NULL;
}

int sl_conf_registry_in_use(const sl_conf_t *conf)
{
        const char *mode_origin = sl_conf_origin(conf, "schema.mode");
        const char *url_origin = sl_conf_origin(conf, "registry.url");

        if (mode_origin && strcmp(mode_origin, "default"))
                return strcmp(sl_conf_get(conf, "schema.mode"), "fixed") != 0;
        return url_origin && strcmp(url_origin, "default") != 0;
}

const char *sl_conf_origin(const sl_conf_t *conf, const char *key)
{
        const char *rk_name = sl_conf_rk_name(key);
        ssize_t k;
        int idx;

        if ((idx = sl_conf_find(key)) < 0)
                idx = sl_conf_find_kafka_shared(rk_name);
        if (idx >= 0)
                return conf->origins[idx] ? conf->origins[idx] : "default";
        if ((k = sl_conf_kafka_find(conf, rk_name)) >= 0)
                return conf->kafka[k].origin;
        return NULL;
}

static const char *sl_conf_get_typed(const sl_conf_t *conf, const char *key, sl_conf_type_t type,
                                     const sl_conf_prop_t **pp)
{
        int idx = sl_conf_find(key);

        if (idx < 0 || sl_conf_table[idx].type != type)
                return NULL;
        *pp = &sl_conf_table[idx];
        return conf->values[idx] ? conf->values[idx] : sl_conf_table[idx].def;
}

int64_t sl_conf_get_int(const sl_conf_t *conf, const char *key)
{
        const sl_conf_prop_t *p;
        const char *v = sl_conf_get_typed(conf, key, SL_CONF_INT, &p);
        int64_t n;

        return v && !sl_conf_parse_int(v, &n) ? n : 0;
}

int sl_conf_get_bool(const sl_conf_t *conf, const char *key)
{
        const sl_conf_prop_t *p;
        const char *v = sl_conf_get_typed(conf, key, SL_CONF_BOOL, &p);
        int b;

        return v && !sl_conf_parse_bool(v, &b) ? b : 0;
}

int sl_conf_get_enum(const sl_conf_t *conf, const char *key)
{
        const sl_conf_prop_t *p;
        const char *v = sl_conf_get_typed(conf, key, SL_CONF_ENUM, &p);
        int i;

        return v && (i = sl_conf_enum_index(p->choices, v)) >= 0 ? i : 0;
}

int sl_conf_kafka_prop(const sl_conf_t *conf, size_t idx, const char **namep, const char **valuep,
                       const char **originp)
{
        if (idx >= conf->kafka_cnt)
                return 0;
        if (namep)
                *namep = conf->kafka[idx].name;
        if (valuep)
                *valuep = conf->kafka[idx].value;
        if (originp)
                *originp = conf->kafka[idx].origin;
        return 1;
}

/* The effective value of librdkafka property @p name (aliases resolved, default if unset). */
static void sl_conf_rk_effective(const sl_conf_t *conf, const char *name, char *buf, size_t size)
{
        size_t n = size;

        if (rd_kafka_conf_get(conf->scratch, name, buf, &n) != RD_KAFKA_CONF_OK)
                buf[0] = '\0';
}

/* The librdkafka property set here whose name is @p name or @p alias, or NULL. */
static const sl_conf_kv_t *sl_conf_rk_given(const sl_conf_t *conf, const char *name,
                                            const char *alias)
{
        ssize_t k = sl_conf_kafka_find(conf, name);

        if (k < 0 && alias)
                k = sl_conf_kafka_find(conf, alias);
        return k >= 0 ? &conf->kafka[k] : NULL;
}

sl_err_t sl_conf_check_security(const sl_conf_t *conf, char *errstr, size_t errstr_size)
{
        /* Files librdkafka would read at connect time: missing ones fail now, not later. */
        static const char *const files[] = {"ssl.ca.location", "ssl.certificate.location",
                                            "ssl.key.location", "ssl.crl.location"};
        char proto[32], mech[128], user[256], pass[256];
        const sl_conf_kv_t *kv;
        int sasl, ssl;

        sl_conf_rk_effective(conf, "security.protocol", proto, sizeof(proto));
        sl_conf_rk_effective(conf, "sasl.mechanisms", mech, sizeof(mech));
        sl_conf_rk_effective(conf, "sasl.username", user, sizeof(user));
        sl_conf_rk_effective(conf, "sasl.password", pass, sizeof(pass));
        sasl = !strncasecmp(proto, "sasl_", 5);
        ssl = !strcasecmp(proto, "ssl") || !strcasecmp(proto, "sasl_ssl");

        if (!!*user != !!*pass)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "half-configured Kafka security: kafka.sasl.%s is set but "
                                 "kafka.sasl.%s is not; set both or neither",
                                 *user ? "username" : "password", *user ? "password" : "username");
        if (!sasl) {
                for (size_t i = 0; i < conf->kafka_cnt; i++)
                        if (!strncmp(conf->kafka[i].name, "sasl.", 5))
                                return sl_seterr(
                                    errstr, errstr_size, SL_ERR_CONFIG,
                                    "half-configured Kafka security: kafka.%s is set but "
                                    "kafka.security.protocol=%s does not use SASL, so it would "
                                    "be ignored; set kafka.security.protocol=SASL_SSL or remove "
                                    "the kafka.sasl.* keys",
                                    conf->kafka[i].name, proto);
        } else {
                if (!sl_conf_rk_given(conf, "sasl.mechanisms", "sasl.mechanism"))
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "half-configured Kafka security: "
                                         "kafka.security.protocol=%s needs kafka.sasl.mechanisms "
                                         "(e.g. SCRAM-SHA-256) and its credentials",
                                         proto);
                if ((!strcasecmp(mech, "PLAIN") || !strncasecmp(mech, "SCRAM-", 6)) && !*user)
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "half-configured Kafka security: "
                                         "kafka.sasl.mechanisms=%s needs kafka.sasl.username and "
                                         "kafka.sasl.password",
                                         mech);
        }
        if (!ssl)
                for (size_t i = 0; i < conf->kafka_cnt; i++)
                        if (!strncmp(conf->kafka[i].name, "ssl.", 4) ||
                            !strncmp(conf->kafka[i].name, "ssl_", 4))
                                return sl_seterr(
                                    errstr, errstr_size, SL_ERR_CONFIG,
                                    "half-configured Kafka security: kafka.%s is set but "
                                    "kafka.security.protocol=%s does not use TLS, so it would "
                                    "be ignored; set kafka.security.protocol=SSL or SASL_SSL or "
                                    "remove the kafka.ssl.* keys",
                                    conf->kafka[i].name, proto);
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                if (!(kv = sl_conf_rk_given(conf, files[i], NULL)) || !*kv->value ||
                    !strcmp(kv->value, "probe"))
                        continue;
                if (access(kv->value, R_OK))
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "kafka.%s=%s: %s",
                                         files[i], kv->value, strerror(errno));
        }
        return SL_OK;
}

sl_err_t sl_conf_kafka_apply(const sl_conf_t *conf, rd_kafka_conf_t *rk_conf, char *errstr,
                             size_t errstr_size)
{
        sl_err_t err;

        if ((err = sl_conf_check_security(conf, errstr, errstr_size)))
                return err;
        /* Wrong credentials or TLS settings are fatal, not retried forever (sl_kafka.h). */
        rd_kafka_conf_set_error_cb(rk_conf, sl_kafka_error_cb);
        rd_kafka_conf_set_log_cb(rk_conf, sl_kafka_log_cb);

        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                const sl_conf_prop_t *p = &sl_conf_table[i];
                const char *v = conf->values[i] ? conf->values[i] : p->def;

                if ((p->flags & SL_CONF_F_KAFKA) &&
                    (err = sl_conf_rk_set(rk_conf, p->name, p->name, v, errstr, errstr_size)))
                        return err;
        }
        for (size_t i = 0; i < conf->kafka_cnt; i++) {
                const sl_conf_kv_t *kv = &conf->kafka[i];

                if ((err = sl_conf_rk_set(rk_conf, kv->name, kv->name, kv->value, errstr,
                                          errstr_size)))
                        return err;
        }
        return SL_OK;
}

rd_kafka_conf_t *sl_conf_kafka(const sl_conf_t *conf, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();

        if (!rk_conf) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        if (sl_conf_kafka_apply(conf, rk_conf, errstr, errstr_size)) {
                rd_kafka_conf_destroy(rk_conf);
                return NULL;
        }
        return rk_conf;
}

int sl_conf_is_sensitive(const char *name)
{
        static const char *const words[] = {
            "password",  "secret",          "ssl.key.pem", "ssl_key", "sasl.oauthbearer.config",
            "user.info", "sasl.jaas.config"};

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(name, words[i]))
                        return 1;
        return 0;
}

void sl_conf_print(const sl_conf_t *conf, FILE *fp)
{
        const char *name, *value, *origin;

        fprintf(fp, "# seerlog properties\n");
        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                const sl_conf_prop_t *p = &sl_conf_table[i];

                fprintf(fp, "%s=%s  # %s\n", p->name,
                        sl_conf_is_sensitive(p->name) ? "(redacted)" : sl_conf_get(conf, p->name),
                        sl_conf_origin(conf, p->name));
        }
        fprintf(fp, "# librdkafka properties, applied in this order after bootstrap.servers "
                    "(librdkafka's defaults apply to the rest)\n");
        for (size_t i = 0; sl_conf_kafka_prop(conf, i, &name, &value, &origin); i++)
                fprintf(fp, "%s=%s  # %s\n", name,
                        sl_conf_is_sensitive(name) ? "(redacted)" : value, origin);
}

/* "1..2147483647", "error|warn|info|debug", or "" when the type says it all. */
static void sl_conf_range(const sl_conf_prop_t *p, char *buf, size_t size)
{
        switch (p->type) {
        case SL_CONF_INT:
                snprintf(buf, size, "%lld..%lld", (long long)p->min, (long long)p->max);
                break;
        case SL_CONF_ENUM:
                snprintf(buf, size, "%s", p->choices);
                break;
        default:
                buf[0] = '\0';
        }
}

/* Prints @p text word-wrapped to @p width columns, every line indented by @p indent. */
static void sl_conf_wrap(FILE *fp, const char *text, int indent, int width)
{
        const char *s = text;

        while (*s) {
                int avail = width - indent;
                int len = (int)strlen(s);

                if (len > avail) {
                        len = avail;
                        while (len > 0 && s[len] != ' ')
                                len--;
                        if (len == 0) /* one long word */
                                len = (int)strcspn(s, " ");
                }
                fprintf(fp, "%*s%.*s\n", indent, "", len, s);
                s += len;
                while (*s == ' ')
                        s++;
        }
}

/* A Markdown table cell: '|' would end the cell. */
static void sl_conf_md_cell(FILE *fp, const char *text)
{
        for (; *text; text++) {
                if (*text == '|')
                        fputc('\\', fp);
                fputc(*text, fp);
        }
}

void sl_conf_print_help(FILE *fp)
{
        char range[128];

        fprintf(fp, "Configuration properties (-X key=value, or key=value lines in a --config "
                    "file):\n");
        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                const sl_conf_prop_t *p = &sl_conf_table[i];

                sl_conf_range(p, range, sizeof(range));
                fprintf(fp, "  %-20s %s%s%s, default %s\n", p->name,
                        p->type == SL_CONF_ENUM ? "one of " : sl_conf_type_name(p),
                        p->type == SL_CONF_INT ? " " : "", range, p->def);
                sl_conf_wrap(fp, p->desc, 23, 79);
        }
        fprintf(fp,
                "  kafka.NAME=VALUE     librdkafka property NAME (e.g. kafka.linger.ms=5)\n"
                "  NAME=VALUE           any other key is a librdkafka property as is (like kcat "
                "-X);\n"
                "                       see librdkafka's CONFIGURATION.md\n");
}

void sl_conf_print_markdown(FILE *fp)
{
        char range[128];

        fprintf(fp, "# seerlog configuration\n"
                    "\n"
                    "<!-- Generated by `seerlog config --markdown` from the table in "
                    "common/sl_conf.c; do not edit. -->\n"
                    "\n"
                    "seerlog is configured with `key=value` properties: in a Kafka-style "
                    "`.properties` file given\n"
                    "with `--config FILE`, and with `-X key=value` on the command line (plus "
                    "shortcuts such as\n"
                    "`--bootstrap` and `--registry`). Command-line options override the file, "
                    "whatever their order.\n"
                    "`seerlog config` prints the effective configuration and where each value came "
                    "from.\n"
                    "\n"
                    "## Routing\n"
                    "\n"
                    "1. A key in the table below is seerlog's. Its value is checked against the "
                    "key's type when it\n"
                    "   is set. `bootstrap.servers` is also given to librdkafka.\n"
                    "2. A key starting with `kafka.` is a librdkafka property named by the rest of "
                    "the key:\n"
                    "   `kafka.linger.ms=5` sets librdkafka's `linger.ms`.\n"
                    "3. Any other key is a librdkafka property as is, like kcat's `-X`: "
                    "`linger.ms=5`.\n"
                    "\n"
                    "librdkafka properties are checked by librdkafka when they are set: an unknown "
                    "property or a\n"
                    "bad value is an error at once. They are applied in the order they were set, "
                    "after\n"
                    "`bootstrap.servers`; `kafka.bootstrap.servers` and `metadata.broker.list` set "
                    "seerlog's\n"
                    "`bootstrap.servers`. See librdkafka's\n"
                    "[CONFIGURATION.md](https://github.com/confluentinc/librdkafka/blob/v2.0.2/"
                    "CONFIGURATION.md)\n"
                    "for its properties. Subcommands set some librdkafka defaults of their own "
                    "(see `seerlog help\n"
                    "SUBCOMMAND`), which these properties override.\n"
                    "\n"
                    "File format: one `key=value` or `key: value` per line; whitespace around key "
                    "and value is\n"
                    "trimmed; blank lines and lines starting with `#` or `!` are comments. Values "
                    "are literal (no\n"
                    "backslash escapes or line continuations).\n"
                    "\n"
                    "## seerlog properties\n"
                    "\n"
                    "| Property | Type | Default | Range | Description |\n"
                    "|----------|------|---------|-------|-------------|\n");
        for (size_t i = 0; i < SL_CONF_CNT; i++) {
                const sl_conf_prop_t *p = &sl_conf_table[i];

                sl_conf_range(p, range, sizeof(range));
                fprintf(fp, "| `%s` | ", p->name);
                sl_conf_md_cell(fp, p->type == SL_CONF_ENUM ? "enum" : sl_conf_type_name(p));
                fprintf(fp, " | `%s` | ", p->def);
                sl_conf_md_cell(fp, range);
                fputs(" | ", fp);
                sl_conf_md_cell(fp, p->desc);
                fputs(" |\n", fp);
        }
}
