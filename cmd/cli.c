#include "cli.h"

#include "sl_kafka.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

/* Common options, handled here for every subcommand. Their values live in the configuration. */
enum { SL_COMMON_BOOTSTRAP, SL_COMMON_REGISTRY, SL_COMMON_X, SL_COMMON_CONFIG, SL_COMMON_HELP };

static const sl_opt_t sl_common_opts[] = {
    [SL_COMMON_BOOTSTRAP] = {"bootstrap", 0, "HOST:PORT[,...]", 0,
                             "Kafka brokers to bootstrap from (sets bootstrap.servers)"},
    [SL_COMMON_REGISTRY] = {"registry", 0, "URL", 0, "Schema registry URL (sets registry.url)"},
    [SL_COMMON_X] = {NULL, 'X', "KEY=VALUE", SL_OPT_REPEAT, "Set a seerlog or librdkafka property"},
    [SL_COMMON_CONFIG] = {"config", 0, "FILE", SL_OPT_REPEAT,
                          "Read properties from FILE first; options override it"},
    [SL_COMMON_HELP] = {"help", 'h', NULL, 0, "Show help and exit"},
    {0},
};

#define SL_COMMON_CNT (sizeof(sl_common_opts) / sizeof(sl_common_opts[0]) - 1)

/* getopt_long's val for option i of the combined table (common options first). */
#define SL_OPT_VAL_BASE 0x100

/* A --bootstrap, --registry or -X, applied after the --config files. */
typedef struct {
        const char *flag; /* "-X", "--bootstrap" */
        const char *key;  /* NULL for -X: parse from value */
        const char *value;
} sl_setting_t;

typedef struct {
        const char **values;
        size_t cnt;
} sl_optvals_t;

struct sl_cli_s {
        const sl_cmd_t *const *cmds;
        size_t cmd_cnt;
        const sl_cmd_t *cmd; /* NULL before the subcommand is known */

        const sl_opt_t *opts[64]; /* common options, then the subcommand's */
        size_t opt_cnt;
        sl_optvals_t vals[64];

        sl_setting_t *settings;
        size_t setting_cnt;
        const char **args;
        int argc;
        int help;

        sl_conf_t *conf;
};

static volatile sig_atomic_t sl_cli_signalled;

sl_conf_t *sl_cli_conf(const sl_cli_t *cli)
{
        return cli->conf;
}

const sl_cmd_t *sl_cli_cmd(const sl_cli_t *cli)
{
        return cli->cmd;
}

static int sl_cli_opt_find(const sl_cli_t *cli, const char *name)
{
        for (size_t i = 0; i < cli->opt_cnt; i++)
                if (cli->opts[i]->name && !strcmp(cli->opts[i]->name, name))
                        return (int)i;
        return -1;
}

const char *sl_cli_str(const sl_cli_t *cli, const char *name)
{
        int i = sl_cli_opt_find(cli, name);

        return i >= 0 && cli->vals[i].cnt ? cli->vals[i].values[cli->vals[i].cnt - 1] : NULL;
}

size_t sl_cli_count(const sl_cli_t *cli, const char *name)
{
        int i = sl_cli_opt_find(cli, name);

        return i >= 0 ? cli->vals[i].cnt : 0;
}

const char *sl_cli_nth(const sl_cli_t *cli, const char *name, size_t n)
{
        int i = sl_cli_opt_find(cli, name);

        return i >= 0 && n < cli->vals[i].cnt ? cli->vals[i].values[n] : NULL;
}

int sl_cli_argc(const sl_cli_t *cli)
{
        return cli->argc;
}

const char *sl_cli_arg(const sl_cli_t *cli, int i)
{
        return i >= 0 && i < cli->argc ? cli->args[i] : NULL;
}

