/* Unit tests of the bridge's inventory parser (cmd/bridge_inventory.h): a good file, each kind
 * of bad line named by file:line, duplicates, the probe URL forms, loading from disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "bridge_inventory.h"

#define TMPL "seerlog.state.{region}.{type}"

static char errstr[512];

static sl_inventory_t *parse_ok(const char *text)
{
        sl_inventory_t *inv = NULL;

        cr_assert_eq(
            sl_inventory_parse("fleet.txt", text, strlen(text), TMPL, &inv, errstr, sizeof(errstr)),
            SL_OK, "%s", errstr);
        cr_assert_not_null(inv);
        return inv;
}

/* Parses @p text, which must fail with SL_ERR_BAD_VALUE and an errstr starting with @p want. */
static void parse_bad(const char *text, const char *want)
{
        sl_inventory_t *inv = (sl_inventory_t *)1;

        cr_assert_eq(
            sl_inventory_parse("fleet.txt", text, strlen(text), TMPL, &inv, errstr, sizeof(errstr)),
            SL_ERR_BAD_VALUE, "accepted: %s", text);
        cr_assert_null(inv);
        cr_assert(!strncmp(errstr, want, strlen(want)), "errstr \"%s\" does not start with \"%s\"",
                  errstr, want);
}

Test(inventory, good_file)
{
        sl_inventory_t *inv = parse_ok("# the nodes that have no agent yet\n"
                                       "\n"
                                       "seer-eu-1  seer    eu-west  http://10.0.0.11:8080/healthz  "
                                       "rack=r1 team=core   # the first seer\n"
                                       "\ttns-eu-1\ttns\teu-west\ttcp://10.0.0.12:53\r\n"
                                       "   # an indented comment\n"
                                       "gw.us_1 gateway us-east https://gw-us-1.example/health "
                                       "zone= owner=ops\n"
                                       "v6 seer eu-west http://[::1]:9000 k=v=w\n"
                                       "last seer eu-west tcp://localhost:22/");
        const sl_inv_node_t *n;

        cr_assert_eq(inv->node_cnt, 5);
        /* Sorted by node id. */
        cr_assert_str_eq(inv->nodes[0].node_id, "gw.us_1");
        cr_assert_str_eq(inv->nodes[4].node_id, "v6");

        n = sl_inventory_find(inv, "seer-eu-1");
        cr_assert_not_null(n);
        cr_assert_str_eq(n->type, "seer");
        cr_assert_str_eq(n->region, "eu-west");
        cr_assert_str_eq(n->probe, "http://10.0.0.11:8080/healthz");
        cr_assert_eq(n->kind, SL_PROBE_HTTP);
        cr_assert_str_eq(n->host, "10.0.0.11");
        cr_assert_eq(n->port, 8080);
        cr_assert_eq(n->line, 3);
        cr_assert_eq(n->label_cnt, 2);
        cr_assert_str_eq(n->labels[0].key, "rack");
        cr_assert_str_eq(n->labels[0].value, "r1");
        cr_assert_str_eq(n->labels[1].key, "team");
        cr_assert_str_eq(n->labels[1].value, "core");

        n = sl_inventory_find(inv, "tns-eu-1");
        cr_assert_not_null(n);
        cr_assert_eq(n->kind, SL_PROBE_TCP);
        cr_assert_str_eq(n->host, "10.0.0.12");
        cr_assert_eq(n->port, 53);
        cr_assert_eq(n->label_cnt, 0);
        cr_assert_eq(n->line, 4);

        n = sl_inventory_find(inv, "gw.us_1");
        cr_assert_eq(n->port, 443);
        cr_assert_str_eq(n->host, "gw-us-1.example");
        cr_assert_str_eq(n->labels[0].key, "zone");
        cr_assert_str_eq(n->labels[0].value, "");

        n = sl_inventory_find(inv, "v6");
        cr_assert_str_eq(n->host, "::1");
        cr_assert_eq(n->port, 9000);
        cr_assert_str_eq(n->labels[0].key, "k");
        cr_assert_str_eq(n->labels[0].value, "v=w");

        n = sl_inventory_find(inv, "last");
        cr_assert_eq(n->line, 8);
        cr_assert_eq(n->port, 22);
        cr_assert_null(sl_inventory_find(inv, "nope"));
        sl_inventory_destroy(inv);
}

