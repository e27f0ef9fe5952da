/*
 * The projector's store (sl_store.h): an LMDB environment with three databases, "nodes",
 * "offsets" and "meta"; the layout is described in the header.
 *
 * The stored body is the Avro binary of the built-in schema without the wire header; the store's
 * own codec (registered under a fixed id that never leaves this file) encodes it, and decodes it
 * after the 5-byte header for that id is put back in front. A lock file (flock) keeps a second
 * process out, as in the producer's outbox: two projectors committing offsets into one store
 * would each skip what the other read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "sl_fs.h"
#include <openssl/evp.h>

#include "sl_store.h"

/* The id the store's codec gives its own schema; only ever seen by the codec. */
#define SL_STORE_CODEC_ID 1

/* Offsets key: topic, 0, i32 partition. */
#define SL_STORE_OFFSET_KEY_MAX 512

struct sl_store_txn_s {
        sl_store_t *s;
        MDB_txn *txn;
        MDB_cursor *cur; /**< On "nodes", for sl_store_put(); closed with the transaction. */
        int64_t added;   /**< New nodes, counted on commit. */
};

struct sl_store_s {
        MDB_env *env;
        MDB_dbi nodes, offsets, meta, sources;
        int lock_fd;
        int64_t max_bytes;
        size_t max_key; /**< mdb_env_get_maxkeysize() */
        char *dir;
        uint64_t count; /**< Committed nodes. */
        sl_codec_t *codec;
        sl_buf_t enc;        /**< Encoded event (wire format), reused by sl_store_value(). */
        sl_buf_t val;        /**< A stored value, reused by sl_store_apply(). */
        sl_buf_t dec;        /**< Header + stored body for sl_codec_decode(), reused. */
        sl_event_t *walk_ev; /**< The event sl_store_walk() hands to its callback. */
        /* The write transaction's own decoding (sl_store_put() reading a stored state's source
         * and status), apart from codec, which sl_store_value() may use meanwhile. Made when
         * first needed. */
        sl_codec_t *wcodec;
        sl_buf_t wdec;
        sl_event_t *wev;
        sl_store_txn_t txn; /**< The one write transaction, reused. */
        int rdonly;         /**< Opened with SL_STORE_READONLY. */
        MDB_txn *pinned;    /**< sl_store_pin()'s read transaction; NULL: none. */
};

/* A read transaction: @p pin (a reader's, sl_store_reader_pin()) if not NULL, else the store's
 * pinned one (sl_store_pin()), else a new one. */
static int sl_rtxn_in(sl_store_t *s, MDB_txn *pin, MDB_txn **txnp)
{
        if (pin || s->pinned) {
                *txnp = pin ? pin : s->pinned;
                return 0;
        }
        return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txnp);
}

static void sl_rtxn_end_in(sl_store_t *s, MDB_txn *pin, MDB_txn *txn)
{
        if (txn != pin && txn != s->pinned)
                mdb_txn_abort(txn);
}

static int sl_rtxn(sl_store_t *s, MDB_txn **txnp)
{
        return sl_rtxn_in(s, NULL, txnp);
}

static void sl_rtxn_end(sl_store_t *s, MDB_txn *txn)
{
        sl_rtxn_end_in(s, NULL, txn);
}

/*
 * Whether an I/O error of a commit means the file system is full: LMDB reports a short write
 * (the file system filled up in the middle of it) as EIO, so EIO counts when less than 1 MiB is
 * left for us.
 */
static int sl_store_fs_full(const sl_store_t *s, int rc)
{
        struct statvfs vfs;

        if (rc == ENOSPC || rc == EDQUOT)
                return 1;
        return rc == EIO && !statvfs(s->dir, &vfs) &&
               (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20);
}

static sl_err_t sl_store_mdb_err(const sl_store_t *s, int rc, const char *what, char *errstr,
                                 size_t errstr_size)
{
        if (rc == MDB_MAP_FULL)
                return sl_seterr(errstr, errstr_size, SL_ERR_NO_SPACE,
                                 "store full (max bytes %lld) in %s", (long long)s->max_bytes,
                                 s->dir);
        if (sl_store_fs_full(s, rc))
                return sl_seterr(errstr, errstr_size, SL_ERR_NO_SPACE,
                                 "store %s: %s: file system full (%s)", s->dir, what,
                                 rc == EIO ? "short write" : mdb_strerror(rc));
        return sl_seterr(errstr, errstr_size, rc == ENOMEM ? SL_ERR_NOMEM : SL_ERR_IO,
                         "store %s: %s: %s", s->dir, what, mdb_strerror(rc));
}

sl_err_t sl_store_open(const char *dir, int64_t max_bytes, sl_store_t **sp, char *errstr,
                       size_t errstr_size)
{
        return sl_store_open_flags(dir, max_bytes, 0, sp, errstr, errstr_size);
}

