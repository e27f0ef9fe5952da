/*
 * libFuzzer target: the configuration (common/sl_conf.c): a properties file's text loaded with
 * sl_conf_load_stream() (what sl_conf_load_file() reads with), then each of its lines once more as
 * a `-X key=value` setting, and the result read back the ways the commands read it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sl_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What `-X key=value` does (cmd/cli.c): split at the first '='. */
static void set_x(sl_conf_t *conf, char *line)
{
        char errstr[512], *eq = strchr(line, '=');

        if (!eq)
                return;
        *eq = '\0';
        (void)sl_conf_set_from(conf, line, eq + 1, "flag -X", errstr, sizeof(errstr));
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char errstr[512], *text, *line, *save = NULL;
        sl_conf_t *conf;
        size_t cnt;
        FILE *fp;

        if (!devnull && !(devnull = fopen("/dev/null", "w")))
                sl_fuzz_die("fuzz_conf", "cannot open /dev/null");
        if (!(conf = sl_conf_new()) || !(text = malloc(size + 1)))
                sl_fuzz_die("fuzz_conf", "out of memory");
        memcpy(text, data, size);
        text[size] = '\0';
        if ((fp = fmemopen(text, size, "r"))) {
                (void)sl_conf_load_stream(conf, fp, "fuzz.properties", errstr, sizeof(errstr));
                fclose(fp);
        }
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                set_x(conf, line);

        {
                const sl_conf_prop_t *props = sl_conf_props(&cnt);
                const char *name, *value;
                rd_kafka_conf_t *rk;

                for (size_t i = 0; i < cnt; i++) {
                        (void)sl_conf_get(conf, props[i].name);
                        (void)sl_conf_origin(conf, props[i].name);
                }
                for (size_t i = 0; sl_conf_kafka_prop(conf, i, &name, &value, NULL); i++)
                        (void)sl_conf_is_sensitive(name);
                (void)sl_conf_registry_in_use(conf);
                sl_conf_print(conf, devnull);
                if ((rk = sl_conf_kafka(conf, errstr, sizeof(errstr))))
                        rd_kafka_conf_destroy(rk);
        }
        free(text);
        sl_conf_destroy(conf);
        return 0;
}
