/* Avro Object Container Files written from pre-encoded record bodies (sl_ocf.h). */
#include "sl_ocf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <zlib.h>

#include "sl_fs.h"

#define SL_OCF_MAGIC "Obj\x01"

struct sl_ocf_writer_s {
        int fd;
        sl_ocf_codec_t codec;
        int64_t max_records;
        size_t max_bytes;
        sl_buf_t block; /* the uncompressed records of the current block */
        sl_buf_t out;   /* block header, (compressed) records and sync marker, as written */
        int64_t block_cnt, records, bytes;
        z_stream zs;
        int zs_ready;
        uint8_t sync[SL_OCF_SYNC_SIZE];
};

const char *sl_ocf_codec_name(sl_ocf_codec_t codec)
{
        return codec == SL_OCF_CODEC_DEFLATE ? "deflate" : "null";
}

sl_err_t sl_ocf_codec_parse(const char *name, sl_ocf_codec_t *codecp)
{
        if (!strcmp(name, "null"))
                *codecp = SL_OCF_CODEC_NULL;
        else if (!strcmp(name, "deflate"))
                *codecp = SL_OCF_CODEC_DEFLATE;
        else
                return SL_ERR_INVALID_ARG;
        return SL_OK;
}

int sl_ocf_put_long(sl_buf_t *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t tmp[10];
        size_t n = 0;

        do {
                tmp[n] = (uint8_t)(z & 0x7f);
                z >>= 7;
                if (z)
                        tmp[n] |= 0x80;
                n++;
        } while (z);
        return sl_buf_append(b, tmp, n);
}

int sl_ocf_put_bytes(sl_buf_t *b, const void *data, size_t len)
{
        return sl_ocf_put_long(b, (int64_t)len) || sl_buf_append(b, data, len) ? -1 : 0;
}

static sl_err_t sl_ocf_write(sl_ocf_writer_t *w, const void *data, size_t len, char *errstr,
                             size_t errstr_size)
{
        return sl_write_all(w->fd, data, len, &w->bytes, errstr, errstr_size);
}

void sl_ocf_writer_free(sl_ocf_writer_t *w)
{
        if (!w)
                return;
        if (w->zs_ready)
                deflateEnd(&w->zs);
        sl_buf_free(&w->block);
        sl_buf_free(&w->out);
        free(w);
}

sl_err_t sl_ocf_writer_new(int fd, const char *schema, sl_ocf_codec_t codec,
                           const char *const *meta, int64_t max_records, size_t max_bytes,
                           sl_ocf_writer_t **wp, char *errstr, size_t errstr_size)
{
        sl_ocf_writer_t *w;
        size_t pairs = 0;
        const char *name = sl_ocf_codec_name(codec);
        sl_err_t err;

        *wp = NULL;
        if (max_records <= 0 || !max_bytes)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "ocf: block limits must be > 0");
        while (meta && meta[2 * pairs])
                pairs++;
        if (!(w = calloc(1, sizeof(*w))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        w->fd = fd;
        w->codec = codec;
        w->max_records = max_records;
        w->max_bytes = max_bytes;
        if (codec == SL_OCF_CODEC_DEFLATE) {
                /* windowBits -15: raw deflate, no zlib header or Adler-32 (Avro's "deflate").
                 * Level 1: on seerlog's records half the time of the default level 6 for files
                 * 6-14% larger (measured on a simulated fleet's events and a 1M-node store). */
                if (deflateInit2(&w->zs, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
                    Z_OK) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "deflateInit2 failed");
                        goto fail;
                }
                w->zs_ready = 1;
        }
        if (getrandom(w->sync, sizeof(w->sync), 0) != (ssize_t)sizeof(w->sync)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "getrandom: %s", strerror(errno));
                goto fail;
        }
        /* The metadata map as one block of entries: count, the entries, then 0. */
        if (sl_buf_append(&w->out, SL_OCF_MAGIC, 4) ||
            sl_ocf_put_long(&w->out, (int64_t)pairs + 2) ||
            sl_ocf_put_bytes(&w->out, "avro.schema", 11) ||
            sl_ocf_put_bytes(&w->out, schema, strlen(schema)) ||
            sl_ocf_put_bytes(&w->out, "avro.codec", 10) ||
            sl_ocf_put_bytes(&w->out, name, strlen(name))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < pairs; i++) {
                const char *k = meta[2 * i], *v = meta[2 * i + 1] ? meta[2 * i + 1] : "";

                if (!strncmp(k, "avro.", 5)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                        "ocf: metadata key %s is reserved", k);
                        goto fail;
                }
                if (sl_ocf_put_bytes(&w->out, k, strlen(k)) ||
                    sl_ocf_put_bytes(&w->out, v, strlen(v))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto fail;
                }
        }
        if (sl_ocf_put_long(&w->out, 0) || sl_buf_append(&w->out, w->sync, sizeof(w->sync))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if ((err = sl_ocf_write(w, w->out.data, w->out.len, errstr, errstr_size)))
                goto fail;
        w->out.len = 0;
        *wp = w;
        return SL_OK;

fail:
        sl_ocf_writer_free(w);
        return err;
}