static void sl_cli_vmsg(const sl_cli_t *cli, const char *fmt, va_list ap)
{
        fputs("seerlog: ", stderr);
        if (cli && cli->cmd)
                fprintf(stderr, "%s: ", cli->cmd->name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int sl_cli_usage_error(const sl_cli_t *cli, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        sl_cli_vmsg(cli, fmt, ap);
        va_end(ap);
        if (cli && cli->cmd && strcmp(cli->cmd->name, "help"))
                fprintf(stderr, "(see 'seerlog help %s')\n", cli->cmd->name);
        else
                fprintf(stderr, "(see 'seerlog --help')\n");
        return SL_EXIT_USAGE;
}

int sl_cli_fail(const sl_cli_t *cli, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        sl_cli_vmsg(cli, fmt, ap);
        va_end(ap);
        return SL_EXIT_FAIL;
}

static int sl_cli_parse_int64(const char *s, int64_t *valp)
{
        char *end;
        long long n;

        if (!*s || *s == ' ')
                return -1;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || *end)
                return -1;
        *valp = n;
        return 0;
}

int sl_cli_int(const sl_cli_t *cli, const char *name, int64_t def, int64_t min, int64_t max,
               int64_t *valp)
{
        const char *s = sl_cli_str(cli, name);
        int64_t n;

        if (!s) {
                *valp = def;
                return 0;
        }
        if (sl_cli_parse_int64(s, &n) || n < min || n > max)
                return sl_cli_usage_error(cli, "--%s %s: expected an integer from %lld to %lld",
                                          name, s, (long long)min, (long long)max);
        *valp = n;
        return 0;
}

/* "-X KEY=VALUE", "--topic T", "-h, --help" */
static void sl_opt_label(const sl_opt_t *o, char *buf, size_t size)
{
        int n = 0;

        if (o->short_name && o->name)
                n = snprintf(buf, size, "-%c, --%s", o->short_name, o->name);
        else if (o->short_name)
                n = snprintf(buf, size, "-%c", o->short_name);
        else
                n = snprintf(buf, size, "--%s", o->name);
        if (o->arg && n >= 0 && (size_t)n < size)
                snprintf(buf + n, size - (size_t)n, " %s", o->arg);
}

static void sl_opts_print(FILE *fp, const char *title, const sl_opt_t *opts, int width)
{
        char label[128];

        fprintf(fp, "%s:\n", title);
        for (const sl_opt_t *o = opts; o->name || o->short_name; o++) {
                sl_opt_label(o, label, sizeof(label));
                fprintf(fp, "  %-*s  %s%s%s\n", width, label, o->help,
                        (o->flags & SL_OPT_REQUIRED) ? " (required)" : "",
                        (o->flags & SL_OPT_REPEAT) ? " (repeatable)" : "");
        }
}

static int sl_opts_width(const sl_opt_t *opts, int width)
{
        char label[128];

        for (const sl_opt_t *o = opts; o && (o->name || o->short_name); o++) {
                sl_opt_label(o, label, sizeof(label));
                if ((int)strlen(label) > width)
                        width = (int)strlen(label);
        }
        return width;
}

void sl_cli_print_help(const sl_cli_t *cli, const sl_cmd_t *cmd, FILE *fp)
{
        int width = sl_opts_width(sl_common_opts, 0);

        if (!cmd) {
                size_t name_width = 0;

                fprintf(fp, "usage: seerlog SUBCOMMAND [options]\n"
                            "       seerlog help SUBCOMMAND | --help | --version\n"
                            "\n"
                            "seerlog keeps the state of a fleet of nodes as events in Kafka.\n"
                            "\n"
                            "Subcommands:\n");
                for (size_t i = 0; i < cli->cmd_cnt; i++)
                        if (strlen(cli->cmds[i]->name) > name_width)
                                name_width = strlen(cli->cmds[i]->name);
                for (size_t i = 0; i < cli->cmd_cnt; i++)
                        fprintf(fp, "  %-*s  %s\n", (int)name_width, cli->cmds[i]->name,
                                cli->cmds[i]->summary);
                fputc('\n', fp);
                width = width < 13 ? 13 : width; /* room for "-V, --version" */
                sl_opts_print(fp, "Common options (every subcommand)", sl_common_opts, width);
                fprintf(fp, "  %-*s  %s\n", width, "-V, --version", "Show versions and exit");
                fprintf(fp, "\n"
                            "Options given on the command line override the --config files, "
                            "whatever their order.\n"
                            "Run 'seerlog help SUBCOMMAND' for a subcommand's options and "
                            "'seerlog help config' for\n"
                            "the configuration properties.\n");
                return;
        }

        fprintf(fp, "usage: seerlog %s%s%s\n", cmd->name, cmd->usage ? " " : "",
                cmd->usage ? cmd->usage : "");
        fprintf(fp, "\n%s.\n", cmd->summary);
        if (cmd->description)
                fprintf(fp, "\n%s", cmd->description);
        width = sl_opts_width(cmd->opts, width);
        if (cmd->opts && (cmd->opts->name || cmd->opts->short_name)) {
                fputc('\n', fp);
                sl_opts_print(fp, "Options", cmd->opts, width);
        }
        fputc('\n', fp);
        sl_opts_print(fp, "Common options", sl_common_opts, width);
        if (cmd->help_extra) {
                fputc('\n', fp);
                cmd->help_extra(fp);
        }
}

static const sl_cmd_t *sl_cli_find_cmd(const sl_cli_t *cli, const char *name)
{
        for (size_t i = 0; i < cli->cmd_cnt; i++)
                if (!strcmp(cli->cmds[i]->name, name))
                        return cli->cmds[i];
        return NULL;
}

int sl_cli_print_cmd_help(const sl_cli_t *cli, const char *name, FILE *fp)
{
        const sl_cmd_t *cmd = sl_cli_find_cmd(cli, name);

        if (cmd)
                sl_cli_print_help(cli, cmd, fp);
        return cmd != NULL;
}

/* Makes the subcommand's options known to the parser. */
static int sl_cli_set_cmd(sl_cli_t *cli, const sl_cmd_t *cmd)
{
        cli->cmd = cmd;
        for (const sl_opt_t *o = cmd->opts; o && (o->name || o->short_name); o++) {
                if (cli->opt_cnt == sizeof(cli->opts) / sizeof(cli->opts[0]))
                        return sl_cli_fail(cli, "too many options (internal limit)");
                cli->opts[cli->opt_cnt++] = o;
        }
        return 0;
}

static int sl_cli_add_value(sl_cli_t *cli, size_t i, const char *value)
{
        sl_optvals_t *v = &cli->vals[i];
        const char **tmp = realloc(v->values, (v->cnt + 1) * sizeof(*tmp));

        if (!tmp)
                return sl_cli_fail(cli, "out of memory");
        v->values = tmp;
        v->values[v->cnt++] = value;
        return 0;
}

static int sl_cli_add_setting(sl_cli_t *cli, const char *flag, const char *key, const char *value)
{
        sl_setting_t *tmp = realloc(cli->settings, (cli->setting_cnt + 1) * sizeof(*tmp));

        if (!tmp)
                return sl_cli_fail(cli, "out of memory");
        cli->settings = tmp;
        cli->settings[cli->setting_cnt++] = (sl_setting_t){flag, key, value};
        return 0;
}

static int sl_cli_add_arg(sl_cli_t *cli, const char *arg)
{
        const char **tmp;

        if (cli->argc >= (cli->cmd ? cli->cmd->max_args : 0))
                return sl_cli_usage_error(cli, "unexpected argument '%s'", arg);
        if (!(tmp = realloc(cli->args, (size_t)(cli->argc + 1) * sizeof(*tmp))))
                return sl_cli_fail(cli, "out of memory");
        cli->args = tmp;
        cli->args[cli->argc++] = arg;
        return 0;
}

/* The long options of the current table that start with @p prefix, for "ambiguous" messages. */
static size_t sl_cli_prefix_matches(const sl_cli_t *cli, const char *prefix, char *buf, size_t size)
{
        size_t len = strcspn(prefix, "="), cnt = 0, off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < cli->opt_cnt; i++) {
                const char *name = cli->opts[i]->name;

                if (!name || strncmp(name, prefix, len))
                        continue;
                cnt++;
                if (off < size) {
                        int n =
                            snprintf(buf + off, size - off, "%s--%s", cnt > 1 ? ", " : "", name);
                        off += n > 0 ? (size_t)n : 0;
                }
        }
        return cnt;
}

