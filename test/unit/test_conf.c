/* Unit tests of common/sl_conf: file parsing, routing, validation, precedence, defaults. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_conf.h"

static sl_conf_t *conf;
static char errstr[512];
static char tmpdir[64];

static void setup(void)
{
        strcpy(tmpdir, "/tmp/sl_test_conf.XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        conf = sl_conf_new();
        cr_assert_not_null(conf);
        errstr[0] = '\0';
}

static void teardown(void)
{
        char cmd[128];

        sl_conf_destroy(conf);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(conf, .init = setup, .fini = teardown);

/* Writes @p text to a new file in the test's temp dir; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
        static char path[128];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        fp = fopen(path, "w");
        cr_assert_not_null(fp);
        cr_assert_eq(fputs(text, fp) >= 0, 1);
        cr_assert_eq(fclose(fp), 0);
        return path;
}

/* The value librdkafka ends up with for @p name in a configuration made by sl_conf_kafka(). */
static void assert_rk_value(rd_kafka_conf_t *rk_conf, const char *name, const char *want)
{
        char value[512];
        size_t size = sizeof(value);

        cr_assert_eq(rd_kafka_conf_get(rk_conf, name, value, &size), RD_KAFKA_CONF_OK, "%s", name);
        cr_assert_str_eq(value, want, "%s", name);
}

Test(conf, defaults)
{
        size_t cnt;
        const sl_conf_prop_t *props = sl_conf_props(&cnt);

        cr_assert_gt(cnt, 0);
        for (size_t i = 0; i < cnt; i++) {
                cr_assert_str_eq(sl_conf_get(conf, props[i].name), props[i].def);
                cr_assert_str_eq(sl_conf_origin(conf, props[i].name), "default");
                /* Every default is valid for its own type. */
                cr_assert_eq(sl_conf_set(conf, props[i].name, props[i].def, errstr, sizeof(errstr)),
                             SL_OK, "%s: %s", props[i].name, errstr);
        }
        cr_assert_str_eq(sl_conf_get(conf, "bootstrap.servers"), "127.0.0.1:9092");
        cr_assert_str_eq(sl_conf_get(conf, "registry.url"), "http://127.0.0.1:8081");
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 1);
        cr_assert_str_eq(sl_conf_get(conf, "log.level"), "info");
        cr_assert_eq(sl_conf_get_enum(conf, "log.level"), 2);
        /* Unset librdkafka properties are librdkafka's business. */
        cr_assert_null(sl_conf_get(conf, "linger.ms"));
        cr_assert_null(sl_conf_origin(conf, "linger.ms"));
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, NULL, NULL, NULL), 0);
}

