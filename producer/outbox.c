/*
 * The durable outbox: an LMDB environment with two databases.
 *   "records": big-endian u64 outbox sequence -> u16 topic length, topic, u32 key length, key,
 *              value (the encoded record). Kept in the order accepted.
 *   "seq":     node id -> (incarnation, seq), two big-endian i64: the last pair given out.
 * A lock file (flock) keeps a second process out: LMDB itself would let two writers take turns,
 * and two producers replaying the same records would be a mess.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "sl_fs.h"

#include "producer_int.h"

struct sl_outbox_s {
        MDB_env *env;
        MDB_dbi records, seq;
        int lock_fd;
        uint64_t next_id; /**< Next outbox sequence to give out. */
        uint64_t count;   /**< Committed records. */
        int64_t max_bytes;
        char *dir;
        sl_outbox_txn_t *txn; /**< The one write transaction, reused. */
};

struct sl_outbox_txn_s {
        sl_outbox_t *ob;
        MDB_txn *txn;
        uint64_t next_id;
        int64_t added; /**< Count change, applied on commit. */
};

static sl_err_t sl_outbox_mdb_err(const sl_outbox_t *ob, int rc, const char *what, char *errstr,
                                  size_t errstr_size)
{
        if (rc == MDB_MAP_FULL)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                 "outbox full (outbox.max.bytes=%lld)", (long long)ob->max_bytes);
        return sl_seterr(errstr, errstr_size, rc == ENOMEM ? SL_ERR_NOMEM : SL_ERR_IO,
                         "outbox %s: %s: %s", ob->dir, what, mdb_strerror(rc));
}

sl_err_t sl_outbox_open(const char *dir, int64_t max_bytes, sl_outbox_t **obp, char *errstr,
                        size_t errstr_size)
{
        sl_outbox_t *ob = calloc(1, sizeof(*ob));
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        MDB_stat st;
        sl_err_t err = SL_ERR_IO;
        int rc;

        if (!ob || !(ob->dir = strdup(dir)) || !(ob->txn = calloc(1, sizeof(*ob->txn)))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        ob->lock_fd = -1;
        ob->max_bytes = max_bytes;
        if ((err = sl_dir_lock("outbox", dir, &ob->lock_fd, errstr, errstr_size)))
                goto fail;
        if ((rc = mdb_env_create(&ob->env)) || (rc = mdb_env_set_maxdbs(ob->env, 2)) ||
            (rc = mdb_env_set_mapsize(ob->env, (size_t)max_bytes))) {
                err = sl_outbox_mdb_err(ob, rc, "mdb_env", errstr, errstr_size);
                goto fail;
        }
        if ((rc = mdb_env_open(ob->env, dir, MDB_NOTLS, 0600))) {
                err = sl_outbox_mdb_err(ob, rc, "mdb_env_open", errstr, errstr_size);
                goto fail;
        }
        if ((rc = mdb_txn_begin(ob->env, NULL, 0, &txn)) ||
            (rc = mdb_dbi_open(txn, "records", MDB_CREATE, &ob->records)) ||
            (rc = mdb_dbi_open(txn, "seq", MDB_CREATE, &ob->seq)) ||
            (rc = mdb_stat(txn, ob->records, &st)) ||
            (rc = mdb_cursor_open(txn, ob->records, &cur))) {
                err = sl_outbox_mdb_err(ob, rc, "opening the databases", errstr, errstr_size);
                goto fail;
        }
        ob->count = st.ms_entries;
        ob->next_id = 1; /* 0 means "not in the outbox" to the producer */
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (!rc && k.mv_size == 8)
                ob->next_id = sl_rd64(k.mv_data) + 1;
        else if (rc && rc != MDB_NOTFOUND) {
                err = sl_outbox_mdb_err(ob, rc, "reading", errstr, errstr_size);
                goto fail;
        }
        mdb_cursor_close(cur);
        cur = NULL;
        if ((rc = mdb_txn_commit(txn))) {
                txn = NULL;
                err = sl_outbox_mdb_err(ob, rc, "commit", errstr, errstr_size);
                goto fail;
        }
        *obp = ob;
        return SL_OK;

fail:
        if (cur)
                mdb_cursor_close(cur);
        if (txn)
                mdb_txn_abort(txn);
        sl_outbox_close(ob);
        return err;
}

void sl_outbox_close(sl_outbox_t *ob)
{
        if (!ob)
                return;
        if (ob->env)
                mdb_env_close(ob->env);
        if (ob->lock_fd >= 0)
                close(ob->lock_fd); /* releases the flock */
        free(ob->txn);
        free(ob->dir);
        free(ob);
}

uint64_t sl_outbox_count(const sl_outbox_t *ob)
{
        return ob->count;
}

const char *sl_outbox_dir(const sl_outbox_t *ob)
{
        return ob->dir;
}

sl_err_t sl_outbox_begin(sl_outbox_t *ob, sl_outbox_txn_t **txnp, char *errstr, size_t errstr_size)
{
        sl_outbox_txn_t *t = ob->txn;
        int rc;

        if (t->txn)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "outbox: a transaction is already open");
        if ((rc = mdb_txn_begin(ob->env, NULL, 0, &t->txn))) {
                t->txn = NULL;
                return sl_outbox_mdb_err(ob, rc, "mdb_txn_begin", errstr, errstr_size);
        }
        t->ob = ob;
        t->next_id = ob->next_id;
        t->added = 0;
        *txnp = t;
        return SL_OK;
}