/*
 * Parses options from argv[optind] on, with the options known so far. With @p stop_at_arg, stops
 * at the first argument that is not an option (the subcommand); otherwise collects positional
 * arguments. @returns 0, or an exit code.
 */
static int sl_cli_parse(sl_cli_t *cli, int argc, char **argv, int stop_at_arg)
{
        struct option longopts[sizeof(cli->opts) / sizeof(cli->opts[0]) + 1];
        char shortopts[2 + 3 * (sizeof(cli->opts) / sizeof(cli->opts[0]))];
        size_t nlong = 0, nshort = 0;
        int c, ret;

        shortopts[nshort++] = stop_at_arg ? '+' : '-';
        shortopts[nshort++] = ':';
        for (size_t i = 0; i < cli->opt_cnt; i++) {
                const sl_opt_t *o = cli->opts[i];

                if (o->name)
                        longopts[nlong++] =
                            (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
                                            (int)(SL_OPT_VAL_BASE + i)};
                if (o->short_name) {
                        shortopts[nshort++] = (char)o->short_name;
                        if (o->arg)
                                shortopts[nshort++] = ':';
                }
        }
        longopts[nlong] = (struct option){0};
        shortopts[nshort] = '\0';

        opterr = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
                const char *bad = argv[optind - 1];
                const sl_opt_t *o;
                size_t i;

                if (c == 1) { /* a positional argument, in '-' mode */
                        if ((ret = sl_cli_add_arg(cli, optarg)))
                                return ret;
                        continue;
                }
                if (c == '?' || c == ':') {
                        char matches[256];

                        if (c == ':' && optopt > 0 && optopt < SL_OPT_VAL_BASE)
                                return sl_cli_usage_error(cli, "option '-%c' needs an argument",
                                                          optopt);
                        if (c == ':')
                                return sl_cli_usage_error(cli, "option '%s' needs an argument",
                                                          bad);
                        if (optopt >= SL_OPT_VAL_BASE) /* --flag=value */
                                return sl_cli_usage_error(
                                    cli, "option '--%s' takes no argument",
                                    cli->opts[optopt - SL_OPT_VAL_BASE]->name);
                        if (optopt)
                                return sl_cli_usage_error(cli, "unknown option '-%c'", optopt);
                        if (!strncmp(bad, "--", 2) &&
                            sl_cli_prefix_matches(cli, bad + 2, matches, sizeof(matches)) > 1)
                                return sl_cli_usage_error(
                                    cli, "ambiguous option '%s' (could be %s)", bad, matches);
                        if (!cli->cmd)
                                return sl_cli_usage_error(
                                    cli, "unknown option '%s' before the subcommand", bad);
                        return sl_cli_usage_error(cli, "unknown option '%s'", bad);
                }

                /* A known option: a long one's val, or a short one's letter. */
                if (c >= SL_OPT_VAL_BASE) {
                        i = (size_t)(c - SL_OPT_VAL_BASE);
                } else {
                        for (i = 0; i < cli->opt_cnt && cli->opts[i]->short_name != c; i++)
                                ;
                        if (i == cli->opt_cnt)
                                return sl_cli_usage_error(cli, "unknown option '-%c'", c);
                }
                o = cli->opts[i];

                if (o == &sl_common_opts[SL_COMMON_HELP]) {
                        cli->help = 1;
                        return 0;
                }
                if (o == &sl_common_opts[SL_COMMON_BOOTSTRAP] &&
                    sl_cli_add_setting(cli, "--bootstrap", "bootstrap.servers", optarg))
                        return SL_EXIT_FAIL;
                if (o == &sl_common_opts[SL_COMMON_REGISTRY] &&
                    sl_cli_add_setting(cli, "--registry", "registry.url", optarg))
                        return SL_EXIT_FAIL;
                if (o == &sl_common_opts[SL_COMMON_X] &&
                    sl_cli_add_setting(cli, "-X", NULL, optarg))
                        return SL_EXIT_FAIL;
                if (sl_cli_add_value(cli, i, o->arg ? optarg : ""))
                        return SL_EXIT_FAIL;
        }
        /* After "--", the rest are positional arguments. */
        if (!stop_at_arg) {
                for (; optind < argc; optind++)
                        if ((ret = sl_cli_add_arg(cli, argv[optind])))
                                return ret;
        }
        return 0;
}