sl_err_t sl_store_open_flags(const char *dir, int64_t max_bytes, int flags, sl_store_t **sp,
                             char *errstr, size_t errstr_size)
{
        int rdonly = (flags & SL_STORE_READONLY) != 0;
        sl_store_t *s = NULL;
        MDB_txn *txn = NULL;
        MDB_stat st;
        sl_err_t err = SL_ERR_IO;
        int rc;

        if (!dir || !*dir || max_bytes <= 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: a directory and max bytes > 0 are required");
        if (!(s = calloc(1, sizeof(*s))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        s->lock_fd = -1;
        s->max_bytes = max_bytes;
        if (!(s->dir = strdup(dir)) || !(s->walk_ev = sl_event_new())) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (!(s->codec = sl_codec_new(SL_STORE_CODEC_ID, errstr, errstr_size))) {
                err = SL_ERR_SCHEMA;
                goto fail;
        }
        s->rdonly = rdonly;
        if (rdonly) {
                char path[4096];
                struct stat sb;

                snprintf(path, sizeof(path), "%s/data.mdb", dir);
                if (stat(path, &sb)) {
                        err =
                            sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND,
                                      "%s is not a store (no data.mdb): %s", dir, strerror(errno));
                        goto fail;
                }
        } else if ((err = sl_dir_lock("store", dir, &s->lock_fd, errstr, errstr_size))) {
                goto fail;
        }
        if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 4)) ||
            (!rdonly && (rc = mdb_env_set_mapsize(s->env, (size_t)max_bytes)))) {
                err = sl_store_mdb_err(s, rc, "mdb_env", errstr, errstr_size);
                goto fail;
        }
        /* MDB_NOTLS: read transactions are not tied to the thread, so a read may run while this
         * thread holds the write transaction. */
        /* MDB_NOMETASYNC: one fsync per commit instead of two. A system crash (not a process
         * crash) may then undo the last committed transaction — its state and its offsets
         * together, so the projector reads that batch again: exactly once still holds. */
        /* Read-only: beside a projector writing the same environment (LMDB's lock file
         * coordinates the two processes); the map size is the writer's. */
        if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : MDB_NOMETASYNC),
                               0600))) {
                err = sl_store_mdb_err(s, rc, "mdb_env_open", errstr, errstr_size);
                goto fail;
        }
        s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
        if ((rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn)) ||
            (rc = mdb_dbi_open(txn, "nodes", rdonly ? 0 : MDB_CREATE, &s->nodes)) ||
            (rc = mdb_dbi_open(txn, "offsets", rdonly ? 0 : MDB_CREATE, &s->offsets)) ||
            (rc = mdb_dbi_open(txn, "meta", rdonly ? 0 : MDB_CREATE, &s->meta)) ||
            (rc = mdb_dbi_open(txn, "sources", rdonly ? 0 : MDB_CREATE, &s->sources)) ||
            (rc = mdb_stat(txn, s->nodes, &st))) {
                err = sl_store_mdb_err(s, rc, "opening the databases", errstr, errstr_size);
                goto fail;
        }
        s->count = st.ms_entries;
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc) {
                err = sl_store_mdb_err(s, rc, "commit", errstr, errstr_size);
                goto fail;
        }
        *sp = s;
        return SL_OK;

fail:
        if (txn)
                mdb_txn_abort(txn);
        sl_store_close(s);
        return err;
}

void sl_store_close(sl_store_t *s)
{
        if (!s)
                return;
        sl_store_unpin(s);
        sl_store_abort(&s->txn);
        if (s->env)
                mdb_env_close(s->env);
        if (s->lock_fd >= 0)
                close(s->lock_fd); /* releases the flock */
        sl_codec_destroy(s->codec);
        sl_event_destroy(s->walk_ev);
        sl_codec_destroy(s->wcodec);
        sl_buf_free(&s->wdec);
        sl_event_destroy(s->wev);
        sl_buf_free(&s->enc);
        sl_buf_free(&s->dec);
        sl_buf_free(&s->val);
        free(s->dir);
        free(s);
}

const char *sl_store_dir(const sl_store_t *s)
{
        return s->dir;
}

uint64_t sl_store_node_count(const sl_store_t *s)
{
        return s->count;
}

/* Ends the pinned read transaction *@p txnp, if any. */
static void sl_view_end(MDB_txn **txnp)
{
        if (*txnp) {
                mdb_txn_abort(*txnp);
                *txnp = NULL;
        }
}

/* Pins a new read transaction in *@p txnp (ending the one there) and counts its nodes into
 * *@p countp: sl_store_pin() and sl_store_reader_pin(). */
static sl_err_t sl_view_begin(sl_store_t *s, MDB_txn **txnp, uint64_t *countp, char *errstr,
                              size_t errstr_size)
{
        MDB_stat st;
        int rc;

        sl_view_end(txnp);
        if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txnp)) ||
            (rc = mdb_stat(*txnp, s->nodes, &st))) {
                sl_view_end(txnp); /* NULL still if mdb_txn_begin() failed */
                return sl_store_mdb_err(s, rc, "pinning a read transaction", errstr, errstr_size);
        }
        *countp = st.ms_entries;
        return SL_OK;
}

sl_err_t sl_store_pin(sl_store_t *s, char *errstr, size_t errstr_size)
{
        return sl_view_begin(s, &s->pinned, &s->count, errstr, errstr_size);
}

void sl_store_unpin(sl_store_t *s)
{
        sl_view_end(&s->pinned);
}

sl_err_t sl_store_begin(sl_store_t *s, sl_store_txn_t **txnp, char *errstr, size_t errstr_size)
{
        if (s->rdonly || s->pinned)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "store %s: %s", s->dir,
                                 s->rdonly ? "opened read-only" : "pinned for reading");
        sl_store_txn_t *t = &s->txn;
        int rc;

        if (t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: a transaction is already open");
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &t->txn))) {
                t->txn = NULL;
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        }
        if ((rc = mdb_cursor_open(t->txn, s->nodes, &t->cur))) {
                mdb_txn_abort(t->txn);
                t->txn = NULL;
                return sl_store_mdb_err(s, rc, "mdb_cursor_open", errstr, errstr_size);
        }
        t->s = s;
        t->added = 0;
        *txnp = t;
        return SL_OK;
}