Test(conf, default_bootstrap_goes_to_librdkafka)
{
        rd_kafka_conf_t *rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));

        cr_assert_not_null(rk_conf, "%s", errstr);
        assert_rk_value(rk_conf, "bootstrap.servers", "127.0.0.1:9092");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, typed_getters)
{
        cr_assert_eq(sl_conf_set(conf, "schema.id", "2147483647", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 2147483647);
        cr_assert_eq(sl_conf_set(conf, "log.level", "debug", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_get_enum(conf, "log.level"), 3);
        cr_assert_eq(sl_conf_set(conf, "log.level", "error", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_get_enum(conf, "log.level"), 0);
        /* Wrong type or unknown key: 0, not a crash. */
        cr_assert_eq(sl_conf_get_int(conf, "log.level"), 0);
        cr_assert_eq(sl_conf_get_int(conf, "no.such.key"), 0);
        cr_assert_eq(sl_conf_get_bool(conf, "schema.id"), 0);
}

Test(conf, routing_ours)
{
        cr_assert_eq(sl_conf_set_from(conf, "registry.url", "https://reg.example:8443/x", "flag -X",
                                      errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(sl_conf_get(conf, "registry.url"), "https://reg.example:8443/x");
        cr_assert_str_eq(sl_conf_origin(conf, "registry.url"), "flag -X");
        /* Ours only: librdkafka never sees it. */
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, NULL, NULL, NULL), 0);
}

Test(conf, routing_kafka_prefix)
{
        rd_kafka_conf_t *rk_conf;
        const char *name, *value, *origin;

        cr_assert_eq(sl_conf_set(conf, "kafka.linger.ms", "7", errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_str_eq(sl_conf_get(conf, "linger.ms"), "7");
        cr_assert_str_eq(sl_conf_get(conf, "kafka.linger.ms"), "7");
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, &name, &value, &origin), 1);
        cr_assert_str_eq(name, "linger.ms");
        cr_assert_str_eq(value, "7");
        cr_assert_str_eq(origin, "set");
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        /* linger.ms is an alias of queue.buffering.max.ms */
        assert_rk_value(rk_conf, "queue.buffering.max.ms", "7");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, routing_plain_librdkafka_key)
{
        rd_kafka_conf_t *rk_conf;
        const char *name;

        cr_assert_eq(sl_conf_set(conf, "client.id", "seerlog-test", errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        /* A topic-level property set on the global configuration. */
        cr_assert_eq(sl_conf_set(conf, "acks", "all", errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, &name, NULL, NULL), 1);
        cr_assert_str_eq(name, "client.id");
        cr_assert_eq(sl_conf_kafka_prop(conf, 1, &name, NULL, NULL), 1);
        cr_assert_str_eq(name, "acks");
        cr_assert_eq(sl_conf_kafka_prop(conf, 2, NULL, NULL, NULL), 0);
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        assert_rk_value(rk_conf, "client.id", "seerlog-test");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, bootstrap_by_any_name_is_ours)
{
        rd_kafka_conf_t *rk_conf;

        cr_assert_eq(sl_conf_set(conf, "kafka.bootstrap.servers", "a:1", errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(sl_conf_get(conf, "bootstrap.servers"), "a:1");
        cr_assert_eq(
            sl_conf_set(conf, "metadata.broker.list", "b:2,[::1]:3", errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        cr_assert_str_eq(sl_conf_get(conf, "bootstrap.servers"), "b:2,[::1]:3");
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, NULL, NULL, NULL), 0);
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        assert_rk_value(rk_conf, "bootstrap.servers", "b:2,[::1]:3");
        rd_kafka_conf_destroy(rk_conf);
        /* and is type-checked as ours */
        cr_assert_eq(sl_conf_set(conf, "metadata.broker.list", "nohost", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);
}

Test(conf, kafka_props_in_set_order)
{
        const char *name, *value;
        rd_kafka_conf_t *rk_conf;

        /* linger.ms and queue.buffering.max.ms are the same librdkafka property: the last set
         * must win, so setting one again moves it to the end. */
        cr_assert_eq(sl_conf_set(conf, "linger.ms", "1", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "queue.buffering.max.ms", "2", errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(sl_conf_set(conf, "linger.ms", "3", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, &name, &value, NULL), 1);
        cr_assert_str_eq(name, "queue.buffering.max.ms");
        cr_assert_eq(sl_conf_kafka_prop(conf, 1, &name, &value, NULL), 1);
        cr_assert_str_eq(name, "linger.ms");
        cr_assert_str_eq(value, "3");
        cr_assert_eq(sl_conf_kafka_prop(conf, 2, NULL, NULL, NULL), 0);
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        assert_rk_value(rk_conf, "queue.buffering.max.ms", "3");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, apply_over_caller_defaults)
{
        rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();

        cr_assert_eq(rd_kafka_conf_set(rk_conf, "client.id", "caller", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
        cr_assert_eq(
            rd_kafka_conf_set(rk_conf, "socket.timeout.ms", "1234", errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK);
        cr_assert_eq(sl_conf_set(conf, "client.id", "user", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_kafka_apply(conf, rk_conf, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        assert_rk_value(rk_conf, "client.id", "user");
        assert_rk_value(rk_conf, "socket.timeout.ms", "1234");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, unknown_librdkafka_key_rejected)
{
        cr_assert_eq(sl_conf_set(conf, "no.such.property", "1", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "no.such.property=1"), "%s", errstr);
        cr_assert(strstr(errstr, "No such configuration property"), "%s", errstr);
        cr_assert_null(sl_conf_get(conf, "no.such.property"));

        cr_assert_eq(sl_conf_set(conf, "kafka.no.such", "1", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "kafka.no.such=1"), "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "kafka.", "1", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert_eq(sl_conf_set(conf, "", "1", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        /* A callback cannot be set from a string. */
        cr_assert_eq(sl_conf_set(conf, "dr_msg_cb", "x", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, NULL, NULL, NULL), 0);
}

Test(conf, bad_librdkafka_value_rejected)
{
        cr_assert_eq(sl_conf_set(conf, "linger.ms", "soon", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "linger.ms=soon"), "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "enable.idempotence", "maybe", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "enable.idempotence"), "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "acks", "most", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        /* no trailing newline from librdkafka's message */
        cr_assert_eq(sl_conf_set(conf, "linger.ms", "-5", errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert_neq(errstr[strlen(errstr) - 1], '\n', "%s", errstr);
        cr_assert_eq(sl_conf_kafka_prop(conf, 0, NULL, NULL, NULL), 0);
}

/* Sets @p key=@p value and expects SL_ERR_CONFIG with key and value in the message. */
static void assert_bad(const char *key, const char *value)
{
        const char *before = sl_conf_get(conf, key);
        char *saved = before ? strdup(before) : NULL;

        cr_assert_eq(sl_conf_set(conf, key, value, errstr, sizeof(errstr)), SL_ERR_CONFIG,
                     "%s=%s accepted", key, value);
        cr_assert(strstr(errstr, key), "%s", errstr);
        cr_assert(strstr(errstr, value), "%s", errstr);
        cr_assert(strstr(errstr, "expected"), "%s", errstr);
        /* Unchanged. */
        if (saved)
                cr_assert_str_eq(sl_conf_get(conf, key), saved);
        free(saved);
}

static void assert_good(const char *key, const char *value)
{
        cr_assert_eq(sl_conf_set(conf, key, value, errstr, sizeof(errstr)), SL_OK, "%s=%s: %s", key,
                     value, errstr);
        cr_assert_str_eq(sl_conf_get(conf, key), value);
}

Test(conf, bad_typed_values_rejected)
{
        assert_bad("schema.id", "0");
        assert_bad("schema.id", "2147483648");
        assert_bad("schema.id", "-1");
        assert_bad("schema.id", "12abc");
        assert_bad("schema.id", " 5");
        assert_bad("schema.id", "99999999999999999999999");
        assert_bad("log.level", "verbose");
        assert_bad("log.level", "INFO");
        assert_bad("registry.url", "ftp://x");
        assert_bad("registry.url", "localhost:8081");
        assert_bad("registry.url", "http://");
        assert_bad("registry.url", "http://host:0");
        assert_bad("registry.url", "http://host:65536");
        assert_bad("registry.url", "http://a b");
        /* Refused, and the password is not repeated in the message. */
        cr_assert_eq(
            sl_conf_set(conf, "registry.url", "http://u:pw9secret@host", errstr, sizeof(errstr)),
            SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "registry.url=(redacted)"), "%s", errstr);
        cr_assert_null(strstr(errstr, "pw9secret"), "%s", errstr);
        assert_bad("bootstrap.servers", "localhost");
        assert_bad("bootstrap.servers", "localhost:");
        assert_bad("bootstrap.servers", ":9092");
        assert_bad("bootstrap.servers", "a:1,,b:2");
        assert_bad("bootstrap.servers", "a:1,");
        assert_bad("bootstrap.servers", "a:99999");
        assert_bad("bootstrap.servers", "a:9092x");
        assert_bad("bootstrap.servers", "::1:9092");
        assert_bad("bootstrap.servers", "[::1]");
        cr_assert_eq(sl_conf_set(conf, "bootstrap.servers", "", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);

        assert_good("schema.id", "1");
        assert_good("schema.id", "2147483647");
        assert_good("log.level", "warn");
        assert_good("registry.url", "http://reg:8081");
        assert_good("registry.url", "HTTPS://reg/path?q=1");
        assert_good("registry.url", "http://[::1]:8081/");
        assert_good("bootstrap.servers", "a:1");
        assert_good("bootstrap.servers", "a:1, b.example.com:9093,[fe80::1]:9094");
        assert_good("bootstrap.servers", "10.0.0.1:65535");
}

Test(conf, file_parsing)
{
        const char *path = write_file("ok.properties", "# a comment\n"
                                                       "! another comment\n"
                                                       "\n"
                                                       "   \t\n"
                                                       "bootstrap.servers=k1:9092,k2:9092\n"
                                                       "  registry.url :  http://reg:8081  \n"
                                                       "schema.id: 42\r\n"
                                                       "\t# indented comment\n"
                                                       "kafka.linger.ms = 5\n"
                                                       "client.id=a=b:c\n"
                                                       "log.level=debug"); /* no final newline */
        char origin[256];

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_str_eq(sl_conf_get(conf, "bootstrap.servers"), "k1:9092,k2:9092");
        cr_assert_str_eq(sl_conf_get(conf, "registry.url"), "http://reg:8081");
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 42);
        cr_assert_str_eq(sl_conf_get(conf, "linger.ms"), "5");
        /* The first separator splits; the rest is the value. */
        cr_assert_str_eq(sl_conf_get(conf, "client.id"), "a=b:c");
        cr_assert_str_eq(sl_conf_get(conf, "log.level"), "debug");
        snprintf(origin, sizeof(origin), "file %s:6", path);
        cr_assert_str_eq(sl_conf_origin(conf, "registry.url"), origin);
        snprintf(origin, sizeof(origin), "file %s:9", path);
        cr_assert_str_eq(sl_conf_origin(conf, "linger.ms"), origin);
}

Test(conf, file_empty_value)
{
        const char *path = write_file("empty.properties", "client.id=\n");

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_str_eq(sl_conf_get(conf, "client.id"), "");
}

Test(conf, file_bad_line_is_all_or_nothing)
{
        const char *path = write_file("bad.properties", "schema.id=5\n"
                                                        "linger.ms=9\n"
                                                        "# comment\n"
                                                        "this line has no separator\n"
                                                        "log.level=debug\n");
        char want[256];

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_ERR_CONFIG);
        snprintf(want, sizeof(want), "%s:4:", path);
        cr_assert(strstr(errstr, want), "%s", errstr);
        cr_assert(strstr(errstr, "this line has no separator"), "%s", errstr);
        /* Nothing from the file was applied. */
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 1);
        cr_assert_null(sl_conf_get(conf, "linger.ms"));
        cr_assert_str_eq(sl_conf_origin(conf, "schema.id"), "default");
}

Test(conf, file_bad_value_names_file_line_key_value)
{
        const char *path = write_file("badval.properties", "\n\nschema.id=zero\n");
        char want[256];

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_ERR_CONFIG);
        snprintf(want, sizeof(want), "%s:3: schema.id=zero: expected", path);
        cr_assert(strstr(errstr, want), "%s", errstr);
}

Test(conf, file_unknown_property)
{
        const char *path = write_file("unknown.properties", "no.such.property=1\n");
        char want[256];

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_ERR_CONFIG);
        snprintf(want, sizeof(want), "%s:1: no.such.property=1", path);
        cr_assert(strstr(errstr, want), "%s", errstr);
}

Test(conf, file_empty_key)
{
        const char *path = write_file("emptykey.properties", " = value\n");

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, ":1: empty key"), "%s", errstr);
}

Test(conf, file_missing)
{
        char path[128];

        snprintf(path, sizeof(path), "%s/does-not-exist.properties", tmpdir);
        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert(strstr(errstr, path), "%s", errstr);
        cr_assert(strstr(errstr, "No such file or directory"), "%s", errstr);
}

Test(conf, precedence_file_then_flags)
{
        const char *path = write_file("p.properties", "registry.url=http://file:1\n"
                                                      "schema.id=3\n"
                                                      "linger.ms=10\n"
                                                      "schema.id=4\n");
        rd_kafka_conf_t *rk_conf;

        cr_assert_eq(sl_conf_load_file(conf, path, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        /* Later lines of a file win over earlier ones. */
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 4);
        /* Then the command line (-X) wins over the file. */
        cr_assert_eq(sl_conf_set_from(conf, "registry.url", "http://flag:2", "flag -X", errstr,
                                      sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(
            sl_conf_set_from(conf, "kafka.linger.ms", "20", "flag -X", errstr, sizeof(errstr)),
            SL_OK);
        cr_assert_str_eq(sl_conf_get(conf, "registry.url"), "http://flag:2");
        cr_assert_str_eq(sl_conf_origin(conf, "registry.url"), "flag -X");
        cr_assert_str_eq(sl_conf_get(conf, "linger.ms"), "20");
        cr_assert_str_eq(sl_conf_origin(conf, "linger.ms"), "flag -X");
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 4);
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        assert_rk_value(rk_conf, "queue.buffering.max.ms", "20");
        rd_kafka_conf_destroy(rk_conf);
}

Test(conf, second_file_overrides_first)
{
        char first[128];

        snprintf(first, sizeof(first), "%s", write_file("a.properties", "schema.id=5\n"));
        cr_assert_eq(sl_conf_load_file(conf, first, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_load_file(conf, write_file("b.properties", "schema.id=6\n"), errstr,
                                       sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(sl_conf_get_int(conf, "schema.id"), 6);
}

Test(conf, sensitive_values_are_redacted)
{
        char *text = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&text, &size);

        cr_assert_eq(sl_conf_is_sensitive("sasl.password"), 1);
        cr_assert_eq(sl_conf_is_sensitive("ssl.key.password"), 1);
        cr_assert_eq(sl_conf_is_sensitive("linger.ms"), 0);
        cr_assert_eq(sl_conf_set(conf, "sasl.password", "hunter2", errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        sl_conf_print(conf, fp);
        fclose(fp);
        cr_assert_null(strstr(text, "hunter2"), "%s", text);
        cr_assert(strstr(text, "sasl.password=(redacted)"), "%s", text);
        cr_assert(strstr(text, "bootstrap.servers=127.0.0.1:9092  # default"), "%s", text);
        free(text);
}

Test(conf, help_and_markdown_list_every_key)
{
        size_t cnt;
        const sl_conf_prop_t *props = sl_conf_props(&cnt);
        char *help = NULL, *md = NULL;
        size_t help_size = 0, md_size = 0;
        FILE *fp;

        fp = open_memstream(&help, &help_size);
        sl_conf_print_help(fp);
        fclose(fp);
        fp = open_memstream(&md, &md_size);
        sl_conf_print_markdown(fp);
        fclose(fp);
        for (size_t i = 0; i < cnt; i++) {
                char cell[128];

                cr_assert(strstr(help, props[i].name), "%s", props[i].name);
                snprintf(cell, sizeof(cell), "| `%s` |", props[i].name);
                cr_assert(strstr(md, cell), "%s", cell);
        }
        /* '|' inside a cell is escaped, so each row has exactly 6 unescaped bars. */
        cr_assert(strstr(md, "error\\|warn\\|info\\|debug"), "%s", md);
        free(help);
        free(md);
}

/* ---- half-configured Kafka security (sl_conf_check_security) ---- */

/* Sets each "key=value" of the NULL-terminated list; all must be accepted one by one. */
static void set_all(const char *const *kvs)
{
        for (; *kvs; kvs++) {
                char key[128];
                const char *eq = strchr(*kvs, '=');

                cr_assert_not_null(eq, "%s", *kvs);
                snprintf(key, sizeof(key), "%.*s", (int)(eq - *kvs), *kvs);
                cr_assert_eq(sl_conf_set(conf, key, eq + 1, errstr, sizeof(errstr)), SL_OK, "%s",
                             errstr);
        }
}

/* The settings are refused, by the check and by sl_conf_kafka(), with @p want in the message. */
static void assert_refused(const char *want)
{
        rd_kafka_conf_t *rk_conf;

        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, want), "wanted \"%s\" in \"%s\"", want, errstr);
        cr_assert_null(strstr(errstr, "s3cr3t"), "a secret in \"%s\"", errstr);
        errstr[0] = '\0';
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_null(rk_conf);
        cr_assert(strstr(errstr, want), "sl_conf_kafka: \"%s\"", errstr);
}

Test(conf, security_complete_setups_pass)
{
        const char *sasl_ssl[] = {"kafka.security.protocol=SASL_SSL",
                                  "kafka.sasl.mechanisms=SCRAM-SHA-256", "kafka.sasl.username=u",
                                  "kafka.sasl.password=s3cr3t", NULL};
        rd_kafka_conf_t *rk_conf;
        char ca[160];

        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        set_all(sasl_ssl);
        snprintf(ca, sizeof(ca), "kafka.ssl.ca.location=%s",
                 write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n"));
        set_all((const char *[]){ca, NULL});
        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        /* An alias of the mechanism's key counts as set; SSL alone needs no credentials. */
        sl_conf_destroy(conf);
        conf = sl_conf_new();
        set_all((const char *[]){"security.protocol=sasl_plaintext", "sasl.mechanism=PLAIN",
                                 "sasl.username=u", "sasl.password=p", NULL});
        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        rk_conf = sl_conf_kafka(conf, errstr, sizeof(errstr));
        cr_assert_not_null(rk_conf, "%s", errstr);
        rd_kafka_conf_destroy(rk_conf);
        sl_conf_destroy(conf);
        conf = sl_conf_new();
        set_all((const char *[]){"kafka.security.protocol=SSL", ca, NULL});
        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
}

Test(conf, security_username_without_password)
{
        set_all((const char *[]){"kafka.security.protocol=SASL_SSL",
                                 "kafka.sasl.mechanisms=SCRAM-SHA-256", "kafka.sasl.username=u",
                                 NULL});
        assert_refused("kafka.sasl.username is set but kafka.sasl.password is not");
}

Test(conf, security_password_without_username)
{
        set_all((const char *[]){"kafka.security.protocol=SASL_SSL",
                                 "kafka.sasl.mechanisms=SCRAM-SHA-512",
                                 "kafka.sasl.password=s3cr3t", NULL});
        assert_refused("kafka.sasl.password is set but kafka.sasl.username is not");
}

Test(conf, security_sasl_keys_without_sasl_protocol)
{
        set_all((const char *[]){"kafka.sasl.mechanisms=SCRAM-SHA-256", "kafka.sasl.username=u",
                                 "kafka.sasl.password=s3cr3t", NULL});
        assert_refused("kafka.sasl.mechanisms is set but kafka.security.protocol=plaintext does "
                       "not use SASL");
        set_all((const char *[]){"kafka.security.protocol=SSL", NULL});
        assert_refused("kafka.security.protocol=ssl does not use SASL");
}

Test(conf, security_sasl_protocol_without_mechanism)
{
        set_all((const char *[]){"kafka.security.protocol=SASL_SSL", NULL});
        assert_refused("kafka.security.protocol=sasl_ssl needs kafka.sasl.mechanisms");
}

Test(conf, security_scram_without_credentials)
{
        set_all((const char *[]){"kafka.security.protocol=SASL_SSL",
                                 "kafka.sasl.mechanisms=SCRAM-SHA-256", NULL});
        assert_refused("kafka.sasl.mechanisms=SCRAM-SHA-256 needs kafka.sasl.username and "
                       "kafka.sasl.password");
}

Test(conf, security_ssl_keys_without_tls)
{
        char ca[160];

        snprintf(ca, sizeof(ca), "kafka.ssl.ca.location=%s", write_file("ca.pem", "x\n"));
        set_all((const char *[]){ca, NULL});
        assert_refused("kafka.ssl.ca.location is set but kafka.security.protocol=plaintext does "
                       "not use TLS");
        set_all((const char *[]){"kafka.security.protocol=SASL_PLAINTEXT",
                                 "kafka.sasl.mechanisms=PLAIN", "kafka.sasl.username=u",
                                 "kafka.sasl.password=s3cr3t", NULL});
        assert_refused("kafka.security.protocol=sasl_plaintext does not use TLS");
}

Test(conf, security_missing_ca_file)
{
        set_all((const char *[]){"kafka.security.protocol=SSL",
                                 "kafka.ssl.ca.location=/nonexistent/ca.pem", NULL});
        assert_refused("kafka.ssl.ca.location=/nonexistent/ca.pem: No such file or directory");
        /* librdkafka's "probe" is not a file. */
        set_all((const char *[]){"kafka.ssl.ca.location=probe", NULL});
        cr_assert_eq(sl_conf_check_security(conf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
}
