/*
 * Snapshots of the store as Avro Object Container Files (sl_snapshot.h).
 *
 * Written with sl_ocf.h rather than Avro C's file writer, which cannot add metadata of its own
 * (seerlog.offsets, seerlog.hash, ...). The record bodies come from the store's node states
 * re-encoded with the library's codec (the same canonical bytes the store holds).
 *
 * Reading: OCF blocks are records laid end to end without lengths, while sl_codec_decode() wants
 * exactly one record. So the file's writer schema is parsed into sl_schema's tree and each record
 * is first skipped over along it (bounded by the block, with a nesting limit) to find where it
 * ends; that slice, behind a wire header for the id the file's schema got in the codec, is then
 * decoded by name like any record from Kafka.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "sl_fs.h"
#include "sl_ocf.h"
#include "sl_schema.h"
#include "sl_schema_tree.h"
#include "sl_snapshot.h"

#define SL_OCF_MAGIC "Obj\x01"

/* The import codec: the library's own schema under 1, the file's schema under 2. */
#define SL_SNAP_OWN_ID  1
#define SL_SNAP_FILE_ID 2

/* The most one deflate block may inflate to (against compression bombs). */
#define SL_SNAP_MAX_INFLATED (256 << 20)

/* How deeply a record's values may nest while it is skipped over. */
#define SL_SNAP_MAX_DEPTH 100

/* u8 version, i64 incarnation, i64 seq, i64 event_time_ms: sl_store.h's "nodes" layout. */
#define SL_SNAP_NODE_HDR 25

void sl_snapshot_info_clear(sl_snapshot_info_t *info)
{
        if (!info)
                return;
        for (size_t i = 0; i < info->offset_cnt; i++)
                free(info->offsets[i].topic);
        free(info->offsets);
        free(info->schema);
        memset(info, 0, sizeof(*info));
}

static void sl_snap_info_init(sl_snapshot_info_t *info)
{
        memset(info, 0, sizeof(*info));
        info->nodes = -1;
        info->created_ms = -1;
}

static int64_t sl_snap_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Export ---- */

typedef struct {
        const char *name; /* the output, for messages */
        sl_ocf_writer_t *ocf;
        sl_codec_t *codec;
        sl_buf_t enc; /* one record, wire format */
        char *errstr;
        size_t errstr_size;
} sl_snap_writer_t;

static int sl_snap_walk_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        sl_snap_writer_t *w = opaque;
        char detail[512];
        sl_err_t err;

        if ((err = sl_codec_encode(w->codec, ev, &w->enc, w->errstr, w->errstr_size)))
                return (int)err;
        if ((err = sl_ocf_append(w->ocf, w->enc.data + SL_WIRE_HEADER_SIZE,
                                 w->enc.len - SL_WIRE_HEADER_SIZE, detail, sizeof(detail))) ||
            (err = sl_ocf_record_end(w->ocf, detail, sizeof(detail))))
                return (int)sl_seterr(w->errstr, w->errstr_size, err, "%s: %s", w->name, detail);
        return 0;
}

/* Appends one stored offset to the info's array. */
static int sl_snap_offset_cb(const char *topic, int32_t partition, int64_t next_offset,
                             void *opaque)
{
        sl_snapshot_info_t *info = opaque;
        sl_snapshot_offset_t *tmp;

        if (!(tmp = realloc(info->offsets, (info->offset_cnt + 1) * sizeof(*tmp))))
                return SL_ERR_NOMEM;
        info->offsets = tmp;
        if (!(tmp[info->offset_cnt].topic = strdup(topic)))
                return SL_ERR_NOMEM;
        tmp[info->offset_cnt].partition = partition;
        tmp[info->offset_cnt].offset = next_offset;
        info->offset_cnt++;
        return 0;
}

/* The offsets as seerlog.offsets JSON (malloc()ed), or NULL when out of memory. */
static char *sl_snap_offsets_json(const sl_snapshot_info_t *info)
{
        json_t *arr = json_array();
        char *text = NULL;

        if (!arr)
                return NULL;
        for (size_t i = 0; i < info->offset_cnt; i++) {
                const sl_snapshot_offset_t *o = &info->offsets[i];
                json_t *obj = json_pack("{s:s, s:I, s:I}", "topic", o->topic, "partition",
                                        (json_int_t)o->partition, "offset", (json_int_t)o->offset);

                if (!obj || json_array_append_new(arr, obj))
                        goto done;
        }
        text = json_dumps(arr, JSON_COMPACT);
done:
        json_decref(arr);
        return text;
}

/* fsync()s the directory that holds @p path, so a rename in it is durable. */
static sl_err_t sl_snap_sync_dir(const char *path, char *errstr, size_t errstr_size)
{
        const char *slash = strrchr(path, '/');
        char *dir;
        int fd;
        sl_err_t err = SL_OK;

        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t)(slash - path));
        if (!dir)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(fd))
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "syncing directory %s: %s", dir,
                                strerror(errno));
        if (fd >= 0)
                close(fd);
        free(dir);
        return err;
}

