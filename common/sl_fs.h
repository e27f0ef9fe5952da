/* Small file-system and byte-order helpers shared by the LMDB stores (outbox, projector). */
#ifndef SL_FS_H
#define SL_FS_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"

/** mkdir -p @p path (mode 0700 for what it creates). @returns 0, or -1 with errno. */
int sl_mkdirs(const char *path);

/**
 * @brief Creates @p dir (mkdir -p) and locks DIR/lock with flock() against any other process.
 *
 * @p what names the directory in errors ("outbox", "store"): a second process gets
 * SL_ERR_IO "WHAT DIR is in use by another process (DIR/lock is locked)".
 * @returns SL_OK with the lock's descriptor in *fdp (close it to unlock).
 */
sl_err_t sl_dir_lock(const char *what, const char *dir, int *fdp, char *errstr, size_t errstr_size);

/**
 * @brief Writes all @p len bytes of @p data to @p fd (retrying short writes and EINTR) and adds
 *        what was written to *@p bytesp (may be NULL). @returns SL_OK or SL_ERR_IO.
 */
sl_err_t sl_write_all(int fd, const void *data, size_t len, int64_t *bytesp, char *errstr,
                      size_t errstr_size);

static inline void sl_be64(uint8_t *p, uint64_t v)
{
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t)v;
}

static inline uint64_t sl_rd64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v = (v << 8) | p[i];
        return v;
}

static inline void sl_be32(uint8_t *p, uint32_t v)
{
        for (int i = 3; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t)v;
}

static inline uint32_t sl_rd32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
