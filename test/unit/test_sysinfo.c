/* Unit tests of sl_sysinfo: /proc parsers on canned texts, the reader on a fake /proc, the node's
 * files, the usage threshold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sl_sysinfo.h"

static char errstr[512];

static const char *stat_text =
    "cpu  4705 356 584 3699 23 23 0 0 0 0\n"
    "cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n"
    "cpu1 1335 11 2 3 4 5 6 7 8 9\n"
    "intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]\n"
    "ctxt 1990473\n"
    "btime 1062191376\n";

Test(stat, parses_aggregate_and_counts_cpus)
{
        sl_cpu_times_t t;
        int32_t cpus = 0;

        cr_assert_eq(sl_sysinfo_parse_stat(stat_text, &t, &cpus, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_assert_eq(cpus, 2);
        cr_assert_eq(t.total, 4705 + 356 + 584 + 3699 + 23 + 23);
        cr_assert_eq(t.idle, 3699 + 23);
}

Test(stat, old_kernel_four_fields)
{
        sl_cpu_times_t t;
        int32_t cpus = 0;

        cr_assert_eq(
            sl_sysinfo_parse_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n", &t, &cpus, errstr, sizeof(errstr)),
            SL_OK, "%s", errstr);
        cr_assert_eq(cpus, 1);
        cr_assert_eq(t.total, 10);
        cr_assert_eq(t.idle, 4);
}

Test(stat, garbage_and_truncated_are_errors)
{
        static const char *bad[] = {
            "",
            "hello world\n",
            "cpu",
            "cpu ",
            "cpu  1 2 3\ncpu0 1 2 3 4\n",                 /* too few fields */
            "cpu  1 2 x 4\ncpu0 1 2 3 4\n",               /* not a number */
            "cpu  1 2 3 4\n",                             /* no per-CPU line */
            "cpu  1 2 3 4",                               /* truncated after the first line */
            "cpu  -1 2 3 4\ncpu0 1\n",                    /* negative */
            "cpu  99999999999999999999999 2 3 4\ncpu0\n", /* overflow */
            "cpu  18446744073709551615 18446744073709551615 1 1\ncpu0\n", /* sum overflows */
            "cpu\t\n1 2 3 4\ncpu0 1 2 3 4\n", /* numbers on the next line */
        };
        sl_cpu_times_t t = {77, 7};
        int32_t cpus = 5;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                errstr[0] = '\0';
                cr_assert_eq(sl_sysinfo_parse_stat(bad[i], &t, &cpus, errstr, sizeof(errstr)),
                             SL_ERR_BAD_VALUE, "case %zu", i);
                cr_assert(strstr(errstr, "/proc/stat"), "case %zu: %s", i, errstr);
        }
        cr_assert_eq(t.total, 77, "outputs untouched on error");
        cr_assert_eq(cpus, 5);
        cr_assert_eq(sl_sysinfo_parse_stat(NULL, &t, &cpus, errstr, sizeof(errstr)),
                     SL_ERR_BAD_VALUE);
}

Test(stat, cpu_percent_between_samples)
{
        sl_cpu_times_t a = {1000, 800}, b = {1200, 850}, back = {900, 700};

        cr_assert_float_eq(sl_sysinfo_cpu_percent(NULL, &a), 20.0, 1e-9);
        cr_assert_float_eq(sl_sysinfo_cpu_percent(&a, &b), 75.0, 1e-9);
        cr_assert_float_eq(sl_sysinfo_cpu_percent(&a, &a), 0.0, 1e-9, "no time elapsed");
        cr_assert_float_eq(sl_sysinfo_cpu_percent(&a, &back), 0.0, 1e-9, "counters went back");
        cr_assert_float_eq(sl_sysinfo_cpu_percent(NULL, &(sl_cpu_times_t){0, 0}), 0.0, 1e-9);
}