sl_err_t sl_snapshot_write(sl_store_t *s, int fd, const char *name, sl_snapshot_info_t *info,
                           char *errstr, size_t errstr_size)
{
        sl_snap_writer_t w = {.name = name, .errstr = errstr, .errstr_size = errstr_size};
        sl_snapshot_info_t mine;
        sl_store_reader_t *rd = NULL;
        char *offsets = NULL, num[32], created[32], detail[512];
        int64_t nodes;
        sl_err_t err;

        sl_snap_info_init(&mine);
        if (!(mine.schema = strdup(sl_event_schema_text()))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        snprintf(mine.codec, sizeof(mine.codec), "null");
        mine.created_ms = sl_snap_now_ms();

        /* One view of the store for the header and the records: a writer may go on committing. */
        if (!(rd = sl_store_reader_new(s, errstr, errstr_size))) {
                err = SL_ERR_NOMEM;
                goto done;
        }
        if ((err = sl_store_reader_pin(rd, errstr, errstr_size)))
                goto done;
        nodes = (int64_t)sl_store_reader_count(rd);

        /* Everything the header needs first: it precedes the records. */
        if ((err = sl_store_reader_hash(rd, mine.hash, errstr, errstr_size)))
                goto done;
        err = sl_store_reader_offsets(rd, sl_snap_offset_cb, &mine, errstr, errstr_size);
        if (err == SL_ERR_NOMEM)
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (err)
                goto done;
        if (!(offsets = sl_snap_offsets_json(&mine))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        if (!(w.codec = sl_codec_new(SL_SNAP_OWN_ID, errstr, errstr_size))) {
                err = SL_ERR_SCHEMA;
                goto done;
        }
        snprintf(num, sizeof(num), "%" PRId64, nodes);
        snprintf(created, sizeof(created), "%" PRId64, mine.created_ms);
        {
                const char *meta[] = {"seerlog.offsets",
                                      offsets,
                                      "seerlog.nodes",
                                      num,
                                      "seerlog.hash",
                                      mine.hash,
                                      "seerlog.created_ms",
                                      created,
                                      NULL};

                if ((err = sl_ocf_writer_new(fd, mine.schema, SL_OCF_CODEC_NULL, meta,
                                             SL_SNAPSHOT_BLOCK_RECORDS, SL_SNAPSHOT_BLOCK_BYTES,
                                             &w.ocf, detail, sizeof(detail)))) {
                        err = sl_seterr(errstr, errstr_size, err, "%s: %s", name, detail);
                        goto done;
                }
        }
        if ((err = sl_store_reader_walk(rd, NULL, sl_snap_walk_cb, &w, errstr, errstr_size)))
                goto done;
        if ((err = sl_ocf_flush(w.ocf, detail, sizeof(detail)))) {
                err = sl_seterr(errstr, errstr_size, err, "%s: %s", name, detail);
                goto done;
        }
        if (sl_ocf_records(w.ocf) != nodes) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                "store %s: walked %" PRId64 " nodes but counted %" PRId64,
                                sl_store_dir(s), sl_ocf_records(w.ocf), nodes);
                goto done;
        }
        mine.nodes = sl_ocf_records(w.ocf);
        mine.bytes = sl_ocf_bytes(w.ocf);

done:
        if (info && !err)
                *info = mine;
        else
                sl_snapshot_info_clear(&mine);
        sl_store_reader_free(rd);
        sl_ocf_writer_free(w.ocf);
        sl_codec_destroy(w.codec);
        sl_buf_free(&w.enc);
        free(offsets);
        return err;
}

sl_err_t sl_snapshot_export(sl_store_t *s, const char *path, sl_snapshot_info_t *info, char *errstr,
                            size_t errstr_size)
{
        char *tmp = NULL;
        size_t plen;
        int made_tmp = 0, wrote = 0, fd = -1;
        sl_err_t err;

        if (!path || !*path)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "snapshot: a file name is required");
        plen = strlen(path);
        if (!(tmp = malloc(plen + 5)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".tmp", 5);
        if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "creating %s: %s", tmp,
                                strerror(errno));
                goto fail;
        }
        made_tmp = 1;
        if ((err = sl_snapshot_write(s, fd, tmp, info, errstr, errstr_size)))
                goto fail;
        wrote = 1;
        if (fsync(fd)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "syncing %s: %s", tmp,
                                strerror(errno));
                goto fail;
        }
        if (close(fd)) {
                fd = -1;
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "closing %s: %s", tmp,
                                strerror(errno));
                goto fail;
        }
        fd = -1;
        if (rename(tmp, path)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "renaming %s to %s: %s", tmp, path,
                                strerror(errno));
                goto fail;
        }
        free(tmp);
        /* The file is complete under its name; a failed directory sync only risks losing the
         * rename in a crash, which is reported but leaves nothing to clean up. */
        if ((err = sl_snap_sync_dir(path, errstr, errstr_size)))
                sl_snapshot_info_clear(info);
        return err;

fail:
        if (wrote)
                sl_snapshot_info_clear(info);
        if (fd >= 0)
                close(fd);
        if (made_tmp)
                unlink(tmp);
        free(tmp);
        return err;
}

/* ---- Reading ---- */

typedef struct {
        const char *path;
        const uint8_t *p; /* the mapped file */
        size_t size;
        size_t off;
        uint8_t sync[SL_OCF_SYNC_SIZE];
        int deflate; /* avro.codec is "deflate" */
        char *errstr;
        size_t errstr_size;
} sl_snap_reader_t;