sl_err_t sl_store_commit(sl_store_txn_t *t, char *errstr, size_t errstr_size)
{
        int rc;

        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        rc = mdb_txn_commit(t->txn); /* frees the txn, on failure too */
        t->txn = NULL;
        if (rc)
                return sl_store_mdb_err(t->s, rc, "commit", errstr, errstr_size);
        t->s->count = (uint64_t)((int64_t)t->s->count + t->added);
        return SL_OK;
}

void sl_store_abort(sl_store_txn_t *t)
{
        if (t && t->txn) {
                mdb_txn_abort(t->txn);
                t->txn = NULL;
        }
}

/* A stored node value's header; -1 if the value is too short or of an unknown version. */
static int sl_store_node_hdr(const MDB_val *v, int64_t *incp, int64_t *seqp, int64_t *timep)
{
        const uint8_t *p = v->mv_data;

        if (v->mv_size < SL_STORE_NODE_HDR || p[0] != SL_STORE_FORMAT_VERSION)
                return -1;
        *incp = (int64_t)sl_rd64(p + 1);
        *seqp = (int64_t)sl_rd64(p + 9);
        *timep = (int64_t)sl_rd64(p + 17);
        return 0;
}

static sl_err_t sl_store_corrupt(const sl_store_t *s, const MDB_val *k, const char *why,
                                 char *errstr, size_t errstr_size)
{
        int n = k->mv_size > 200 ? 200 : (int)k->mv_size;

        return sl_seterr(errstr, errstr_size, SL_ERR_IO,
                         "store %s: node \"%.*s\": corrupt state: %s", s->dir, n,
                         (const char *)k->mv_data, why);
}

/*
 * Decodes the stored value @p v of key @p k into @p ev, checking that the body agrees with the
 * key and the header (so a value written under the wrong key, or junk that happens to decode,
 * is caught). On error @p ev is left reset.
 */