Test(inventory, empty_and_comment_only_files)
{
        sl_inventory_t *inv = parse_ok("");

        cr_assert_eq(inv->node_cnt, 0);
        cr_assert_null(sl_inventory_find(inv, "x"));
        sl_inventory_destroy(inv);
        inv = parse_ok("# nothing yet\n\n   \n\t# still nothing\n");
        cr_assert_eq(inv->node_cnt, 0);
        sl_inventory_destroy(inv);
}

Test(inventory, a_hash_inside_a_field_is_not_a_comment)
{
        sl_inventory_t *inv = parse_ok("n1 seer eu http://h/p#frag a=b#c\n");

        cr_assert_str_eq(inv->nodes[0].probe, "http://h/p#frag");
        cr_assert_str_eq(inv->nodes[0].labels[0].value, "b#c");
        sl_inventory_destroy(inv);
}

Test(inventory, too_few_fields)
{
        parse_bad(
            "ok seer eu tcp://h:1\nn1 seer eu-west\n",
            "fleet.txt:2: expected NODE_ID TYPE REGION PROBE [KEY=VALUE ...], found 3 fields");
        parse_bad("lonely\n", "fleet.txt:1: expected NODE_ID TYPE REGION PROBE");
        parse_bad("n1 seer eu # tcp://h:1\n", "fleet.txt:1: expected NODE_ID");
}

Test(inventory, bad_names)
{
        parse_bad("a/b seer eu tcp://h:1\n",
                  "fleet.txt:1: node id \"a/b\": character '/' at 1 is not allowed");
        parse_bad("n1 se:er eu tcp://h:1\n", "fleet.txt:1: type \"se:er\"");
        parse_bad("\n\nn1 seer .. tcp://h:1\n", "fleet.txt:3: region \"..\" is not allowed");
        {
                char line[512];

                memset(line, 'x', 129);
                snprintf(line + 129, sizeof(line) - 129, " seer eu tcp://h:1\n");
                parse_bad(line, "fleet.txt:1: node id \"xxxxxxxx");
        }
}

Test(inventory, the_topic_template_must_expand)
{
        char line[600];
        sl_inventory_t *inv = NULL;

        /* 128 + 128 + the template's 16 characters: longer than a topic name may be. */
        memset(line, 'r', 128);
        line[128] = ' ';
        memset(line + 129, 't', 128);
        snprintf(line + 257, sizeof(line) - 257, " tcp://h:1\n");
        /* n1 TYPE REGION: put the node id first. */
        {
                char full[700];

                snprintf(full, sizeof(full), "n1 %s", line);
                parse_bad(full, "fleet.txt:1: topic.template for region ");
                /* Without a template, the names alone decide. */
                cr_assert_eq(sl_inventory_parse("fleet.txt", full, strlen(full), NULL, &inv, errstr,
                                                sizeof(errstr)),
                             SL_OK, "%s", errstr);
                sl_inventory_destroy(inv);
        }
}

Test(inventory, bad_probes)
{
        parse_bad("n1 seer eu ftp://h/x\n",
                  "fleet.txt:1: probe \"ftp://h/x\": unknown scheme \"ftp\"");
        parse_bad("n1 seer eu 10.0.0.1:80\n", "fleet.txt:1: probe \"10.0.0.1:80\" is not a URL");
        parse_bad("n1 seer eu tcp://h\n", "fleet.txt:1: probe \"tcp://h\": tcp:// needs a port");
        parse_bad("n1 seer eu tcp://h:22/x\n", "fleet.txt:1: probe \"tcp://h:22/x\": a tcp:// "
                                               "probe has no path");
        parse_bad("n1 seer eu http://h:0/\n", "fleet.txt:1: probe \"http://h:0/\": port \"0\"");
        parse_bad("n1 seer eu http://h:65536/\n", "fleet.txt:1: probe \"http://h:65536/\": port");
        parse_bad("n1 seer eu http://h:8x/\n", "fleet.txt:1: probe \"http://h:8x/\": port \"8x\"");
        parse_bad("n1 seer eu http://h:/\n", "fleet.txt:1: probe \"http://h:/\": expected ':PORT'");
        parse_bad("n1 seer eu http:///x\n", "fleet.txt:1: probe \"http:///x\": no host");
        parse_bad("n1 seer eu http://a..b/\n",
                  "fleet.txt:1: probe \"http://a..b/\": \"a..b\" is not a host name");
        parse_bad("n1 seer eu http://h*st/\n", "fleet.txt:1: probe \"http://h*st/\": \"h*st\"");
        parse_bad("n1 seer eu http://[::g]:80/\n",
                  "fleet.txt:1: probe \"http://[::g]:80/\": \"::g\" is not an IPv6 address");
        parse_bad("n1 seer eu http://[::1/\n", "fleet.txt:1: probe \"http://[::1/\": '[' without");
        parse_bad("n1 seer eu http://user:pw@h/\n",
                  "fleet.txt:1: probe \"http://user:pw@h/\": credentials in the URL are not");
        parse_bad("n1 seer eu http://h/\xc3\xa9\n", "fleet.txt:1: probe \"http://h/");
}