/* Reads an Avro long at *offp of p[0..size); no errstr, the caller names the place. */
static sl_err_t sl_avro_long(const uint8_t *p, size_t size, size_t *offp, int64_t *vp)
{
        uint64_t z = 0;
        size_t off = *offp;

        for (int i = 0; i < 10; i++) {
                uint8_t b;

                if (off >= size)
                        return SL_ERR_TRUNCATED;
                b = p[off++];
                if (i == 9 && b > 1)
                        return SL_ERR_BAD_VARINT;
                z |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *vp = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                        *offp = off;
                        return SL_OK;
                }
        }
        return SL_ERR_BAD_VARINT;
}

static sl_err_t sl_snap_long(sl_snap_reader_t *r, const char *what, int64_t *vp)
{
        size_t at = r->off;
        sl_err_t err = sl_avro_long(r->p, r->size, &r->off, vp);

        if (err == SL_ERR_TRUNCATED)
                return sl_seterr(r->errstr, r->errstr_size, err,
                                 "%s: truncated: the file ends in %s at byte %zu", r->path, what,
                                 at);
        if (err)
                return sl_seterr(r->errstr, r->errstr_size, err, "%s: bad varint in %s at byte %zu",
                                 r->path, what, at);
        return SL_OK;
}

/* A length-prefixed string or bytes value: points into the file. */
static sl_err_t sl_snap_bytes(sl_snap_reader_t *r, const char *what, const uint8_t **datap,
                              size_t *lenp)
{
        size_t at = r->off;
        int64_t len;
        sl_err_t err;

        if ((err = sl_snap_long(r, what, &len)))
                return err;
        if (len < 0)
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                 "%s: negative length %" PRId64 " of %s at byte %zu", r->path, len,
                                 what, at);
        if ((uint64_t)len > r->size - r->off)
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_TRUNCATED,
                                 "%s: truncated: %s at byte %zu is %" PRId64 " bytes, %zu are left",
                                 r->path, what, at, len, r->size - r->off);
        *datap = r->p + r->off;
        *lenp = (size_t)len;
        r->off += (size_t)len;
        return SL_OK;
}

/* A NUL-terminated copy of a metadata value (which must hold no NUL). */
static sl_err_t sl_snap_text(sl_snap_reader_t *r, const char *key, const uint8_t *v, size_t len,
                             char **textp)
{
        if (memchr(v, 0, len))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                 "%s: metadata %s holds a NUL byte", r->path, key);
        if (!(*textp = strndup((const char *)v, len)))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}

/* A decimal metadata value >= 0. */
static sl_err_t sl_snap_decimal(sl_snap_reader_t *r, const char *key, const char *text, int64_t *vp)
{
        int64_t v = 0;

        if (!*text || strlen(text) > 19)
                goto bad;
        for (const char *c = text; *c; c++) {
                if (*c < '0' || *c > '9' || v > (INT64_MAX - (*c - '0')) / 10)
                        goto bad;
                v = v * 10 + (*c - '0');
        }
        *vp = v;
        return SL_OK;
bad:
        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                         "%s: metadata %s is not a decimal number >= 0: \"%.40s\"", r->path, key,
                         text);
}

static sl_err_t sl_snap_parse_offsets(sl_snap_reader_t *r, const char *text,
                                      sl_snapshot_info_t *info)
{
        json_error_t jerr;
        json_t *arr = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *obj;
        sl_err_t err = SL_OK;
        size_t i;

        if (!arr) {
                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                "%s: metadata seerlog.offsets is not JSON: %s (at %d:%d)", r->path,
                                jerr.text, jerr.line, jerr.column);
                goto done;
        }
        if (!json_is_array(arr)) {
                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                "%s: metadata seerlog.offsets is not a JSON array", r->path);
                goto done;
        }
        if (json_array_size(arr) &&
            !(info->offsets = calloc(json_array_size(arr), sizeof(*info->offsets)))) {
                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        json_array_foreach(arr, i, obj)
        {
                json_t *topic = json_object_get(obj, "topic");
                json_t *part = json_object_get(obj, "partition");
                json_t *off = json_object_get(obj, "offset");
                sl_snapshot_offset_t *o = &info->offsets[i];

                if (!json_is_object(obj) || json_object_size(obj) != 3 || !json_is_string(topic) ||
                    !json_string_length(topic) ||
                    strlen(json_string_value(topic)) != json_string_length(topic) ||
                    !json_is_integer(part) || json_integer_value(part) < 0 ||
                    json_integer_value(part) > INT32_MAX || !json_is_integer(off) ||
                    json_integer_value(off) < 0) {
                        err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                        "%s: metadata seerlog.offsets: entry %zu is not "
                                        "{\"topic\": non-empty string, \"partition\": int >= 0, "
                                        "\"offset\": int >= 0}",
                                        r->path, i);
                        goto done;
                }
                if (!(o->topic = strdup(json_string_value(topic)))) {
                        err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                o->partition = (int32_t)json_integer_value(part);
                o->offset = (int64_t)json_integer_value(off);
                info->offset_cnt++;
        }
done:
        json_decref(arr);
        return err;
}

/*
 * Parses the magic, the metadata and the sync marker into @p info (initialised here) and
 * r->sync; r->off is left at the first block.
 */