sl_buf_t *sl_ocf_block_buf(sl_ocf_writer_t *w)
{
        return &w->block;
}

sl_err_t sl_ocf_append(sl_ocf_writer_t *w, const void *data, size_t len, char *errstr,
                       size_t errstr_size)
{
        if (sl_buf_append(&w->block, data, len))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}

/* Compresses the block's records onto w->out. */
static sl_err_t sl_ocf_deflate(sl_ocf_writer_t *w, char *errstr, size_t errstr_size)
{
        uLong bound;
        size_t at;
        int zrc;

        if (w->block.len > UINT32_MAX)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "ocf: a block of %zu bytes is too large to compress",
                                 w->block.len);
        bound = deflateBound(&w->zs, (uLong)w->block.len);
        at = w->out.len;
        if (sl_buf_reserve(&w->out, at + bound))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        deflateReset(&w->zs);
        w->zs.next_in = w->block.data;
        w->zs.avail_in = (uInt)w->block.len;
        w->zs.next_out = w->out.data + at;
        w->zs.avail_out = (uInt)bound;
        zrc = deflate(&w->zs, Z_FINISH);
        if (zrc != Z_STREAM_END)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "deflate failed (%d)", zrc);
        w->out.len = at + (bound - w->zs.avail_out);
        return SL_OK;
}

sl_err_t sl_ocf_flush(sl_ocf_writer_t *w, char *errstr, size_t errstr_size)
{
        sl_buf_t head = {0};
        uint8_t hb[20];
        sl_err_t err;

        if (!w->block_cnt)
                return SL_OK;
        w->out.len = 0;
        if (w->codec == SL_OCF_CODEC_DEFLATE) {
                if ((err = sl_ocf_deflate(w, errstr, errstr_size)))
                        return err;
        } else if (sl_buf_append(&w->out, w->block.data, w->block.len)) {
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        /* The block header (count, size) is at most 20 bytes: encode it on the stack. */
        head.data = hb;
        head.cap = sizeof(hb);
        if (sl_ocf_put_long(&head, w->block_cnt) || sl_ocf_put_long(&head, (int64_t)w->out.len))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((err = sl_ocf_write(w, head.data, head.len, errstr, errstr_size)) ||
            (err = sl_ocf_write(w, w->out.data, w->out.len, errstr, errstr_size)) ||
            (err = sl_ocf_write(w, w->sync, sizeof(w->sync), errstr, errstr_size)))
                return err;
        w->block.len = 0;
        w->block_cnt = 0;
        return SL_OK;
}

sl_err_t sl_ocf_record_end(sl_ocf_writer_t *w, char *errstr, size_t errstr_size)
{
        w->block_cnt++;
        w->records++;
        if (w->block_cnt >= w->max_records || w->block.len >= w->max_bytes)
                return sl_ocf_flush(w, errstr, errstr_size);
        return SL_OK;
}

int64_t sl_ocf_records(const sl_ocf_writer_t *w)
{
        return w->records;
}

int64_t sl_ocf_bytes(const sl_ocf_writer_t *w)
{
        return w->bytes;
}
