/* Shared by the command-line views of the projector's API (views.h). */
#include "views.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t sl_view_stop;

const char *const sl_view_node_header[SL_VIEW_NODE_COLS_WIDE] = {
    "NODE", "TYPE",    "REGION",      "STATUS", "LIVENESS", "LAST SEEN", "CPU",
    "MEM",  "CLUSTER", "INCARNATION", "SEQ",    "SOURCE",   "LABELS"};

static int sl_view_cancel(void *opaque)
{
        (void)opaque;
        return sl_view_stop || sl_cli_interrupted();
}

int sl_view_client(sl_cli_t *cli, sl_apic_t **cp)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *url = sl_cli_str(cli, "url");
        char errstr[512];
        sl_err_t err;

        if (url && sl_conf_set_from(conf, "api.url", url, "flag --url", errstr, sizeof(errstr)))
                return sl_cli_usage_error(cli, "--url: %s", errstr);
        url = sl_conf_get(conf, "api.url");
        if (!url || !*url)
                return sl_cli_usage_error(cli, "no API URL: give --url URL (or set api.url)");
        if ((err = sl_apic_new(url, sl_view_cancel, NULL, cp, errstr, sizeof(errstr))))
                return err == SL_ERR_INVALID_ARG ? sl_cli_usage_error(cli, "--url: %s", errstr)
                                                 : sl_cli_fail(cli, "%s", errstr);
        if (sl_apic_set_auth(*cp, conf, errstr, sizeof(errstr))) {
                sl_apic_destroy(*cp);
                *cp = NULL;
                return sl_cli_usage_error(cli, "%s", errstr);
        }
        return 0;
}

int sl_view_api_fail(sl_cli_t *cli, sl_err_t err, const char *errstr)
{
        if (err == SL_ERR_INVALID_ARG)
                return sl_cli_usage_error(cli, "%s", errstr);
        return sl_cli_fail(cli, "%s", errstr);
}

void sl_view_age(char *buf, size_t size, int64_t ms)
{
        int64_t s = ms < 0 ? 0 : ms / 1000;

        if (s < 120)
                snprintf(buf, size, "%" PRId64 "s", s);
        else if (s < 120 * 60)
                snprintf(buf, size, "%" PRId64 "m", s / 60);
        else if (s < 48 * 3600)
                snprintf(buf, size, "%" PRId64 "h", s / 3600);
        else
                snprintf(buf, size, "%" PRId64 "d", s / 86400);
}

void sl_view_time(char *buf, size_t size, int64_t ms)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        char s[32];

        if (!gmtime_r(&t, &tm) || !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm)) {
                snprintf(buf, size, "%" PRId64, ms);
                return;
        }
        snprintf(buf, size, "%s.%03dZ", s, (int)(ms % 1000));
}

void sl_view_scalar(char *buf, size_t size, const json_t *v)
{
        if (json_is_integer(v))
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
                snprintf(buf, size, "%g", json_real_value(v));
        else if (json_is_string(v) && *json_string_value(v))
                snprintf(buf, size, "%s", json_string_value(v));
        else if (json_is_boolean(v))
                snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
        else
                snprintf(buf, size, "-");
}

const char *sl_view_str(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s && *s ? s : "-";
}

/* "56%" of usage.cpu_percent; "-" without usage. */
void sl_view_cpu(char *buf, size_t size, const json_t *usage)
{
        const json_t *cpu = json_object_get(usage, "cpu_percent");

        if (json_is_number(cpu))
                snprintf(buf, size, "%.0f%%", json_number_value(cpu));
        else
                snprintf(buf, size, "-");
}

/* "40%" of usage.mem_used / usage.mem_total; "-" without them. */
void sl_view_mem(char *buf, size_t size, const json_t *usage)
{
        const json_t *used = json_object_get(usage, "mem_used"),
                     *total = json_object_get(usage, "mem_total");

        if (json_is_number(used) && json_is_number(total) && json_number_value(total) > 0)
                snprintf(buf, size, "%.0f%%",
                         100.0 * json_number_value(used) / json_number_value(total));
        else
                snprintf(buf, size, "-");
}