static sl_err_t sl_snap_read_header(sl_snap_reader_t *r, sl_snapshot_info_t *info)
{
        char *codec = NULL, *offsets = NULL, *nodes = NULL, *hash = NULL, *created = NULL;
        sl_err_t err = SL_OK;

        sl_snap_info_init(info);
        info->bytes = (int64_t)r->size;
        r->off = 0;
        if (r->size < 4 || memcmp(r->p, SL_OCF_MAGIC, 4)) {
                if (r->size < 4 && !memcmp(r->p, SL_OCF_MAGIC, r->size))
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_TRUNCATED,
                                         "%s: truncated: %zu bytes, not even the magic", r->path,
                                         r->size);
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_MAGIC,
                                 "%s: not an Avro object container file (no \"Obj\\x01\" magic)",
                                 r->path);
        }
        r->off = 4;
        for (;;) {
                size_t at = r->off;
                int64_t cnt, size;

                if ((err = sl_snap_long(r, "the metadata", &cnt)))
                        goto done;
                if (!cnt)
                        break;
                if (cnt < 0) { /* a block with its byte size, which we do not need */
                        if (cnt == INT64_MIN) {
                                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                                "%s: bad metadata count at byte %zu", r->path, at);
                                goto done;
                        }
                        cnt = -cnt;
                        if ((err = sl_snap_long(r, "the metadata", &size)))
                                goto done;
                }
                if ((uint64_t)cnt > (r->size - r->off) / 2) {
                        err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                        "%s: metadata count %" PRId64
                                        " at byte %zu is beyond the file",
                                        r->path, cnt, at);
                        goto done;
                }
                for (int64_t i = 0; i < cnt; i++) {
                        const uint8_t *k, *v;
                        size_t klen, vlen;
                        char **slot = NULL;
                        char key[64];

                        if ((err = sl_snap_bytes(r, "a metadata key", &k, &klen)) ||
                            (err = sl_snap_bytes(r, "a metadata value", &v, &vlen)))
                                goto done;
                        snprintf(key, sizeof(key), "%.*s", (int)(klen < 40 ? klen : 40),
                                 (const char *)k);
#define SL_KEY_IS(name) (klen == sizeof(name) - 1 && !memcmp(k, name, klen))
                        if (SL_KEY_IS("avro.schema"))
                                slot = &info->schema;
                        else if (SL_KEY_IS("avro.codec"))
                                slot = &codec;
                        else if (SL_KEY_IS("seerlog.offsets"))
                                slot = &offsets;
                        else if (SL_KEY_IS("seerlog.nodes"))
                                slot = &nodes;
                        else if (SL_KEY_IS("seerlog.hash"))
                                slot = &hash;
                        else if (SL_KEY_IS("seerlog.created_ms"))
                                slot = &created;
#undef SL_KEY_IS
                        if (!slot)
                                continue; /* another writer's key */
                        if (*slot) {
                                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                                "%s: metadata key %s appears twice", r->path, key);
                                goto done;
                        }
                        if ((err = sl_snap_text(r, key, v, vlen, slot)))
                                goto done;
                }
        }
        if (r->size - r->off < SL_OCF_SYNC_SIZE) {
                err =
                    sl_seterr(r->errstr, r->errstr_size, SL_ERR_TRUNCATED,
                              "%s: truncated: the file ends in the header's sync marker", r->path);
                goto done;
        }
        memcpy(r->sync, r->p + r->off, SL_OCF_SYNC_SIZE);
        r->off += SL_OCF_SYNC_SIZE;

        if (!info->schema) {
                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_SCHEMA,
                                "%s: no avro.schema in the metadata", r->path);
                goto done;
        }
        if (codec && strcmp(codec, "null") && strcmp(codec, "deflate")) {
                err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                "%s: unsupported avro.codec \"%.40s\" (null and deflate are read)",
                                r->path, codec);
                goto done;
        }
        r->deflate = codec && !strcmp(codec, "deflate");
        snprintf(info->codec, sizeof(info->codec), "%s", r->deflate ? "deflate" : "null");
        if (nodes && (err = sl_snap_decimal(r, "seerlog.nodes", nodes, &info->nodes)))
                goto done;
        if (created && (err = sl_snap_decimal(r, "seerlog.created_ms", created, &info->created_ms)))
                goto done;
        if (hash) {
                size_t n = strlen(hash);

                if (n != SL_STORE_HASH_HEX_SIZE - 1 || strspn(hash, "0123456789abcdef") != n) {
                        err = sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                        "%s: metadata seerlog.hash is not 64 lowercase hex digits",
                                        r->path);
                        goto done;
                }
                memcpy(info->hash, hash, n + 1);
        }
        if (offsets && (err = sl_snap_parse_offsets(r, offsets, info)))
                goto done;

done:
        free(codec);
        free(offsets);
        free(nodes);
        free(hash);
        free(created);
        if (err)
                sl_snapshot_info_clear(info);
        return err;
}