Test(loadavg, parses)
{
        double l1 = -1, l5 = -1, l15 = -1;

        cr_assert_eq(sl_sysinfo_parse_loadavg("0.52 1.58 10.09 1/389 12345\n", &l1, &l5, &l15,
                                              errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_float_eq(l1, 0.52, 1e-9);
        cr_assert_float_eq(l5, 1.58, 1e-9);
        cr_assert_float_eq(l15, 10.09, 1e-9);
        cr_assert_eq(sl_sysinfo_parse_loadavg("0 0 0", &l1, &l5, &l15, errstr, sizeof(errstr)),
                     SL_OK);
}

Test(loadavg, garbage_and_truncated_are_errors)
{
        static const char *bad[] = {"",       "0.52",    "0.52 0.58", "0.52 0.58 x", "a b c",
                                    "-1 0 0", "nan 0 0", "inf 0 0",   "0.5x 1 1",    "1e999 1 1"};
        double l1 = 7, l5 = 7, l15 = 7;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(
                    sl_sysinfo_parse_loadavg(bad[i], &l1, &l5, &l15, errstr, sizeof(errstr)),
                    SL_ERR_BAD_VALUE, "case %zu: \"%s\"", i, bad[i]);
        cr_assert_float_eq(l1, 7, 1e-9);
        cr_assert_eq(sl_sysinfo_parse_loadavg(NULL, &l1, &l5, &l15, errstr, sizeof(errstr)),
                     SL_ERR_BAD_VALUE);
}

Test(meminfo, parses_total_and_available)
{
        const char *text = "MemTotal:       16318412 kB\n"
                           "MemFree:         1201124 kB\n"
                           "MemAvailable:    9125028 kB\n"
                           "Buffers:          402840 kB\n"
                           "Cached:          7391252 kB\n"
                           "HugePages_Total:       0\n";
        int64_t total, avail, used;

        cr_assert_eq(sl_sysinfo_parse_meminfo(text, &total, &avail, &used, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(total, 16318412LL * 1024);
        cr_assert_eq(avail, 9125028LL * 1024);
        cr_assert_eq(used, total - avail);
}

Test(meminfo, old_kernel_without_memavailable)
{
        const char *text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        int64_t total, avail, used;

        cr_assert_eq(sl_sysinfo_parse_meminfo(text, &total, &avail, &used, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(avail, 400 * 1024);
        cr_assert_eq(used, 600 * 1024);
}

Test(meminfo, garbage_and_truncated_are_errors)
{
        static const char *bad[] = {
            "",
            "garbage\n",
            "MemTotal:\n",
            "MemTotal: x kB\n",
            "MemTotal: 100 kB junk\nMemAvailable: 1 kB\n",
            "MemTotal: 100 kB\n",                 /* neither MemAvailable nor fallback */
            "MemTotal: 100 kB\nMemAvailable: \n", /* truncated value */
            "MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n",
            "MemTotal: 18014398509481984 kB\nMemAvailable: 1 kB\n", /* * 1024 overflows */
            "MemTotal: 100 kB\nMemFree: 1 kB\nBuffers: 1 kB\n",     /* no Cached */
            "MemTotal: 100 kB\nMemAvail",                           /* cut in a key */
        };
        int64_t total = 3, avail = 3, used = 3;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(
                    sl_sysinfo_parse_meminfo(bad[i], &total, &avail, &used, errstr, sizeof(errstr)),
                    SL_ERR_BAD_VALUE, "case %zu", i);
                cr_assert(strstr(errstr, "/proc/meminfo"), "case %zu: %s", i, errstr);
        }
        cr_assert_eq(total, 3);
        cr_assert_eq(used, 3);
}

Test(meminfo, available_above_total_is_clamped)
{
        int64_t total, avail, used;

        cr_assert_eq(sl_sysinfo_parse_meminfo("MemTotal: 10 kB\nMemAvailable: 20 kB\n", &total,
                                              &avail, &used, errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(avail, total);
        cr_assert_eq(used, 0);
}

/* A fake /proc in a temporary directory. */
static char fake_dir[64];

static void write_file(const char *name, const char *text)
{
        char path[128];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
        cr_assert(fp = fopen(path, "w"));
        fputs(text, fp);
        fclose(fp);
}

static void fake_proc(void)
{
        snprintf(fake_dir, sizeof(fake_dir), "/tmp/sl-sysinfo-test.XXXXXX");
        cr_assert(mkdtemp(fake_dir));
        write_file("stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 1 1 1\ncpu1 1 1 1 1\n");
        write_file("loadavg", "1.00 0.50 0.25 2/100 42\n");
        write_file("meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
}

static void fake_proc_rm(void)
{
        char path[128];

        for (const char *const *n = (const char *const[]){"stat", "loadavg", "meminfo", NULL}; *n;
             n++) {
                snprintf(path, sizeof(path), "%s/%s", fake_dir, *n);
                unlink(path);
        }
        rmdir(fake_dir);
}

Test(reader, reads_fake_proc_and_cpu_delta, .init = fake_proc, .fini = fake_proc_rm)
{
        sl_sysinfo_t *si = sl_sysinfo_new(fake_dir, "/", errstr, sizeof(errstr));
        sl_usage_t u = {0};
        double pct[3];

        cr_assert(si, "%s", errstr);
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_float_eq(u.cpu_percent, 20.0, 1e-9, "since boot on the first read");
        cr_assert_eq(u.cpu_count, 2);
        cr_assert_float_eq(u.load1, 1.0, 1e-9);
        cr_assert_float_eq(u.load15, 0.25, 1e-9);
        cr_assert_eq(u.mem_total, 1000 * 1024);
        cr_assert_eq(u.mem_used, 750 * 1024);
        cr_assert_eq(u.mem_available, 250 * 1024);
        cr_assert_gt(u.disk_total, 0);
        cr_assert_leq(u.disk_used, u.disk_total);

        /* 100 more ticks, 50 busy. */
        write_file("stat", "cpu  150 0 100 850 0 0 0 0 0 0\ncpu0 1 1 1 1\ncpu1 1 1 1 1\n");
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_float_eq(u.cpu_percent, 50.0, 1e-9);
        sl_usage_percents(&u, pct);
        cr_assert_float_eq(pct[1], 75.0, 1e-9);

        /* A broken file: an error, and the usage is left as it was. */
        write_file("meminfo", "MemTot");
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_assert_eq(u.mem_used, 750 * 1024);
        write_file("meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
        unlink(strcat(strcpy((char[128]){0}, fake_dir), "/loadavg"));
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert(strstr(errstr, "loadavg"), "%s", errstr);
        sl_sysinfo_destroy(si);
}

Test(reader, real_proc)
{
        sl_sysinfo_t *si = sl_sysinfo_new(NULL, NULL, errstr, sizeof(errstr));
        sl_usage_t u = {0};

        cr_assert(si, "%s", errstr);
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_geq(u.cpu_count, 1);
        cr_assert(u.cpu_percent >= 0 && u.cpu_percent <= 100);
        cr_assert_gt(u.mem_total, 0);
        cr_assert_gt(u.disk_total, 0);
        cr_assert_eq(sl_sysinfo_read(si, &u, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        sl_sysinfo_destroy(si);
}

Test(reader, bad_disk_path)
{
        cr_assert_null(sl_sysinfo_new(NULL, "/nonexistent/dir", errstr, sizeof(errstr)));
        cr_assert(strstr(errstr, "/nonexistent/dir"), "%s", errstr);
        cr_assert_null(sl_sysinfo_new(NULL, "/etc/hostname", errstr, sizeof(errstr)));
        cr_assert(strstr(errstr, "not a directory"), "%s", errstr);
}

Test(host, hostname_and_addresses)
{
        char name[256];
        sl_event_t *ev = sl_event_new();

        cr_assert_eq(sl_sysinfo_hostname(name, sizeof(name), errstr, sizeof(errstr)), SL_OK);
        cr_assert_gt(strlen(name), 0);
        cr_assert_eq(sl_sysinfo_add_addresses(ev, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (size_t i = 0; i < ev->address_cnt; i++) {
                cr_assert_str_neq(ev->addresses[i], "127.0.0.1");
                cr_assert_str_neq(ev->addresses[i], "::1");
                cr_assert_neq(strncmp(ev->addresses[i], "fe80:", 5), 0);
                for (size_t j = 0; j < i; j++)
                        cr_assert_str_neq(ev->addresses[i], ev->addresses[j], "listed twice");
        }
        sl_event_destroy(ev);
}

Test(usage, threshold)
{
        double last[3] = {10, 50, 70};

        cr_assert_eq(sl_usage_moved(last, (double[3]){19.9, 50, 70}, 10), 0);
        cr_assert_eq(sl_usage_moved(last, (double[3]){20, 50, 70}, 10), 1);
        cr_assert_eq(sl_usage_moved(last, (double[3]){10, 40, 70}, 10), 1, "down counts too");
        cr_assert_eq(sl_usage_moved(last, (double[3]){10, 50, 80.5}, 10), 1);
        cr_assert_eq(sl_usage_moved(last, last, 0), 1, "threshold 0: every check");
        cr_assert_eq(sl_usage_moved(last, last, 100), 0);
}

Test(status_file, words)
{
        sl_node_status_t s = SL_STATUS_UNKNOWN;

        cr_assert_eq(sl_node_status_file_parse("", &s, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(s, SL_STATUS_UP);
        cr_assert_eq(sl_node_status_file_parse(NULL, &s, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(s, SL_STATUS_UP);
        cr_assert_eq(sl_node_status_file_parse("degraded\n", &s, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(s, SL_STATUS_DEGRADED);
        cr_assert_eq(
            sl_node_status_file_parse("  DRAINING since 10:00\n", &s, errstr, sizeof(errstr)),
            SL_OK);
        cr_assert_eq(s, SL_STATUS_DRAINING);
        cr_assert_eq(sl_node_status_file_parse("down", &s, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(s, SL_STATUS_DOWN);
        cr_assert_eq(
            sl_node_status_file_parse("Maintenance (kernel update)\n", &s, errstr, sizeof(errstr)),
            SL_OK);
        cr_assert_eq(s, SL_STATUS_MAINTENANCE);
        cr_assert_eq(sl_node_status_file_parse(" \n\t", &s, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(s, SL_STATUS_UP);
        cr_assert_eq(sl_node_status_file_parse("left", &s, errstr, sizeof(errstr)),
                     SL_ERR_BAD_ENUM);
        cr_assert_eq(sl_node_status_file_parse("upx", &s, errstr, sizeof(errstr)), SL_ERR_BAD_ENUM);
        cr_assert(strstr(errstr, "upx"), "%s", errstr);
        cr_assert_eq(s, SL_STATUS_UP, "unchanged on error");
}

Test(services, from_key_and_file)
{
        sl_event_t *ev = sl_event_new();

        cr_assert_eq(sl_node_services_parse(ev, " dns ; port=53 ;proto=udp, gateway,", ',', errstr,
                                            sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(ev->service_cnt, 2);
        cr_assert_str_eq(ev->services[0].name, "dns");
        cr_assert_eq(ev->services[0].meta_cnt, 2);
        cr_assert_str_eq(ev->services[0].meta[0].key, "port");
        cr_assert_str_eq(ev->services[0].meta[0].value, "53");
        cr_assert_str_eq(ev->services[0].meta[1].value, "udp");
        cr_assert_str_eq(ev->services[1].name, "gateway");
        cr_assert_eq(ev->services[1].meta_cnt, 0);

        cr_assert_eq(sl_node_services_parse(ev, "# comment\n\nauth;ip=10.0.0.1;url=a=b\nseer;\n",
                                            '\n', errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(ev->service_cnt, 4);
        cr_assert_str_eq(ev->services[2].meta[1].value, "a=b", "first '=' splits");
        cr_assert_eq(ev->services[3].meta_cnt, 0);
        sl_event_destroy(ev);
}

Test(services, errors)
{
        static const char *bad[] = {"a,a", ";k=v", "a;novalue", "a;=v", "a;k=1;k=2"};
        sl_event_t *ev = sl_event_new();

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                sl_event_reset(ev);
                cr_assert_eq(sl_node_services_parse(ev, bad[i], ',', errstr, sizeof(errstr)),
                             SL_ERR_BAD_VALUE, "case %zu: %s", i, bad[i]);
        }
        sl_event_destroy(ev);
}

Test(services, equal)
{
        sl_event_t *a = sl_event_new(), *b = sl_event_new();

        sl_node_services_parse(a, "x;k=v,y", ',', errstr, sizeof(errstr));
        sl_node_services_parse(b, "x;k=v\ny\n", '\n', errstr, sizeof(errstr));
        cr_assert(sl_node_services_equal(a, b));
        sl_event_reset(b);
        sl_node_services_parse(b, "x;k=w,y", ',', errstr, sizeof(errstr));
        cr_assert_not(sl_node_services_equal(a, b));
        sl_event_reset(b);
        sl_node_services_parse(b, "x;k=v", ',', errstr, sizeof(errstr));
        cr_assert_not(sl_node_services_equal(a, b));
        sl_event_destroy(a);
        sl_event_destroy(b);
}

Test(labels, parse)
{
        sl_event_t *ev = sl_event_new();

        cr_assert_eq(
            sl_node_labels_parse(ev, "rack=r1, zone = z2 ,,empty=", errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        cr_assert_eq(ev->label_cnt, 3);
        cr_assert_str_eq(ev->labels[1].key, "zone");
        cr_assert_str_eq(ev->labels[1].value, "z2");
        cr_assert_str_eq(ev->labels[2].value, "");
        sl_event_reset(ev);
        cr_assert_eq(sl_node_labels_parse(ev, "a=1,a=2", errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        sl_event_reset(ev);
        cr_assert_eq(sl_node_labels_parse(ev, "novalue", errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        sl_event_reset(ev);
        cr_assert_eq(sl_node_labels_parse(ev, "=v", errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        sl_event_destroy(ev);
}