/* Loads the --config files, then applies the flags in order. @returns 0 or an exit code. */
static int sl_cli_configure(sl_cli_t *cli)
{
        char errstr[512];
        char origin[64];
        const sl_optvals_t *files = &cli->vals[SL_COMMON_CONFIG];

        if (!(cli->conf = sl_conf_new()))
                return sl_cli_fail(cli, "out of memory");
        for (size_t i = 0; i < files->cnt; i++)
                if (sl_conf_load_file(cli->conf, files->values[i], errstr, sizeof(errstr)))
                        return sl_cli_usage_error(cli, "--config: %s", errstr);
        for (size_t i = 0; i < cli->setting_cnt; i++) {
                const sl_setting_t *s = &cli->settings[i];
                char *key = NULL;
                const char *value = s->value;
                sl_err_t err;

                snprintf(origin, sizeof(origin), "flag %s", s->flag);
                if (!s->key) {
                        const char *eq = strchr(s->value, '=');

                        if (!eq || eq == s->value)
                                return sl_cli_usage_error(cli, "-X %s: expected KEY=VALUE",
                                                          s->value);
                        if (!(key = strndup(s->value, (size_t)(eq - s->value))))
                                return sl_cli_fail(cli, "out of memory");
                        value = eq + 1;
                }
                err = sl_conf_set_from(cli->conf, key ? key : s->key, value, origin, errstr,
                                       sizeof(errstr));
                free(key);
                if (err == SL_ERR_NOMEM)
                        return sl_cli_fail(cli, "%s", errstr);
                if (err)
                        return s->key ? sl_cli_usage_error(cli, "%s: %s", s->flag, errstr)
                                      : sl_cli_usage_error(cli, "-X %s", errstr);
        }
        /* Refused at start by every command but `config`, which shows what was set. */
        if (strcmp(cli->cmd->name, "config") &&
            sl_conf_check_security(cli->conf, errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "%s", errstr);
        return 0;
}

static void sl_cli_print_version(void)
{
        printf("seerlog %s\n", SEERLOG_VERSION);
        printf("librdkafka %s\n", rd_kafka_version_str());
#ifdef SL_AVRO_VERSION
        printf("Avro C %s\n", SL_AVRO_VERSION);
#endif
        printf("jansson %s\n", jansson_version_str());
}

static void sl_cli_free(sl_cli_t *cli)
{
        for (size_t i = 0; i < cli->opt_cnt; i++)
                free(cli->vals[i].values);
        free(cli->settings);
        free(cli->args);
        sl_conf_destroy(cli->conf);
}

int sl_cli_main(int argc, char **argv, const sl_cmd_t *const *cmds, size_t cmd_cnt)
{
        sl_cli_t cli = {.cmds = cmds, .cmd_cnt = cmd_cnt};
        const sl_cmd_t *cmd;
        int ret;

        for (size_t i = 0; i < SL_COMMON_CNT; i++)
                cli.opts[cli.opt_cnt++] = &sl_common_opts[i];

        /* --version only before a subcommand; --help anywhere. */
        if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
                sl_cli_print_version();
                return SL_EXIT_OK;
        }

        /* Common options may come before the subcommand: `seerlog -X k=v tail ...`. */
        optind = 0; /* GNU: full reinitialisation */
        if ((ret = sl_cli_parse(&cli, argc, argv, 1)))
                goto done;
        if (cli.help) {
                sl_cli_print_help(&cli, NULL, stdout);
                ret = SL_EXIT_OK;
                goto done;
        }
        if (optind >= argc) {
                sl_cli_print_help(&cli, NULL, stderr);
                ret = sl_cli_usage_error(&cli, "no subcommand given");
                goto done;
        }
        if (!(cmd = sl_cli_find_cmd(&cli, argv[optind]))) {
                ret = sl_cli_usage_error(&cli, "unknown subcommand '%s'", argv[optind]);
                goto done;
        }
        if ((ret = sl_cli_set_cmd(&cli, cmd)))
                goto done;

        /* The rest, with the subcommand's options added. getopt_long treats argv[0] as the
         * program name, so parse from the subcommand's position. */
        {
                int sub_argc = argc - optind;
                char **sub_argv = argv + optind;

                optind = 0;
                if ((ret = sl_cli_parse(&cli, sub_argc, sub_argv, 0)))
                        goto done;
        }
        if (cli.help) {
                sl_cli_print_help(&cli, cmd, stdout);
                ret = SL_EXIT_OK;
                goto done;
        }
        for (size_t i = SL_COMMON_CNT; i < cli.opt_cnt; i++) {
                const sl_opt_t *o = cli.opts[i];

                if ((o->flags & SL_OPT_REQUIRED) && !cli.vals[i].cnt) {
                        ret = sl_cli_usage_error(&cli, "missing required option --%s %s", o->name,
                                                 o->arg ? o->arg : "");
                        goto done;
                }
                if ((o->flags & SL_OPT_REQUIRED) && o->arg &&
                    !*cli.vals[i].values[cli.vals[i].cnt - 1]) {
                        ret = sl_cli_usage_error(&cli, "--%s: expected a non-empty %s", o->name,
                                                 o->arg);
                        goto done;
                }
        }
        if ((ret = sl_cli_configure(&cli)))
                goto done;
        ret = cmd->run(&cli);
        {
                char msg[512];

                if (sl_kafka_fatal(msg, sizeof(msg)))
                        ret = sl_cli_fail(&cli, "%s", msg);
                else if (ret != SL_EXIT_OK && ret != SL_EXIT_INTERRUPTED && sl_kafka_hint())
                        fprintf(stderr, "seerlog: %s: hint: %s\n", cmd->name, sl_kafka_hint());
        }

done:
        sl_cli_free(&cli);
        return ret;
}