/* Maps @p path read-only into @p r. */
static sl_err_t sl_snap_map(sl_snap_reader_t *r, const char *path, char *errstr, size_t errstr_size)
{
        struct stat st;
        int fd;
        void *p;

        memset(r, 0, sizeof(*r));
        r->path = path;
        r->errstr = errstr;
        r->errstr_size = errstr_size;
        if (!path || !*path)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "snapshot: a file name is required");
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return sl_seterr(errstr, errstr_size,
                                 errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO, "%s: %s", path,
                                 strerror(errno));
        if (fstat(fd, &st)) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
                close(fd);
                return SL_ERR_IO;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s: not a regular file",
                                 path);
        }
        if (st.st_size == 0) {
                close(fd);
                r->p = (const uint8_t *)"";
                return SL_OK; /* refused by the magic check, with the usual message */
        }
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: mmap: %s", path,
                                 strerror(errno));
        r->p = p;
        r->size = (size_t)st.st_size;
        return SL_OK;
}

static void sl_snap_unmap(sl_snap_reader_t *r)
{
        if (r->size)
                munmap((void *)r->p, r->size);
        r->size = 0;
}

sl_err_t sl_snapshot_read_info(const char *path, sl_snapshot_info_t *info, char *errstr,
                               size_t errstr_size)
{
        sl_snap_reader_t r;
        sl_err_t err;

        sl_snap_info_init(info);
        if ((err = sl_snap_map(&r, path, errstr, errstr_size)))
                return err;
        err = sl_snap_read_header(&r, info);
        sl_snap_unmap(&r);
        return err;
}

/* Skips a map key (an Avro string). */
static sl_err_t sl_avro_skip_string(const uint8_t *p, size_t size, size_t *offp, const char **whyp)
{
        int64_t len;
        sl_err_t err;

        if ((err = sl_avro_long(p, size, offp, &len))) {
                *whyp = "a map key";
                return err;
        }
        if (len < 0 || (uint64_t)len > size - *offp) {
                *whyp = "a map key";
                return len < 0 ? SL_ERR_BAD_LENGTH : SL_ERR_TRUNCATED;
        }
        *offp += (size_t)len;
        return SL_OK;
}

/*
 * Skips one value of type @p n at *offp of p[0..size). @returns SL_OK with *offp past it, or
 * an error code with a short reason in *whyp.
 */
static sl_err_t sl_avro_skip(const sl_snode_t *n, const uint8_t *p, size_t size, size_t *offp,
                             int depth, const char **whyp)
{
        int64_t v, cnt, len;
        sl_err_t err;

        if (depth > SL_SNAP_MAX_DEPTH) {
                *whyp = "values nest too deeply";
                return SL_ERR_BAD_LENGTH;
        }
        switch (n->type) {
        case SL_SN_NULL:
                return SL_OK;
        case SL_SN_BOOLEAN:
                len = 1;
                goto fixed;
        case SL_SN_FLOAT:
                len = 4;
                goto fixed;
        case SL_SN_DOUBLE:
                len = 8;
                goto fixed;
        case SL_SN_FIXED:
                len = (int64_t)n->size;
                goto fixed;
        case SL_SN_INT:
        case SL_SN_LONG:
        case SL_SN_ENUM:
                if ((err = sl_avro_long(p, size, offp, &v)))
                        *whyp = "a number";
                else if (n->type == SL_SN_INT && (v < INT32_MIN || v > INT32_MAX)) {
                        *whyp = "an int out of range";
                        err = SL_ERR_BAD_VARINT;
                } else if (n->type == SL_SN_ENUM && (v < 0 || (uint64_t)v >= n->symbol_cnt)) {
                        *whyp = "an enum index";
                        err = SL_ERR_BAD_ENUM;
                }
                return err;
        case SL_SN_BYTES:
        case SL_SN_STRING:
                if ((err = sl_avro_long(p, size, offp, &len))) {
                        *whyp = "a length";
                        return err;
                }
                goto fixed;
        case SL_SN_RECORD:
                for (size_t i = 0; i < n->field_cnt; i++)
                        if ((err = sl_avro_skip(n->fields[i].type, p, size, offp, depth + 1, whyp)))
                                return err;
                return SL_OK;
        case SL_SN_UNION:
                if ((err = sl_avro_long(p, size, offp, &v))) {
                        *whyp = "a union index";
                        return err;
                }
                if (v < 0 || (uint64_t)v >= n->branch_cnt) {
                        *whyp = "a union index";
                        return SL_ERR_BAD_ENUM;
                }
                return sl_avro_skip(n->branches[v], p, size, offp, depth + 1, whyp);
        case SL_SN_ARRAY:
        case SL_SN_MAP:
                for (;;) {
                        if ((err = sl_avro_long(p, size, offp, &cnt))) {
                                *whyp = "a block count";
                                return err;
                        }
                        if (!cnt)
                                return SL_OK;
                        if (cnt < 0) { /* the block's byte size follows: skip it whole */
                                if (cnt == INT64_MIN || (err = sl_avro_long(p, size, offp, &len))) {
                                        *whyp = "a block size";
                                        return err ? err : SL_ERR_BAD_LENGTH;
                                }
                                if (len < 0 || (uint64_t)len > size - *offp) {
                                        *whyp = "a block size";
                                        return SL_ERR_BAD_LENGTH;
                                }
                                *offp += (size_t)len;
                                continue;
                        }
                        /* Every item takes a byte at least, except nulls, which no NodeStateEvent
                         * collection holds: a larger count is a lie, not a long loop. */
                        if ((uint64_t)cnt > size - *offp) {
                                *whyp = "a block count";
                                return SL_ERR_BAD_LENGTH;
                        }
                        for (int64_t i = 0; i < cnt; i++) {
                                if (n->type == SL_SN_MAP &&
                                    (err = sl_avro_skip_string(p, size, offp, whyp)))
                                        return err;
                                if ((err = sl_avro_skip(n->items, p, size, offp, depth + 1, whyp)))
                                        return err;
                        }
                }
        }
        *whyp = "an unknown type";
        return SL_ERR_SCHEMA;

fixed:
        if (len < 0) {
                *whyp = "a negative length";
                return SL_ERR_BAD_LENGTH;
        }
        if ((uint64_t)len > size - *offp) {
                *whyp = "a value past the end of the block";
                return SL_ERR_TRUNCATED;
        }
        *offp += (size_t)len;
        return SL_OK;
}