sl_err_t sl_outbox_put(sl_outbox_txn_t *t, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, uint64_t *idp, char *errstr,
                       size_t errstr_size)
{
        size_t topic_len = strlen(topic);
        uint8_t kb[8], *p;
        MDB_val k = {8, kb}, v;
        int rc;

        if (topic_len > UINT16_MAX || key_len > UINT32_MAX)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "outbox: topic or key too long");
        sl_be64(kb, t->next_id);
        v.mv_size = 2 + topic_len + 4 + key_len + value_len;
        v.mv_data = NULL;
        if ((rc = mdb_put(t->txn, t->ob->records, &k, &v, MDB_RESERVE | MDB_APPEND)))
                return sl_outbox_mdb_err(t->ob, rc, "put", errstr, errstr_size);
        p = v.mv_data;
        p[0] = (uint8_t)(topic_len >> 8);
        p[1] = (uint8_t)topic_len;
        memcpy(p + 2, topic, topic_len);
        p += 2 + topic_len;
        p[0] = (uint8_t)(key_len >> 24);
        p[1] = (uint8_t)(key_len >> 16);
        p[2] = (uint8_t)(key_len >> 8);
        p[3] = (uint8_t)key_len;
        if (key_len)
                memcpy(p + 4, key, key_len);
        if (value_len)
                memcpy(p + 4 + key_len, value, value_len);
        *idp = t->next_id++;
        t->added++;
        return SL_OK;
}

sl_err_t sl_outbox_del(sl_outbox_txn_t *t, uint64_t id, char *errstr, size_t errstr_size)
{
        uint8_t kb[8];
        MDB_val k = {8, kb};
        int rc;

        sl_be64(kb, id);
        rc = mdb_del(t->txn, t->ob->records, &k, NULL);
        if (rc == MDB_NOTFOUND)
                return SL_OK; /* delivered twice (a retry): gone already */
        if (rc)
                return sl_outbox_mdb_err(t->ob, rc, "del", errstr, errstr_size);
        t->added--;
        return SL_OK;
}