static int sl_view_key_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k2=v2" in key order (@p sep between them), "-" without labels; malloc()ed. */
char *sl_view_labels(const json_t *labels, const char *sep)
{
        size_t cnt = json_object_size(labels), i = 0, len = 2;
        const char **keys = calloc(cnt ? cnt : 1, sizeof(*keys));
        const char *key;
        json_t *v;
        char *out;

        if (!keys)
                return NULL;
        json_object_foreach((json_t *)labels, key, v)
        {
                keys[i++] = key;
                len += strlen(key) + strlen(sep) + 1 +
                       (json_is_string(v) ? strlen(json_string_value(v)) : 1);
        }
        qsort(keys, cnt, sizeof(*keys), sl_view_key_cmp);
        if ((out = malloc(len))) {
                size_t off = 0;

                out[0] = '\0';
                for (i = 0; i < cnt; i++) {
                        const char *val = json_string_value(json_object_get(labels, keys[i]));

                        off += (size_t)snprintf(out + off, len - off, "%s%s=%s", i ? sep : "",
                                                keys[i], val ? val : "?");
                }
                if (!cnt)
                        snprintf(out, len, "-");
        }
        free(keys);
        return out;
}

int sl_view_node_row(sl_table_t *t, const json_t *node, int wide, int64_t now)
{
        const json_t *state = json_object_get(node, "state"),
                     *usage = json_object_get(state, "usage"),
                     *heard = json_object_get(node, "last_heard_ms");
        char seen[32], cpu[16], mem[16], inc[32], seq[32];
        char *labels = wide ? sl_view_labels(json_object_get(state, "labels"), ",") : NULL;
        const char *cells[13];

        if (wide && !labels)
                return -1;
        if (json_is_integer(heard) && json_integer_value(heard) >= 0)
                sl_view_age(seen, sizeof(seen), now - json_integer_value(heard));
        else
                snprintf(seen, sizeof(seen), "-");
        sl_view_cpu(cpu, sizeof(cpu), usage);
        sl_view_mem(mem, sizeof(mem), usage);
        sl_view_scalar(inc, sizeof(inc), json_object_get(state, "incarnation"));
        sl_view_scalar(seq, sizeof(seq), json_object_get(state, "seq"));
        cells[0] = sl_view_str(node, "node_id");
        cells[1] = sl_view_str(node, "node_type");
        cells[2] = sl_view_str(node, "region");
        cells[3] = sl_view_str(node, "status");
        cells[4] = sl_view_str(node, "liveness");
        cells[5] = seen;
        cells[6] = cpu;
        cells[7] = mem;
        cells[8] = sl_view_str(state, "cluster");
        cells[9] = inc;
        cells[10] = seq;
        cells[11] = sl_view_str(state, "source");
        cells[12] = labels;
        sl_table_add(t, cells);
        free(labels);
        return t->nomem ? -1 : 0;
}

void sl_table_init(sl_table_t *t, size_t cols, const char *const *header)
{
        memset(t, 0, sizeof(*t));
        t->cols = cols;
        sl_table_add(t, header);
}

void sl_table_add(sl_table_t *t, const char *const *cells)
{
        if (t->nomem)
                return;
        if (t->rows == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 64;
                char **tmp = realloc(t->cells, cap * t->cols * sizeof(*tmp));

                if (!tmp) {
                        t->nomem = 1;
                        return;
                }
                t->cells = tmp;
                t->cap = cap;
        }
        for (size_t i = 0; i < t->cols; i++) {
                if (!(t->cells[t->rows * t->cols + i] = strdup(cells[i] ? cells[i] : ""))) {
                        while (i-- > 0)
                                free(t->cells[t->rows * t->cols + i]);
                        t->nomem = 1;
                        return;
                }
        }
        t->rows++;
}

void sl_table_print(const sl_table_t *t, FILE *fp, int max_width)
{
        size_t *width = calloc(t->cols ? t->cols : 1, sizeof(*width));

        if (!width)
                return;
        for (size_t r = 0; r < t->rows; r++)
                for (size_t i = 0; i < t->cols; i++) {
                        size_t len = strlen(t->cells[r * t->cols + i]);

                        if (len > width[i])
                                width[i] = len;
                }
        for (size_t r = 0; r < t->rows; r++) {
                size_t used = 0, pad = 0, last = t->cols;

                /* No trailing blanks: stop at the last non-empty cell. */
                while (last > 1 && !*t->cells[r * t->cols + last - 1])
                        last--;
                for (size_t i = 0; i < last; i++) {
                        const char *cell = t->cells[r * t->cols + i];
                        size_t len = strlen(cell);

                        if (max_width > 0 && used + pad >= (size_t)max_width)
                                break;
                        fprintf(fp, "%*s", (int)pad, "");
                        used += pad;
                        if (max_width > 0 && used + len > (size_t)max_width)
                                len = (size_t)max_width - used;
                        fwrite(cell, 1, len, fp);
                        used += len;
                        pad = width[i] - len + 3;
                }
                fputc('\n', fp);
        }
        free(width);
}

void sl_table_free(sl_table_t *t)
{
        for (size_t i = 0; i < t->rows * t->cols; i++)
                free(t->cells[i]);
        free(t->cells);
        memset(t, 0, sizeof(*t));
}
