/*
 * seerlog snapshot export|import|info: the projector's store as an Avro Object Container File
 * (projector/sl_snapshot.h).
 */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sl_snapshot.h"
#include "sl_store.h"

static int sl_snapshot_run(sl_cli_t *cli);

static const sl_opt_t sl_snapshot_opts[] = {
    {"store", 0, "DIR", 0, "The projector's store directory (export, import)"},
    {"force", 0, NULL, 0, "import: merge into a store that already has nodes"},
    {0},
};

const sl_cmd_t sl_cmd_snapshot = {
    .name = "snapshot",
    .summary = "Export or import the projector's store as an Avro container file",
    .usage = "export FILE --store DIR | import FILE --store DIR [--force] | info FILE [options]",
    .description =
        "'seerlog snapshot export FILE --store DIR' writes every node's latest state and the\n"
        "Kafka offsets of the projector's store DIR to FILE; 'import' loads such a file into a\n"
        "new store, so a projector starts from it instead of replaying the whole log; 'info'\n"
        "prints a file's metadata as JSON. export opens the store read-only and reads one\n"
        "committed state of it, so a projector may keep running on it (a backup of a live\n"
        "store); import needs the store to itself (its lock refuses a running projector).\n"
        "export writes FILE.tmp, fsyncs it and renames it to FILE, and prints one line:\n"
        "  FILE: N nodes, N offsets, N bytes, hash HEX, S.SSS s\n"
        "\n"
        "FILE is an Avro Object Container File (codec null), readable by any Avro library. Each\n"
        "record is one node's latest NodeStateEvent ('seerlog schema' is the file's schema), in\n"
        "node id order. The file metadata also holds:\n"
        "  seerlog.offsets     JSON [{\"topic\":T,\"partition\":P,\"offset\":O},...]: next offset\n"
        "                      to read per partition\n"
        "  seerlog.nodes       the number of records\n"
        "  seerlog.hash        SHA-256 of the store's node states (as the projector computes it)\n"
        "  seerlog.created_ms  when the file was written, ms since the epoch\n"
        "import applies every record and the offsets in one store transaction and, into an empty\n"
        "store, checks the hash of the result against seerlog.hash before committing; a store\n"
        "with nodes is refused unless --force (the newer state of each node wins, offsets only\n"
        "move forward). import also reads files other writers made from these records (fastavro,\n"
        "Spark, ...), uncompressed or deflate, in any NodeStateEvent version seerlog can read.\n"
        "\n"
        "Reading a snapshot from Python (pip install fastavro):\n"
        "  import json, fastavro\n"
        "  with open('nodes.avro', 'rb') as f:\n"
        "      r = fastavro.reader(f)\n"
        "      offsets = json.loads(r.metadata['seerlog.offsets'])\n"
        "      for node in r: print(node['node_id'], node['status'], node['event_time'])\n",
    .opts = sl_snapshot_opts,
    .run = sl_snapshot_run,
    .max_args = 2,
};

/* Opens --store DIR, which must already hold a store (export and import never create one by a
 * typo, except import into a new directory). */
static int sl_snapshot_open(sl_cli_t *cli, int must_exist, sl_store_t **sp)
{
        const char *dir = sl_cli_str(cli, "store");
        char path[4096], errstr[512];
        struct stat st;
        int64_t max_bytes = sl_conf_get_int(sl_cli_conf(cli), "store.max.bytes");

        if (!dir || !*dir)
                dir = sl_conf_get(sl_cli_conf(cli), "store.dir");
        if (!dir || !*dir)
                return sl_cli_usage_error(cli, "missing --store DIR (or set store.dir)");
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        if (must_exist && stat(path, &st))
                return sl_cli_fail(cli, "no store in %s (%s: %s)", dir, path, strerror(errno));
        /* export: read-only, one committed state, beside a running projector. */
        if (must_exist) {
                if (sl_store_open_flags(dir, 1, SL_STORE_READONLY, sp, errstr, sizeof(errstr)) ||
                    sl_store_pin(*sp, errstr, sizeof(errstr))) {
                        sl_store_close(*sp);
                        *sp = NULL;
                        return sl_cli_fail(cli, "%s", errstr);
                }
                return SL_EXIT_OK;
        }
        if (sl_store_open(dir, max_bytes, sp, errstr, sizeof(errstr))) {
                if (strstr(errstr, "in use by another process"))
                        return sl_cli_fail(cli,
                                           "%s; a snapshot needs the store to itself: stop the "
                                           "projector that runs on it first",
                                           errstr);
                return sl_cli_fail(cli, "%s", errstr);
        }
        return SL_EXIT_OK;
}

static void sl_snapshot_summary(const char *what, const char *file, const sl_snapshot_info_t *info,
                                int64_t start_ms)
{
        int64_t ms = sl_cli_now_mono_ms() - start_ms;

        printf("%s%s: %" PRId64 " nodes, %zu offsets, %" PRId64 " bytes, hash %s, %" PRId64
               ".%03" PRId64 " s\n",
               what, file, info->nodes, info->offset_cnt, info->bytes, info->hash, ms / 1000,
               ms % 1000);
}