/* ---- Import ---- */

typedef struct {
        sl_snap_reader_t *r;
        sl_store_txn_t *txn;
        sl_codec_t *codec;
        const sl_snode_t *top; /* the file's schema */
        sl_event_t *ev;
        sl_buf_t dec;      /* wire header + one record */
        sl_buf_t enc;      /* the record re-encoded as the store holds it (hash check) */
        sl_buf_t prev;     /* the previous record's node id (order check) */
        sl_buf_t inflated; /* the current block, inflated (deflate codec) */
        EVP_MD_CTX *md;    /* NULL unless the hash is checked */
        int64_t records;
} sl_snap_import_t;

/* Feeds one node, as sl_store_hash() sees it, into the digest; checks the order first. */
static sl_err_t sl_snap_hash_node(sl_snap_import_t *im, const char *where)
{
        sl_snap_reader_t *r = im->r;
        const sl_event_t *ev = im->ev;
        size_t klen = strlen(ev->node_id), body_len, n;
        uint8_t lens[8], hdr[SL_SNAP_NODE_HDR];
        int cmp;
        sl_err_t err;

        n = klen < im->prev.len ? klen : im->prev.len;
        cmp = n ? memcmp(ev->node_id, im->prev.data, n) : 0;
        if (im->records > 1 && (cmp < 0 || (cmp == 0 && klen <= im->prev.len)))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                 "%s: %s: node \"%.200s\" is not after the previous record's: a "
                                 "file with seerlog.hash has its nodes in order, each once",
                                 r->path, where, ev->node_id);
        im->prev.len = 0;
        if (sl_buf_append(&im->prev, ev->node_id, klen))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((err = sl_codec_encode(im->codec, ev, &im->enc, r->errstr, r->errstr_size)))
                return err;
        body_len = im->enc.len - SL_WIRE_HEADER_SIZE;
        sl_be32(lens, (uint32_t)klen);
        sl_be32(lens + 4, (uint32_t)(SL_SNAP_NODE_HDR + body_len));
        hdr[0] = SL_STORE_FORMAT_VERSION;
        sl_be64(hdr + 1, (uint64_t)ev->incarnation);
        sl_be64(hdr + 9, (uint64_t)ev->seq);
        sl_be64(hdr + 17, (uint64_t)ev->event_time_ms);
        if (!EVP_DigestUpdate(im->md, lens, 4) || !EVP_DigestUpdate(im->md, ev->node_id, klen) ||
            !EVP_DigestUpdate(im->md, lens + 4, 4) || !EVP_DigestUpdate(im->md, hdr, sizeof(hdr)) ||
            !EVP_DigestUpdate(im->md, im->enc.data + SL_WIRE_HEADER_SIZE, body_len))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_IO, "SHA-256 update failed");
        return SL_OK;
}

/*
 * Decodes and applies the record at *offp of a block's data p[0..end) (the file itself, or the
 * block inflated), moving *offp past it.
 */
static sl_err_t sl_snap_import_record(sl_snap_import_t *im, const uint8_t *p, size_t end,
                                      size_t *offp, int64_t block, int64_t rec)
{
        sl_snap_reader_t *r = im->r;
        size_t at = *offp;
        const char *why = "";
        char where[96], detail[512];
        int applied = 0;
        sl_err_t err;

        snprintf(where, sizeof(where), "block %" PRId64 " record %" PRId64 " (byte %zu%s)", block,
                 rec, at, r->deflate ? " inflated" : "");
        if ((err = sl_avro_skip(im->top, p, end, offp, 0, &why)))
                return sl_seterr(r->errstr, r->errstr_size, err, "%s: %s: bad or truncated %s",
                                 r->path, where, why);
        im->dec.len = 0;
        if (sl_buf_reserve(&im->dec, SL_WIRE_HEADER_SIZE + (*offp - at)))
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
        im->dec.data[0] = 0;
        sl_be32(im->dec.data + 1, SL_SNAP_FILE_ID);
        memcpy(im->dec.data + SL_WIRE_HEADER_SIZE, p + at, *offp - at);
        im->dec.len = SL_WIRE_HEADER_SIZE + (*offp - at);
        im->records++;
        if ((err = sl_codec_decode(im->codec, im->dec.data, im->dec.len, im->ev, detail,
                                   sizeof(detail))) ||
            (err = sl_store_apply(im->txn, im->ev, &applied, detail, sizeof(detail))))
                return sl_seterr(r->errstr, r->errstr_size, err, "%s: %s: %s", r->path, where,
                                 detail);
        if (im->md) {
                if (!applied) /* only a node seen twice can be stale in an empty store */
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                         "%s: %s: node \"%.200s\" appears twice", r->path, where,
                                         im->ev->node_id);
                if ((err = sl_snap_hash_node(im, where)))
                        return err;
        }
        return SL_OK;
}