sl_err_t sl_outbox_seq_put(sl_outbox_txn_t *t, const char *node, int64_t incarnation, int64_t seq,
                           char *errstr, size_t errstr_size)
{
        uint8_t vb[16];
        MDB_val k = {strlen(node), (void *)node}, v = {16, vb};
        int rc;

        sl_be64(vb, (uint64_t)incarnation);
        sl_be64(vb + 8, (uint64_t)seq);
        if ((rc = mdb_put(t->txn, t->ob->seq, &k, &v, 0)))
                return sl_outbox_mdb_err(t->ob, rc, "put seq", errstr, errstr_size);
        return SL_OK;
}

sl_err_t sl_outbox_commit(sl_outbox_txn_t *t, char *errstr, size_t errstr_size)
{
        int rc = mdb_txn_commit(t->txn);

        t->txn = NULL;
        if (rc)
                return sl_outbox_mdb_err(t->ob, rc, "commit", errstr, errstr_size);
        t->ob->next_id = t->next_id;
        t->ob->count = (uint64_t)((int64_t)t->ob->count + t->added);
        return SL_OK;
}

void sl_outbox_abort(sl_outbox_txn_t *t)
{
        if (t && t->txn) {
                mdb_txn_abort(t->txn);
                t->txn = NULL;
        }
}

sl_err_t sl_outbox_seq_get(sl_outbox_t *ob, const char *node, int64_t *incp, int64_t *seqp,
                           char *errstr, size_t errstr_size)
{
        MDB_txn *txn;
        MDB_val k = {strlen(node), (void *)node}, v;
        sl_err_t err = SL_OK;
        int rc;

        if ((rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn)))
                return sl_outbox_mdb_err(ob, rc, "mdb_txn_begin", errstr, errstr_size);
        rc = mdb_get(txn, ob->seq, &k, &v);
        if (rc == MDB_NOTFOUND)
                err = SL_ERR_NOT_FOUND;
        else if (rc)
                err = sl_outbox_mdb_err(ob, rc, "get seq", errstr, errstr_size);
        else if (v.mv_size != 16)
                err =
                    sl_seterr(errstr, errstr_size, SL_ERR_IO, "outbox %s: bad seq entry", ob->dir);
        else {
                *incp = (int64_t)sl_rd64(v.mv_data);
                *seqp = (int64_t)sl_rd64((const uint8_t *)v.mv_data + 8);
        }
        mdb_txn_abort(txn);
        return err;
}

sl_err_t sl_outbox_walk(sl_outbox_t *ob, sl_outbox_walk_cb_t *cb, void *opaque, char *errstr,
                        size_t errstr_size)
{
        MDB_txn *txn;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sl_err_t err = SL_OK;
        int rc;

        if ((rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn)))
                return sl_outbox_mdb_err(ob, rc, "mdb_txn_begin", errstr, errstr_size);
        if ((rc = mdb_cursor_open(txn, ob->records, &cur))) {
                err = sl_outbox_mdb_err(ob, rc, "cursor", errstr, errstr_size);
                goto done;
        }
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                const uint8_t *p = v.mv_data, *end = p + v.mv_size;
                size_t tlen, klen;
                char topic[256];
                int r;

                if (k.mv_size != 8 || v.mv_size < 6 || (tlen = (size_t)(p[0] << 8 | p[1])) >= 256 ||
                    (size_t)(end - p) < 2 + tlen + 4)
                        goto bad;
                memcpy(topic, p + 2, tlen);
                topic[tlen] = '\0';
                p += 2 + tlen;
                klen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
                p += 4;
                if ((size_t)(end - p) < klen)
                        goto bad;
                if ((r = cb(sl_rd64(k.mv_data), topic, p, klen, p + klen, (size_t)(end - p - klen),
                            opaque))) {
                        err = (sl_err_t)r;
                        goto done;
                }
                continue;
        bad:
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "outbox %s: a corrupt record",
                                ob->dir);
                goto done;
        }
        if (rc != MDB_NOTFOUND)
                err = sl_outbox_mdb_err(ob, rc, "cursor", errstr, errstr_size);

done:
        if (cur)
                mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return err;
}
