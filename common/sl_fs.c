#include "sl_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sl_mkdirs(const char *path)
{
        char *p = strdup(path);
        int ret = 0;

        if (!p)
                return -1;
        for (char *s = p + 1;; s++) {
                if (*s == '/' || !*s) {
                        char c = *s;

                        *s = '\0';
                        if (mkdir(p, 0700) && errno != EEXIST) {
                                ret = -1;
                                break;
                        }
                        *s = c;
                        if (!c)
                                break;
                }
        }
        free(p);
        return ret;
}

sl_err_t sl_dir_lock(const char *what, const char *dir, int *fdp, char *errstr, size_t errstr_size)
{
        char *lock = NULL;
        sl_err_t err = SL_ERR_IO;
        int fd = -1;

        if (sl_mkdirs(dir)) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s %s: cannot create: %s", what, dir,
                          strerror(errno));
                goto fail;
        }
        if (asprintf(&lock, "%s/lock", dir) < 0) {
                lock = NULL;
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s %s: %s", what, lock, strerror(errno));
                goto fail;
        }
        if (flock(fd, LOCK_EX | LOCK_NB)) {
                if (errno == EWOULDBLOCK)
                        sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                  "%s %s is in use by another process (%s is locked)", what, dir,
                                  lock);
                else
                        sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s %s: flock: %s", what, lock,
                                  strerror(errno));
                goto fail;
        }
        free(lock);
        *fdp = fd;
        return SL_OK;

fail:
        if (fd >= 0)
                close(fd);
        free(lock);
        return err;
}

sl_err_t sl_write_all(int fd, const void *data, size_t len, int64_t *bytesp, char *errstr,
                      size_t errstr_size)
{
        const uint8_t *p = data;

        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return sl_seterr(errstr, errstr_size, SL_ERR_IO, "writing: %s",
                                         strerror(errno));
                p += n;
                len -= (size_t)n;
                if (bytesp)
                        *bytesp += n;
        }
        return SL_OK;
}