/* Inflates the raw deflate data (RFC 1951, as Avro's "deflate" codec writes it) into
 * im->inflated, up to SL_SNAP_MAX_INFLATED bytes. */
static sl_err_t sl_snap_inflate(sl_snap_import_t *im, const uint8_t *data, size_t len,
                                int64_t block)
{
        sl_snap_reader_t *r = im->r;
        z_stream zs;
        int zrc;

        if (len > UINT32_MAX)
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                 "%s: block %" PRId64 ": %zu compressed bytes, over 4 GiB", r->path,
                                 block, len);
        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, -15) != Z_OK)
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "inflateInit2 failed");
        im->inflated.len = 0;
        zs.next_in = (Bytef *)data;
        zs.avail_in = (uInt)len;
        do {
                size_t cap = im->inflated.cap < 65536 ? 65536 : im->inflated.cap;

                if (im->inflated.len == im->inflated.cap)
                        cap *= 2;
                if (cap > SL_SNAP_MAX_INFLATED) {
                        inflateEnd(&zs);
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                         "%s: block %" PRId64 " inflates to more than %d bytes",
                                         r->path, block, SL_SNAP_MAX_INFLATED);
                }
                if (sl_buf_reserve(&im->inflated, cap)) {
                        inflateEnd(&zs);
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_NOMEM, "out of memory");
                }
                zs.next_out = im->inflated.data + im->inflated.len;
                zs.avail_out = (uInt)(im->inflated.cap - im->inflated.len);
                zrc = inflate(&zs, Z_NO_FLUSH);
                im->inflated.len = im->inflated.cap - zs.avail_out;
        } while (zrc == Z_OK);
        inflateEnd(&zs);
        /* Bytes after the end of the stream are allowed: Python's avro writes zlib.compress()
         * minus its first 2 and last byte, which leaves 3 bytes of the Adler-32 behind. */
        if (zrc != Z_STREAM_END)
                return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                 "%s: block %" PRId64 ": bad deflate data (%s)", r->path, block,
                                 zs.msg ? zs.msg : "truncated");
        return SL_OK;
}

static sl_err_t sl_snap_import_blocks(sl_snap_import_t *im)
{
        sl_snap_reader_t *r = im->r;

        for (int64_t block = 0; r->off < r->size; block++) {
                size_t at = r->off, end, off, data_end;
                const uint8_t *data;
                int64_t cnt, size;
                char what[64];
                sl_err_t err;

                snprintf(what, sizeof(what), "block %" PRId64 "'s header", block);
                if ((err = sl_snap_long(r, what, &cnt)) || (err = sl_snap_long(r, what, &size)))
                        return err;
                if (cnt < 0 || size < 0)
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                         "%s: block %" PRId64 " at byte %zu: negative record "
                                         "count (%" PRId64 ") or size (%" PRId64 ")",
                                         r->path, block, at, cnt, size);
                if ((uint64_t)size > r->size - r->off ||
                    r->size - r->off - (uint64_t)size < SL_OCF_SYNC_SIZE)
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_TRUNCATED,
                                         "%s: block %" PRId64 " at byte %zu: its %" PRId64
                                         " bytes and sync marker go beyond the end of the file "
                                         "(%zu bytes left): truncated, or a bad size",
                                         r->path, block, at, size, r->size - r->off);
                end = r->off + (size_t)size;
                /* The sync marker first: it tells a corrupt file before its contents are read. */
                if (memcmp(r->p + end, r->sync, SL_OCF_SYNC_SIZE))
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_VALUE,
                                         "%s: block %" PRId64 " at byte %zu: sync marker mismatch "
                                         "(corrupt file)",
                                         r->path, block, at);
                data = r->p;
                off = r->off;
                data_end = end;
                if (r->deflate) {
                        if ((err = sl_snap_inflate(im, r->p + r->off, (size_t)size, block)))
                                return err;
                        data = im->inflated.data;
                        off = 0;
                        data_end = im->inflated.len;
                }
                if ((uint64_t)cnt > data_end - off)
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                         "%s: block %" PRId64 " at byte %zu: %" PRId64
                                         " records cannot fit in %zu bytes",
                                         r->path, block, at, cnt, data_end - off);
                for (int64_t i = 0; i < cnt; i++)
                        if ((err = sl_snap_import_record(im, data, data_end, &off, block, i)))
                                return err;
                if (off != data_end)
                        return sl_seterr(r->errstr, r->errstr_size, SL_ERR_BAD_LENGTH,
                                         "%s: block %" PRId64 " at byte %zu: its %" PRId64
                                         " records end at byte %zu%s, the block at byte %zu",
                                         r->path, block, at, cnt, off,
                                         r->deflate ? " inflated" : "", data_end);
                r->off = end + SL_OCF_SYNC_SIZE;
        }
        return SL_OK;
}