static int sl_snapshot_export_run(sl_cli_t *cli, const char *file)
{
        sl_snapshot_info_t info = {0};
        sl_store_t *s = NULL;
        int64_t start = sl_cli_now_mono_ms();
        char errstr[512];
        int ret;

        if ((ret = sl_snapshot_open(cli, 1, &s)))
                return ret;
        if (sl_snapshot_export(s, file, &info, errstr, sizeof(errstr)))
                ret = sl_cli_fail(cli, "export: %s", errstr);
        else
                sl_snapshot_summary("", file, &info, start);
        sl_snapshot_info_clear(&info);
        sl_store_close(s);
        return ret;
}

static int sl_snapshot_import_run(sl_cli_t *cli, const char *file)
{
        sl_snapshot_info_t info = {0};
        sl_store_t *s = NULL;
        int64_t start = sl_cli_now_mono_ms();
        int flags = sl_cli_count(cli, "force") ? SL_SNAPSHOT_FORCE : 0;
        char errstr[512];
        int ret;

        if ((ret = sl_snapshot_open(cli, 0, &s)))
                return ret;
        if (sl_snapshot_import_flags(file, s, flags, &info, errstr, sizeof(errstr)))
                ret = sl_cli_fail(cli, "import: %s", errstr);
        else if (sl_store_hash(s, info.hash, errstr, sizeof(errstr)))
                ret = sl_cli_fail(cli, "import: %s", errstr);
        else
                sl_snapshot_summary("imported ", file, &info, start);
        sl_snapshot_info_clear(&info);
        sl_store_close(s);
        return ret;
}

/* "namespace.name" of the schema text, or NULL. */
static json_t *sl_snapshot_schema_name(const char *text)
{
        json_t *root = json_loads(text, 0, NULL), *name = NULL;
        const char *ns, *n;

        if (root && (n = json_string_value(json_object_get(root, "name")))) {
                ns = json_string_value(json_object_get(root, "namespace"));
                name =
                    (ns && *ns && !strchr(n, '.')) ? json_sprintf("%s.%s", ns, n) : json_string(n);
        }
        json_decref(root);
        return name ? name : json_null();
}

static int sl_snapshot_info_run(sl_cli_t *cli, const char *file)
{
        sl_snapshot_info_t info = {0};
        json_t *obj = NULL, *offsets;
        char errstr[512], *text = NULL;
        int ret = SL_EXIT_OK;

        if (sl_snapshot_read_info(file, &info, errstr, sizeof(errstr)))
                return sl_cli_fail(cli, "info: %s", errstr);
        if (!(offsets = json_array()) ||
            !(obj = json_pack("{s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "file", file, "bytes",
                              (json_int_t)info.bytes, "codec", info.codec, "schema",
                              sl_snapshot_schema_name(info.schema), "nodes",
                              info.nodes >= 0 ? json_integer(info.nodes) : json_null(), "hash",
                              info.hash[0] ? json_string(info.hash) : json_null(), "created_ms",
                              info.created_ms >= 0 ? json_integer(info.created_ms) : json_null(),
                              "offsets", json_incref(offsets)))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < info.offset_cnt; i++)
                if (json_array_append_new(
                        offsets, json_pack("{s:s, s:i, s:I}", "topic", info.offsets[i].topic,
                                           "partition", (int)info.offsets[i].partition, "offset",
                                           (json_int_t)info.offsets[i].offset))) {
                        ret = sl_cli_fail(cli, "out of memory");
                        goto done;
                }
        if (!(text = json_dumps(obj, JSON_INDENT(2))) || puts(text) == EOF || fflush(stdout))
                ret = sl_cli_fail(cli, "writing to stdout: %s", strerror(errno));
done:
        free(text);
        json_decref(offsets);
        json_decref(obj);
        sl_snapshot_info_clear(&info);
        return ret;
}

static int sl_snapshot_run(sl_cli_t *cli)
{
        const char *verb = sl_cli_argc(cli) > 0 ? sl_cli_arg(cli, 0) : NULL;
        const char *file = sl_cli_argc(cli) > 1 ? sl_cli_arg(cli, 1) : NULL;

        if (!verb || (strcmp(verb, "export") && strcmp(verb, "import") && strcmp(verb, "info")))
                return sl_cli_usage_error(cli, "expected 'seerlog snapshot export|import|info "
                                               "FILE ...'");
        if (!file || !*file)
                return sl_cli_usage_error(cli, "snapshot %s: missing FILE", verb);
        if (!strcmp(verb, "info")) {
                if (sl_cli_str(cli, "store") || sl_cli_count(cli, "force"))
                        return sl_cli_usage_error(cli, "snapshot info takes no --store or --force");
                return sl_snapshot_info_run(cli, file);
        }
        if (!strcmp(verb, "export")) {
                if (sl_cli_count(cli, "force"))
                        return sl_cli_usage_error(cli, "--force is for import only");
                return sl_snapshot_export_run(cli, file);
        }
        return sl_snapshot_import_run(cli, file);
}