rd_kafka_conf_t *sl_cli_kafka_conf(const sl_cli_t *cli, const char *const *defaults, int *exitp)
{
        /* log.level (error|warn|info|debug) as syslog levels for librdkafka's log_level. */
        static const char *const rk_levels[] = {"3", "4", "6", "7"};
        int level = sl_conf_get_enum(cli->conf, "log.level");
        rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
        char errstr[512];

        *exitp = SL_EXIT_USAGE;
        if (!rk_conf) {
                *exitp = sl_cli_fail(cli, "out of memory");
                return NULL;
        }
        if (rd_kafka_conf_set(rk_conf, "client.id", "seerlog", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(rk_conf, "log_level", rk_levels[level], errstr, sizeof(errstr)))
                goto fail;
        for (const char *const *d = defaults; d && d[0]; d += 2)
                if (rd_kafka_conf_set(rk_conf, d[0], d[1], errstr, sizeof(errstr)))
                        goto fail;
        if (sl_conf_kafka_apply(cli->conf, rk_conf, errstr, sizeof(errstr)))
                goto fail;
        return rk_conf;

fail:
        sl_cli_usage_error(cli, "%s", errstr);
        rd_kafka_conf_destroy(rk_conf);
        return NULL;
}

static void sl_cli_on_signal(int sig)
{
        sl_cli_signalled = 1;
        /* A second signal kills: the user really wants out. */
        signal(sig, SIG_DFL);
}

void sl_cli_trap_signals(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = sl_cli_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

int sl_cli_interrupted(void)
{
        /* A fatal Kafka failure (wrong password, TLS) stops every command's loop like a signal;
         * sl_cli_main() then exits with its message. */
        return sl_cli_signalled || sl_kafka_fatal(NULL, 0);
}

int64_t sl_cli_now_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_cli_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sl_cli_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

void sl_cli_decoder_ids(const sl_cli_t *cli, sl_codec_t *codec)
{
        if (sl_conf_registry_in_use(cli->conf))
                sl_codec_forget_schema(codec, (int32_t)sl_conf_get_int(cli->conf, "schema.id"));
}

void sl_cli_rmtree(char *dir)
{
        if (dir[0])
                nftw(dir, sl_cli_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        dir[0] = '\0';
}

void sl_cli_outbox_tmp_cleanup(char *tmpdir)
{
        sl_cli_rmtree(tmpdir);
}

static void sl_cli_record_cb(const char *node_id, int64_t incarnation, int64_t seq, void *opaque)
{
        fprintf(opaque, "%s %lld %lld\n", node_id, (long long)incarnation, (long long)seq);
}

int sl_cli_record_start(sl_cli_t *cli, sl_producer_t *p, FILE **fpp)
{
        const char *path = sl_cli_str(cli, "record");
        FILE *fp;

        *fpp = NULL;
        if (!path)
                return SL_EXIT_OK;
        if (!*path || !(fp = fopen(path, "a")))
                return sl_cli_fail(cli, "--record %s: %s", path, *path ? strerror(errno) : "empty");
        setvbuf(fp, NULL, _IOLBF, 0); /* a line reaches the kernel as soon as it is written */
        sl_producer_set_accept_cb(p, sl_cli_record_cb, fp);
        *fpp = fp;
        return SL_EXIT_OK;
}

int sl_cli_tmpdir(sl_cli_t *cli, const char *prefix, char *dir, size_t size)
{
        const char *base = getenv("TMPDIR");

        snprintf(dir, size, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
        if (!mkdtemp(dir)) {
                int e = errno;

                dir[0] = '\0';
                return sl_cli_fail(cli, "creating a temporary directory: %s", strerror(e));
        }
        return SL_EXIT_OK;
}

int sl_cli_outbox_tmp_prepare(sl_cli_t *cli, const char *prefix, char *tmpdir, size_t tmpdir_size)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *base = getenv("TMPDIR");
        char errstr[512];

        tmpdir[0] = '\0';
        if (!sl_conf_get_bool(conf, "outbox.enable") || *sl_conf_get(conf, "outbox.dir"))
                return SL_EXIT_OK;
        snprintf(tmpdir, tmpdir_size, "%s/%s-outbox.XXXXXX", base && *base ? base : "/tmp", prefix);
        if (!mkdtemp(tmpdir)) {
                int e = errno;

                tmpdir[0] = '\0';
                return sl_cli_fail(cli, "creating a temporary outbox directory: %s", strerror(e));
        }
        if (sl_conf_set_from(conf, "outbox.dir", tmpdir, "temporary", errstr, sizeof(errstr))) {
                sl_cli_outbox_tmp_cleanup(tmpdir);
                return sl_cli_fail(cli, "%s", errstr);
        }
        return SL_EXIT_OK;
}