Test(inventory, bad_labels)
{
        parse_bad("n1 seer eu tcp://h:1 rack\n",
                  "fleet.txt:1: \"rack\": expected a label KEY=VALUE");
        parse_bad("n1 seer eu tcp://h:1 =v\n", "fleet.txt:1: \"=v\": a label needs a key");
        parse_bad("n1 seer eu tcp://h:1 a=1 b=2 a=3\n", "fleet.txt:1: label \"a\" is given twice");
        parse_bad("n1 seer eu tcp://h:1 k=\xff\n", "fleet.txt:1: label \"k\" is not valid UTF-8");
        /* UTF-8 values are fine. */
        {
                sl_inventory_t *inv = parse_ok("n1 seer eu tcp://h:1 site=Z\xc3\xbcrich\n");

                cr_assert_str_eq(inv->nodes[0].labels[0].value, "Z\xc3\xbcrich");
                sl_inventory_destroy(inv);
        }
}

Test(inventory, control_characters)
{
        parse_bad("n1 seer eu tcp://h:1\nn2 se\x01r eu tcp://h:1\n",
                  "fleet.txt:2: control character 0x01 at column 6");
}

Test(inventory, duplicates_name_both_lines)
{
        parse_bad("a seer eu tcp://h:1\n"
                  "b seer eu tcp://h:2\n"
                  "# a comment\n"
                  "a tns eu tcp://h:3\n"
                  "b seer eu tcp://h:4\n",
                  "fleet.txt:4: node id \"a\" is already on line 1");
        /* The duplicate met first in the file is the one named, whatever the ids' order. */
        parse_bad("z seer eu tcp://h:1\n"
                  "a seer eu tcp://h:2\n"
                  "z seer eu tcp://h:3\n"
                  "a seer eu tcp://h:4\n"
                  "z seer eu tcp://h:5\n",
                  "fleet.txt:3: node id \"z\" is already on line 1");
}

Test(inventory, all_or_nothing_first_bad_line_wins)
{
        parse_bad("ok1 seer eu tcp://h:1\n"
                  "ok2 seer eu tcp://h:2\n"
                  "bad seer eu udp://h:3\n"
                  "worse\n",
                  "fleet.txt:3: probe \"udp://h:3\": unknown scheme \"udp\"");
}

Test(inventory, probe_url_parse)
{
        sl_probe_kind_t kind;
        char host[256];
        int port;

        cr_assert_eq(sl_probe_url_parse("HTTP://Example.COM", &kind, host, sizeof(host), &port,
                                        errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(kind, SL_PROBE_HTTP);
        cr_assert_str_eq(host, "Example.COM");
        cr_assert_eq(port, 80);
        cr_assert_eq(sl_probe_url_parse("http://h?x=1", &kind, host, sizeof(host), &port, errstr,
                                        sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(host, "h");
        cr_assert_eq(sl_probe_url_parse("tcp://[2001:db8::1]:443", &kind, host, sizeof(host), &port,
                                        errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(kind, SL_PROBE_TCP);
        cr_assert_str_eq(host, "2001:db8::1");
        cr_assert_eq(port, 443);
}

Test(inventory, load_from_a_file)
{
        char path[] = "/tmp/test-bridge-inventory.XXXXXX";
        int fd = mkstemp(path);
        sl_inventory_t *inv = NULL;
        const char *text = "n1 seer eu tcp://h:1\nn2 seer eu tcp://h:2\n";

        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        cr_assert_eq(sl_inventory_load(path, TMPL, &inv, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(inv->node_cnt, 2);
        cr_assert_str_eq(inv->name, path);
        sl_inventory_destroy(inv);

        /* A NUL byte is named by its line. */
        fd = open(path, O_WRONLY | O_TRUNC);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, "n1 seer eu tcp://h:1\nn2\0 x\n", 27), 27);
        close(fd);
        cr_assert_eq(sl_inventory_load(path, TMPL, &inv, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_assert_null(inv);
        cr_assert(strstr(errstr, ":2: a NUL byte"), "%s", errstr);
        unlink(path);

        cr_assert_eq(sl_inventory_load(path, TMPL, &inv, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert(strstr(errstr, "No such file or directory"), "%s", errstr);
}