/* Stores the snapshot's offsets; with @p force an offset only moves forward. */
static sl_err_t sl_snap_import_offsets(sl_snap_import_t *im, sl_store_t *s,
                                       const sl_snapshot_info_t *info, int force)
{
        sl_snap_reader_t *r = im->r;
        char detail[512];
        sl_err_t err;

        for (size_t i = 0; i < info->offset_cnt; i++) {
                const sl_snapshot_offset_t *o = &info->offsets[i];
                int64_t cur;

                if (force) {
                        err = sl_store_offset_get(s, o->topic, o->partition, &cur, detail,
                                                  sizeof(detail));
                        if (!err && cur >= o->offset)
                                continue;
                        if (err && err != SL_ERR_NOT_FOUND)
                                return sl_seterr(r->errstr, r->errstr_size, err, "%s: %s", r->path,
                                                 detail);
                }
                if ((err = sl_store_offset_put(im->txn, o->topic, o->partition, o->offset, detail,
                                               sizeof(detail))))
                        return sl_seterr(r->errstr, r->errstr_size, err,
                                         "%s: seerlog.offsets entry %zu: %s", r->path, i, detail);
        }
        return SL_OK;
}

sl_err_t sl_snapshot_import_flags(const char *path, sl_store_t *s, int flags,
                                  sl_snapshot_info_t *info, char *errstr, size_t errstr_size)
{
        sl_snap_reader_t r;
        sl_snap_import_t im = {.r = &r};
        sl_snapshot_info_t mine;
        sl_schema_t *schema = NULL;
        uint64_t before = sl_store_node_count(s);
        char detail[512];
        sl_err_t err;

        sl_snap_info_init(&mine);
        if (info)
                sl_snap_info_init(info);
        if (before && !(flags & SL_SNAPSHOT_FORCE))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store %s already holds %" PRIu64
                                 " nodes: a snapshot is imported into an empty store only "
                                 "(or forced, to merge it)",
                                 sl_store_dir(s), before);
        if ((err = sl_snap_map(&r, path, errstr, errstr_size)))
                return err;
        if ((err = sl_snap_read_header(&r, &mine)))
                goto done;
        if ((err = sl_schema_parse(mine.schema, &schema, detail, sizeof(detail)))) {
                err = sl_seterr(errstr, errstr_size, err, "%s: avro.schema: %s", path, detail);
                goto done;
        }
        im.top = schema->top;
        if (!(im.codec = sl_codec_new(SL_SNAP_OWN_ID, detail, sizeof(detail))) ||
            (err = sl_codec_add_schema(im.codec, SL_SNAP_FILE_ID, mine.schema, detail,
                                       sizeof(detail)))) {
                err =
                    sl_seterr(errstr, errstr_size, err ? err : SL_ERR_SCHEMA,
                              "%s: avro.schema cannot be read as NodeStateEvent: %s", path, detail);
                goto done;
        }
        if (!(im.ev = sl_event_new())) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        if (!before && mine.hash[0]) {
                if (!(im.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(im.md, EVP_sha256(), NULL)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "SHA-256 init failed");
                        goto done;
                }
        }
        if ((err = sl_store_begin(s, &im.txn, errstr, errstr_size)))
                goto done;
        if ((err = sl_snap_import_blocks(&im)) ||
            (err = sl_snap_import_offsets(&im, s, &mine, flags & SL_SNAPSHOT_FORCE)))
                goto done;
        if (mine.nodes >= 0 && mine.nodes != im.records) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                "%s: holds %" PRId64 " records, seerlog.nodes says %" PRId64, path,
                                im.records, mine.nodes);
                goto done;
        }
        if (im.md) {
                static const char digits[] = "0123456789abcdef";
                unsigned char digest[EVP_MAX_MD_SIZE];
                unsigned int digest_len = 0;
                char hex[SL_STORE_HASH_HEX_SIZE];

                if (!EVP_DigestFinal_ex(im.md, digest, &digest_len) || digest_len != 32) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "SHA-256 final failed");
                        goto done;
                }
                for (unsigned int i = 0; i < digest_len; i++) {
                        hex[2 * i] = digits[digest[i] >> 4];
                        hex[2 * i + 1] = digits[digest[i] & 0xf];
                }
                hex[2 * digest_len] = '\0';
                if (strcmp(hex, mine.hash)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                        "%s: hash mismatch: the records hash to %s, seerlog.hash "
                                        "is %s; nothing imported",
                                        path, hex, mine.hash);
                        goto done;
                }
        }
        err = sl_store_commit(im.txn, errstr, errstr_size);
        im.txn = NULL;
        mine.nodes = im.records;

done:
        sl_store_abort(im.txn);
        sl_snap_unmap(&r);
        EVP_MD_CTX_free(im.md);
        sl_buf_free(&im.dec);
        sl_buf_free(&im.enc);
        sl_buf_free(&im.prev);
        sl_buf_free(&im.inflated);
        sl_event_destroy(im.ev);
        sl_codec_destroy(im.codec);
        sl_schema_destroy(schema);
        if (info && !err)
                *info = mine;
        else
                sl_snapshot_info_clear(&mine);
        return err;
}

sl_err_t sl_snapshot_import(const char *path, sl_store_t *s, sl_snapshot_info_t *info, char *errstr,
                            size_t errstr_size)
{
        return sl_snapshot_import_flags(path, s, 0, info, errstr, errstr_size);
}