static sl_err_t sl_store_decode_with(const sl_store_t *s, sl_codec_t *codec, sl_buf_t *dec,
                                     const MDB_val *k, const MDB_val *v, sl_event_t *ev,
                                     char *errstr, size_t errstr_size)
{
        int64_t inc, seq, time_ms;
        size_t body_len;
        int32_t id = sl_codec_writer_id(codec);
        char why[256];
        sl_err_t err;

        if (sl_store_node_hdr(v, &inc, &seq, &time_ms)) {
                sl_event_reset(ev);
                return sl_store_corrupt(s, k, "bad size or format version", errstr, errstr_size);
        }
        body_len = v->mv_size - SL_STORE_NODE_HDR;
        if (sl_buf_reserve(dec, SL_WIRE_HEADER_SIZE + body_len)) {
                sl_event_reset(ev);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        dec->data[0] = 0;
        sl_be32(dec->data + 1, (uint32_t)id);
        memcpy(dec->data + SL_WIRE_HEADER_SIZE, (const uint8_t *)v->mv_data + SL_STORE_NODE_HDR,
               body_len);
        dec->len = SL_WIRE_HEADER_SIZE + body_len;
        err = sl_codec_decode(codec, dec->data, dec->len, ev, why, sizeof(why));
        if (err) {
                sl_event_reset(ev);
                return sl_store_corrupt(s, k, why, errstr, errstr_size);
        }
        if (strlen(ev->node_id) != k->mv_size || memcmp(ev->node_id, k->mv_data, k->mv_size)) {
                sl_event_reset(ev);
                return sl_store_corrupt(s, k, "the event's node_id differs from the key", errstr,
                                        errstr_size);
        }
        if (ev->incarnation != inc || ev->seq != seq || ev->event_time_ms != time_ms) {
                sl_event_reset(ev);
                return sl_store_corrupt(s, k, "the event differs from the entry's header", errstr,
                                        errstr_size);
        }
        return SL_OK;
}

static sl_err_t sl_store_decode(sl_store_t *s, const MDB_val *k, const MDB_val *v, sl_event_t *ev,
                                char *errstr, size_t errstr_size)
{
        return sl_store_decode_with(s, s->codec, &s->dec, k, v, ev, errstr, errstr_size);
}

sl_err_t sl_store_value(sl_store_t *s, const sl_event_t *ev, sl_buf_t *out, char *errstr,
                        size_t errstr_size)
{
        size_t body_len, id_len;
        uint8_t *p;
        sl_err_t err;

        /* Encoding validates: an invalid event is an error whether or not it is newer. */
        if ((err = sl_codec_encode(s->codec, ev, &s->enc, errstr, errstr_size)))
                return err;
        id_len = strlen(ev->node_id);
        if (id_len > s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: node_id is %zu bytes, longer than the %zu LMDB allows",
                                 id_len, s->max_key);
        body_len = s->enc.len - SL_WIRE_HEADER_SIZE;
        if (sl_buf_reserve(out, out->len + SL_STORE_NODE_HDR + body_len))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        p = out->data + out->len;
        p[0] = SL_STORE_FORMAT_VERSION;
        sl_be64(p + 1, (uint64_t)ev->incarnation);
        sl_be64(p + 9, (uint64_t)ev->seq);
        sl_be64(p + 17, (uint64_t)ev->event_time_ms);
        memcpy(p + SL_STORE_NODE_HDR, s->enc.data + SL_WIRE_HEADER_SIZE, body_len);
        out->len += SL_STORE_NODE_HDR + body_len;
        return SL_OK;
}

/* The source and status of the stored state @p v of node @p k (the write transaction's
 * decode). */
static sl_err_t sl_store_origin(sl_store_t *s, const MDB_val *k, const MDB_val *v,
                                sl_source_t *sourcep, sl_node_status_t *statusp, int *takeoverp,
                                char *errstr, size_t errstr_size)
{
        sl_err_t err;

        if (!s->wcodec && !(s->wcodec = sl_codec_new(SL_STORE_CODEC_ID, errstr, errstr_size)))
                return SL_ERR_SCHEMA;
        if (!s->wev && !(s->wev = sl_event_new()))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((err = sl_store_decode_with(s, s->wcodec, &s->wdec, k, v, s->wev, errstr, errstr_size)))
                return err;
        *sourcep = s->wev->source;
        *statusp = s->wev->status;
        *takeoverp = sl_event_takeover(s->wev);
        return SL_OK;
}

sl_err_t sl_store_put(sl_store_txn_t *t, const char *node_id, size_t id_len, const uint8_t *value,
                      size_t value_len, sl_source_t source, int *appliedp, char *errstr,
                      size_t errstr_size)
{
        sl_store_t *s = t->s;
        MDB_val k = {id_len, (void *)node_id}, kq, v, nv = {value_len, (void *)value};
        int64_t inc, seq, time_ms, new_inc, new_seq;
        unsigned flags = 0;
        int rc;

        *appliedp = 0;
        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        if (!id_len || id_len > s->max_key || sl_store_node_hdr(&nv, &new_inc, &new_seq, &time_ms))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: not a node id and a value of sl_store_value()");
        /* One descent: the cursor finds the node and the put replaces it where it stands. */
        /* (A copy of k: LMDB points it at the page, which the put below may move.) */
        kq = k;
        rc = mdb_cursor_get(t->cur, &kq, &v, MDB_SET_KEY);
        if (rc && rc != MDB_NOTFOUND)
                return sl_store_mdb_err(s, rc, "get node", errstr, errstr_size);
        if (!rc) {
                if (sl_store_node_hdr(&v, &inc, &seq, &time_ms))
                        return sl_store_corrupt(s, &k, "bad size or format version", errstr,
                                                errstr_size);
                int newer = new_inc > inc || (new_inc == inc && new_seq > seq);

                /* Bridged or not decides first (Ordering): the stored state's source is read
                 * for a bridged event, and for a native one the numbers call stale. */
                if (source == SL_SOURCE_BRIDGE || !newer) {
                        sl_source_t s_source = SL_SOURCE_UNKNOWN;
                        sl_node_status_t s_status = SL_STATUS_UNKNOWN;
                        int s_takeover = 0;
                        sl_err_t err;

                        if ((err = sl_store_origin(s, &k, &v, &s_source, &s_status, &s_takeover,
                                                   errstr, errstr_size)))
                                return err;
                        newer = sl_store_supersedes(new_inc, new_seq, source, inc, seq, s_source,
                                                    s_status, s_takeover);
                }
                if (!newer)
                        return SL_OK; /* a duplicate or stale: the stored state stays */
                flags = MDB_CURRENT;
        }
        if ((rc = mdb_cursor_put(t->cur, &k, &nv, flags)))
                return sl_store_mdb_err(s, rc, "put node", errstr, errstr_size);
        if (!flags)
                t->added++;
        *appliedp = 1;
        return SL_OK;
}

sl_err_t sl_store_apply(sl_store_txn_t *t, const sl_event_t *ev, int *appliedp, char *errstr,
                        size_t errstr_size)
{
        sl_store_t *s = t->s;
        sl_err_t err;

        *appliedp = 0;
        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        s->val.len = 0;
        if ((err = sl_store_value(s, ev, &s->val, errstr, errstr_size)))
                return err;
        return sl_store_put(t, ev->node_id, strlen(ev->node_id), s->val.data, s->val.len,
                            ev->source, appliedp, errstr, errstr_size);
}

/* Builds the offsets key into @p kb; @returns its length, or 0 for an invalid topic. */
static size_t sl_store_offset_key(const sl_store_t *s, const char *topic, int32_t partition,
                                  uint8_t kb[SL_STORE_OFFSET_KEY_MAX])
{
        size_t tlen = topic ? strlen(topic) : 0;

        if (!tlen || tlen + 5 > SL_STORE_OFFSET_KEY_MAX || tlen + 5 > s->max_key)
                return 0;
        memcpy(kb, topic, tlen);
        kb[tlen] = 0;
        sl_be32(kb + tlen + 1, (uint32_t)partition);
        return tlen + 5;
}

sl_err_t sl_store_offset_put(sl_store_txn_t *t, const char *topic, int32_t partition,
                             int64_t next_offset, char *errstr, size_t errstr_size)
{
        uint8_t kb[SL_STORE_OFFSET_KEY_MAX], vb[8];
        MDB_val k, v = {8, vb};
        int rc;

        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        if (partition < 0 || next_offset < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: negative partition (%" PRId32 ") or offset (%" PRId64 ")",
                                 partition, next_offset);
        if (!(k.mv_size = sl_store_offset_key(t->s, topic, partition, kb)))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: topic name empty or too long");
        k.mv_data = kb;
        sl_be64(vb, (uint64_t)next_offset);
        if ((rc = mdb_put(t->txn, t->s->offsets, &k, &v, 0)))
                return sl_store_mdb_err(t->s, rc, "put offset", errstr, errstr_size);
        return SL_OK;
}

sl_err_t sl_store_meta_put(sl_store_txn_t *t, const char *key, const char *value, char *errstr,
                           size_t errstr_size)
{
        MDB_val k, v;
        int rc;

        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        k.mv_size = key ? strlen(key) : 0;
        k.mv_data = (void *)key;
        if (!k.mv_size || k.mv_size > t->s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: meta key empty or longer than %zu bytes", t->s->max_key);
        v.mv_size = value ? strlen(value) : 0;
        v.mv_data = (void *)(value ? value : "");
        if ((rc = mdb_put(t->txn, t->s->meta, &k, &v, 0)))
                return sl_store_mdb_err(t->s, rc, "put meta", errstr, errstr_size);
        return SL_OK;
}

sl_err_t sl_store_offset_get(sl_store_t *s, const char *topic, int32_t partition, int64_t *nextp,
                             char *errstr, size_t errstr_size)
{
        uint8_t kb[SL_STORE_OFFSET_KEY_MAX];
        MDB_txn *txn;
        MDB_val k, v;
        sl_err_t err = SL_OK;
        int rc;

        if (partition < 0 || !(k.mv_size = sl_store_offset_key(s, topic, partition, kb)))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: invalid topic or partition");
        k.mv_data = kb;
        if ((rc = sl_rtxn(s, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        rc = mdb_get(txn, s->offsets, &k, &v);
        if (rc == MDB_NOTFOUND)
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND,
                                "store: no offset for %s [%" PRId32 "]", topic, partition);
        else if (rc)
                err = sl_store_mdb_err(s, rc, "get offset", errstr, errstr_size);
        else if (v.mv_size != 8)
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                "store %s: corrupt offset of %s [%" PRId32 "]", s->dir, topic,
                                partition);
        else
                *nextp = (int64_t)sl_rd64(v.mv_data);
        sl_rtxn_end(s, txn);
        return err;
}

/*
 * Calls @p fn for every entry of @p dbi in key order, in one read transaction, until it returns
 * non-zero (returned as is).
 */
typedef sl_err_t(sl_scan_fn_t)(sl_store_t *s, const MDB_val *k, const MDB_val *v, void *ctx,
                               char *errstr, size_t errstr_size);

static sl_err_t sl_store_scan_in(sl_store_t *s, MDB_txn *pin, MDB_dbi dbi, sl_scan_fn_t *fn,
                                 void *ctx, char *errstr, size_t errstr_size)
{
        MDB_txn *txn;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sl_err_t err = SL_OK;
        int rc;

        if ((rc = sl_rtxn_in(s, pin, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        if ((rc = mdb_cursor_open(txn, dbi, &cur))) {
                err = sl_store_mdb_err(s, rc, "cursor", errstr, errstr_size);
                goto done;
        }
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
                if ((err = fn(s, &k, &v, ctx, errstr, errstr_size)))
                        goto done;
        if (rc != MDB_NOTFOUND)
                err = sl_store_mdb_err(s, rc, "cursor", errstr, errstr_size);

done:
        if (cur)
                mdb_cursor_close(cur);
        sl_rtxn_end_in(s, pin, txn);
        return err;
}

static sl_err_t sl_store_scan(sl_store_t *s, MDB_dbi dbi, sl_scan_fn_t *fn, void *ctx, char *errstr,
                              size_t errstr_size)
{
        return sl_store_scan_in(s, NULL, dbi, fn, ctx, errstr, errstr_size);
}

typedef struct {
        sl_store_offset_cb_t *cb;
        void *opaque;
} sl_offsets_ctx_t;

static sl_err_t sl_offsets_one(sl_store_t *s, const MDB_val *k, const MDB_val *v, void *ctx,
                               char *errstr, size_t errstr_size)
{
        const sl_offsets_ctx_t *c = ctx;
        const uint8_t *kp = k->mv_data;
        char topic[SL_STORE_OFFSET_KEY_MAX];
        size_t tlen = k->mv_size - 5;

        /* The topic is the key up to the 0 byte five from the end; it holds no 0. */
        if (k->mv_size < 6 || k->mv_size > SL_STORE_OFFSET_KEY_MAX || kp[tlen] != 0 ||
            memchr(kp, 0, tlen) || v->mv_size != 8)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "store %s: a corrupt offset entry",
                                 s->dir);
        memcpy(topic, kp, tlen);
        topic[tlen] = '\0';
        return (sl_err_t)c->cb(topic, (int32_t)sl_rd32(kp + tlen + 1), (int64_t)sl_rd64(v->mv_data),
                               c->opaque);
}

static sl_err_t sl_store_offsets_in(sl_store_t *s, MDB_txn *pin, sl_store_offset_cb_t *cb,
                                    void *opaque, char *errstr, size_t errstr_size)
{
        sl_offsets_ctx_t c = {cb, opaque};

        return sl_store_scan_in(s, pin, s->offsets, sl_offsets_one, &c, errstr, errstr_size);
}

sl_err_t sl_store_offsets(sl_store_t *s, sl_store_offset_cb_t *cb, void *opaque, char *errstr,
                          size_t errstr_size)
{
        return sl_store_offsets_in(s, NULL, cb, opaque, errstr, errstr_size);
}

/* Reads node @p node_id into @p ev with @p codec and @p dec (the store's, or a reader's). */
static sl_err_t sl_store_get_with(sl_store_t *s, MDB_txn *pin, sl_codec_t *codec, sl_buf_t *dec,
                                  const char *node_id, sl_event_t *ev, char *errstr,
                                  size_t errstr_size)
{
        MDB_txn *txn;
        MDB_val k = {node_id ? strlen(node_id) : 0, (void *)node_id}, v;
        sl_err_t err;
        int rc;

        sl_event_reset(ev);
        if (!k.mv_size || k.mv_size > s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND, "store: no node \"%.200s\"",
                                 node_id ? node_id : "");
        if ((rc = sl_rtxn_in(s, pin, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        rc = mdb_get(txn, s->nodes, &k, &v);
        if (rc == MDB_NOTFOUND)
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND, "store: no node \"%.200s\"",
                                node_id);
        else if (rc)
                err = sl_store_mdb_err(s, rc, "get node", errstr, errstr_size);
        else
                err = sl_store_decode_with(s, codec, dec, &k, &v, ev, errstr, errstr_size);
        sl_rtxn_end_in(s, pin, txn);
        return err;
}

sl_err_t sl_store_node_get(sl_store_t *s, const char *node_id, sl_event_t *ev, char *errstr,
                           size_t errstr_size)
{
        return sl_store_get_with(s, NULL, s->codec, &s->dec, node_id, ev, errstr, errstr_size);
}

typedef struct {
        sl_store_walk_cb_t *cb;
        void *opaque;
} sl_walk_ctx_t;

static sl_err_t sl_walk_one(sl_store_t *s, const MDB_val *k, const MDB_val *v, void *ctx,
                            char *errstr, size_t errstr_size)
{
        const sl_walk_ctx_t *c = ctx;
        sl_err_t err;

        if ((err = sl_store_decode(s, k, v, s->walk_ev, errstr, errstr_size)))
                return err;
        /* node_id equals the key (checked by the decode) and is NUL-terminated. */
        return (sl_err_t)c->cb(s->walk_ev->node_id, s->walk_ev, c->opaque);
}

sl_err_t sl_store_walk(sl_store_t *s, sl_store_walk_cb_t *cb, void *opaque, char *errstr,
                       size_t errstr_size)
{
        sl_walk_ctx_t c = {cb, opaque};
        sl_err_t err = sl_store_scan(s, s->nodes, sl_walk_one, &c, errstr, errstr_size);

        sl_event_reset(s->walk_ev);
        return err;
}

static sl_err_t sl_hash_one(sl_store_t *s, const MDB_val *k, const MDB_val *v, void *ctx,
                            char *errstr, size_t errstr_size)
{
        uint8_t kl[4], vl[4];

        /* LMDB keys are at most 511 bytes; values fit in u32 unless the map is >4 GiB and one
         * value alone is, which an event cannot be. */
        if (v->mv_size > UINT32_MAX)
                return sl_store_corrupt(s, k, "value over 4 GiB", errstr, errstr_size);
        sl_be32(kl, (uint32_t)k->mv_size);
        sl_be32(vl, (uint32_t)v->mv_size);
        if (!EVP_DigestUpdate(ctx, kl, 4) || !EVP_DigestUpdate(ctx, k->mv_data, k->mv_size) ||
            !EVP_DigestUpdate(ctx, vl, 4) || !EVP_DigestUpdate(ctx, v->mv_data, v->mv_size))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "store: SHA-256 update failed");
        return SL_OK;
}

static sl_err_t sl_store_hash_in(sl_store_t *s, MDB_txn *pin, char hex[SL_STORE_HASH_HEX_SIZE],
                                 char *errstr, size_t errstr_size)
{
        static const char digits[] = "0123456789abcdef";
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        sl_err_t err;

        hex[0] = '\0';
        if (!md)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "store: SHA-256 init failed");
        else if ((err = sl_store_scan_in(s, pin, s->nodes, sl_hash_one, md, errstr, errstr_size)))
                ;
        else if (!EVP_DigestFinal_ex(md, digest, &digest_len) || digest_len != 32)
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "store: SHA-256 final failed");
        else {
                for (unsigned int i = 0; i < digest_len; i++) {
                        hex[2 * i] = digits[digest[i] >> 4];
                        hex[2 * i + 1] = digits[digest[i] & 0xf];
                }
                hex[2 * digest_len] = '\0';
        }
        EVP_MD_CTX_free(md);
        return err;
}

sl_err_t sl_store_hash(sl_store_t *s, char hex[SL_STORE_HASH_HEX_SIZE], char *errstr,
                       size_t errstr_size)
{
        return sl_store_hash_in(s, NULL, hex, errstr, errstr_size);
}

sl_err_t sl_store_meta_get(sl_store_t *s, const char *key, char *buf, size_t buf_size, char *errstr,
                           size_t errstr_size)
{
        MDB_txn *txn;
        MDB_val k = {key ? strlen(key) : 0, (void *)key}, v;
        sl_err_t err = SL_OK;
        int rc;

        if (!k.mv_size || k.mv_size > s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: meta key empty or longer than %zu bytes", s->max_key);
        if ((rc = sl_rtxn(s, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        rc = mdb_get(txn, s->meta, &k, &v);
        if (rc == MDB_NOTFOUND)
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND, "store: no meta \"%.200s\"",
                                key);
        else if (rc)
                err = sl_store_mdb_err(s, rc, "get meta", errstr, errstr_size);
        else if (v.mv_size >= buf_size)
                err = sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                "store: meta \"%.200s\" needs a buffer of %zu bytes", key,
                                v.mv_size + 1);
        else {
                memcpy(buf, v.mv_data, v.mv_size);
                buf[v.mv_size] = '\0';
        }
        sl_rtxn_end(s, txn);
        return err;
}

/* ---- readers: their own codec and buffers, for other threads ---- */

struct sl_store_reader_s {
        sl_store_t *s;
        sl_codec_t *codec;
        sl_buf_t dec;
        sl_event_t *ev;
        MDB_txn *pin;   /**< sl_store_reader_pin()'s read transaction; NULL: none. */
        uint64_t count; /**< The nodes in @c pin's view. */
};

sl_store_reader_t *sl_store_reader_new(sl_store_t *s, char *errstr, size_t errstr_size)
{
        sl_store_reader_t *r = calloc(1, sizeof(*r));

        if (!r || !(r->ev = sl_event_new())) {
                free(r);
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        r->s = s;
        if (!(r->codec = sl_codec_new(SL_STORE_CODEC_ID, errstr, errstr_size))) {
                sl_store_reader_free(r);
                return NULL;
        }
        return r;
}

void sl_store_reader_free(sl_store_reader_t *r)
{
        if (!r)
                return;
        sl_store_reader_unpin(r);
        sl_codec_destroy(r->codec);
        sl_buf_free(&r->dec);
        sl_event_destroy(r->ev);
        free(r);
}

sl_err_t sl_store_reader_pin(sl_store_reader_t *r, char *errstr, size_t errstr_size)
{
        return sl_view_begin(r->s, &r->pin, &r->count, errstr, errstr_size);
}

void sl_store_reader_unpin(sl_store_reader_t *r)
{
        sl_view_end(&r->pin);
}

uint64_t sl_store_reader_count(const sl_store_reader_t *r)
{
        return r->pin ? r->count : sl_store_node_count(r->s);
}

sl_err_t sl_store_reader_hash(sl_store_reader_t *r, char hex[SL_STORE_HASH_HEX_SIZE], char *errstr,
                              size_t errstr_size)
{
        return sl_store_hash_in(r->s, r->pin, hex, errstr, errstr_size);
}

sl_err_t sl_store_reader_offsets(sl_store_reader_t *r, sl_store_offset_cb_t *cb, void *opaque,
                                 char *errstr, size_t errstr_size)
{
        return sl_store_offsets_in(r->s, r->pin, cb, opaque, errstr, errstr_size);
}

sl_err_t sl_store_reader_get(sl_store_reader_t *r, const char *node_id, sl_event_t *ev,
                             char *errstr, size_t errstr_size)
{
        return sl_store_get_with(r->s, r->pin, r->codec, &r->dec, node_id, ev, errstr, errstr_size);
}

sl_err_t sl_store_reader_walk(sl_store_reader_t *r, const char *after, sl_store_walk_cb_t *cb,
                              void *opaque, char *errstr, size_t errstr_size)
{
        sl_store_t *s = r->s;
        size_t alen = after ? strlen(after) : 0;
        MDB_txn *txn;
        MDB_cursor *cur = NULL;
        MDB_val k = {alen, (void *)after}, v;
        sl_err_t err = SL_OK;
        int rc;

        if (alen > s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: a start key longer than LMDB's keys");
        if ((rc = sl_rtxn_in(s, r->pin, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        if ((rc = mdb_cursor_open(txn, s->nodes, &cur))) {
                err = sl_store_mdb_err(s, rc, "cursor", errstr, errstr_size);
                goto done;
        }
        if (!alen) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        } else {
                rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                if (!rc && k.mv_size == alen && !memcmp(k.mv_data, after, alen))
                        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                if ((err = sl_store_decode_with(s, r->codec, &r->dec, &k, &v, r->ev, errstr,
                                                errstr_size)))
                        goto done;
                if ((err = (sl_err_t)cb(r->ev->node_id, r->ev, opaque)))
                        goto done;
        }
        if (rc != MDB_NOTFOUND)
                err = sl_store_mdb_err(s, rc, "cursor", errstr, errstr_size);
done:
        if (cur)
                mdb_cursor_close(cur);
        sl_rtxn_end_in(s, r->pin, txn);
        sl_event_reset(r->ev);
        return err;
}

sl_err_t sl_store_reader_decode(sl_store_reader_t *r, const char *node_id, const uint8_t *value,
                                size_t value_len, sl_event_t *ev, char *errstr, size_t errstr_size)
{
        MDB_val k = {strlen(node_id), (void *)node_id}, v = {value_len, (void *)value};

        return sl_store_decode_with(r->s, r->codec, &r->dec, &k, &v, ev, errstr, errstr_size);
}

/* ---- where each node's state was read (the "sources" database) ---- */

sl_err_t sl_store_source_put(sl_store_txn_t *t, const char *node_id, size_t id_len,
                             const char *topic, int32_t partition, int64_t offset, char *errstr,
                             size_t errstr_size)
{
        size_t tlen = topic ? strlen(topic) : 0;
        uint8_t vb[12 + SL_STORE_OFFSET_KEY_MAX];
        MDB_val k = {id_len, (void *)node_id}, v = {12 + tlen, vb};
        int rc;

        if (!t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: no transaction is open");
        if (!id_len || id_len > t->s->max_key || !tlen || tlen > SL_STORE_OFFSET_KEY_MAX ||
            partition < 0 || offset < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "store: invalid node, topic, partition or offset");
        sl_be32(vb, (uint32_t)partition);
        sl_be64(vb + 4, (uint64_t)offset);
        memcpy(vb + 12, topic, tlen);
        if ((rc = mdb_put(t->txn, t->s->sources, &k, &v, 0)))
                return sl_store_mdb_err(t->s, rc, "put source", errstr, errstr_size);
        return SL_OK;
}

sl_err_t sl_store_reader_source(sl_store_reader_t *r, const char *node_id, char *topic,
                                size_t topic_size, int32_t *partitionp, int64_t *offsetp,
                                char *errstr, size_t errstr_size)
{
        sl_store_t *s = r->s;
        MDB_txn *txn;
        MDB_val k = {node_id ? strlen(node_id) : 0, (void *)node_id}, v;
        sl_err_t err = SL_OK;
        int rc;

        if (!k.mv_size || k.mv_size > s->max_key)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND, "no source");
        if ((rc = sl_rtxn_in(s, r->pin, &txn)))
                return sl_store_mdb_err(s, rc, "mdb_txn_begin", errstr, errstr_size);
        rc = mdb_get(txn, s->sources, &k, &v);
        if (rc == MDB_NOTFOUND)
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOT_FOUND, "no source");
        else if (rc)
                err = sl_store_mdb_err(s, rc, "get source", errstr, errstr_size);
        else if (v.mv_size <= 12)
                err = sl_store_corrupt(s, &k, "bad source entry", errstr, errstr_size);
        else if (v.mv_size - 12 >= topic_size)
                err = sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                "store: the topic needs %zu bytes", v.mv_size - 11);
        else {
                const uint8_t *b = v.mv_data;

                *partitionp = (int32_t)sl_rd32(b);
                *offsetp = (int64_t)sl_rd64(b + 4);
                memcpy(topic, b + 12, v.mv_size - 12);
                topic[v.mv_size - 12] = '\0';
        }
        sl_rtxn_end_in(s, r->pin, txn);
        return err;
}

/* Orders node ids as LMDB's default comparison does: bytewise, a prefix first. */
static int sl_store_key_cmp(const MDB_val *a, const MDB_val *b)
{
        size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
        int c = memcmp(a->mv_data, b->mv_data, n);

        return c ? c : (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

sl_err_t sl_store_diff(sl_store_t *a, sl_store_t *b, sl_store_diff_cb_t *cb, void *opaque,
                       uint64_t *samep, char *errstr, size_t errstr_size)
{
        MDB_txn *ta = NULL, *tb = NULL;
        MDB_cursor *ca = NULL, *cb_ = NULL;
        MDB_val ka, va, kb, vb;
        int ra, rb, rc;
        uint64_t same = 0;
        sl_err_t err = SL_OK;
        char id[1024];

        if ((rc = sl_rtxn(a, &ta)) || (rc = mdb_cursor_open(ta, a->nodes, &ca))) {
                err = sl_store_mdb_err(a, rc, "reading", errstr, errstr_size);
                goto done;
        }
        if ((rc = sl_rtxn(b, &tb)) || (rc = mdb_cursor_open(tb, b->nodes, &cb_))) {
                err = sl_store_mdb_err(b, rc, "reading", errstr, errstr_size);
                goto done;
        }
        ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
        rb = mdb_cursor_get(cb_, &kb, &vb, MDB_FIRST);
        while (!ra || !rb) {
                int c = ra ? 1 : rb ? -1 : sl_store_key_cmp(&ka, &kb);
                const MDB_val *k = c <= 0 ? &ka : &kb;
                size_t len = k->mv_size < sizeof(id) ? k->mv_size : sizeof(id) - 1;

                if (!c && va.mv_size == vb.mv_size && !memcmp(va.mv_data, vb.mv_data, va.mv_size)) {
                        same++;
                } else {
                        memcpy(id, k->mv_data, len);
                        id[len] = '\0';
                        if (cb(id, c <= 0 ? va.mv_data : NULL, c <= 0 ? va.mv_size : 0,
                               c >= 0 ? vb.mv_data : NULL, c >= 0 ? vb.mv_size : 0, opaque)) {
                                err = SL_ERR_INVALID_ARG;
                                sl_seterr(errstr, errstr_size, err, "stopped");
                                goto done;
                        }
                }
                if (c <= 0)
                        ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
                if (c >= 0)
                        rb = mdb_cursor_get(cb_, &kb, &vb, MDB_NEXT);
        }
        if (ra != MDB_NOTFOUND)
                err = sl_store_mdb_err(a, ra, "cursor", errstr, errstr_size);
        else if (rb != MDB_NOTFOUND)
                err = sl_store_mdb_err(b, rb, "cursor", errstr, errstr_size);

done:
        if (ca)
                mdb_cursor_close(ca);
        if (cb_)
                mdb_cursor_close(cb_);
        if (ta)
                sl_rtxn_end(a, ta);
        if (tb)
                sl_rtxn_end(b, tb);
        if (samep)
                *samep = same;
        return err;
}
