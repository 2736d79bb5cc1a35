/* base/io.c: the syscall seam, clocks, and atomic small-file writes. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int posix_open(const char *path, int flags, mode_t mode) { return open(path, flags | O_CLOEXEC, mode); }

const struct weir_io_ops weir_io_posix = {
    .open = posix_open,
    .pwrite = pwrite,
    .pread = pread,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .fallocate = fallocate,
    .rename = rename,
    .unlink = unlink,
};
const struct weir_io_ops *weir_io = &weir_io_posix;

int64_t weir_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t weir_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void weir_path_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, cap, ".");
        return;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1; /* "/x" -> "/" */
    snprintf(out, cap, "%.*s", (int)n, path);
}

enum weir_err weir_fsync_dir(const char *dir)
{
    int fd = weir_io->open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) return weir_err_from_errno(errno);
    int rc = weir_io->fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        weir_log(WEIR_LOG_ERROR, "fsync of directory %s failed: %s", dir, strerror(saved));
        return WEIR_E_IO;
    }
    return WEIR_OK;
}

/* A full file system (ENOSPC, EDQUOT) is WEIR_E_NOSPACE, so callers and users
 * can tell "no room" (retriable once space returns) from an I/O error. */
static enum weir_err write_err(int errnum)
{
    return errnum == ENOSPC || errnum == EDQUOT ? WEIR_E_NOSPACE : WEIR_E_IO;
}

static enum weir_err write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    for (off_t off = 0; (size_t)off < n;) {
        ssize_t w = weir_io->pwrite(fd, p + off, n - (size_t)off, off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return write_err(errno);
        if (w == 0) return WEIR_E_IO;
        off += w;
    }
    return WEIR_OK;
}

enum weir_err weir_write_file_atomic(const char *path, const void *buf, size_t n)
{
    char tmp[4096], dir[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return WEIR_E_TOO_LARGE;
    weir_path_dir(path, dir, sizeof dir);
    int fd = weir_io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int saved = errno; /* logging may change errno */
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "create %s: %s", tmp, strerror(saved));
        return weir_err_from_errno(saved);
    }
    enum weir_err err = write_all(fd, buf, n);
    if (err == WEIR_OK && weir_io->fsync(fd) != 0) err = write_err(errno);
    int saved = errno;
    close(fd);
    if (err == WEIR_OK && weir_io->rename(tmp, path) != 0) {
        saved = errno;
        err = write_err(saved);
    }
    if (err != WEIR_OK) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "atomic write of %s failed: %s", path, strerror(saved));
        unlink(tmp);
        return err;
    }
    return weir_fsync_dir(dir);
}

enum weir_err weir_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    int fd = weir_io->open(path, O_RDONLY, 0);
    if (fd < 0) return weir_err_from_errno(errno);
    struct stat st;
    enum weir_err err = WEIR_OK;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) err = WEIR_E_IO;
    else if ((uint64_t)st.st_size > max) err = WEIR_E_TOO_LARGE;
    else if (!(buf = weir_malloc((size_t)st.st_size + 1))) err = WEIR_E_NOMEM;
    size_t got = 0;
    while (err == WEIR_OK && got < (size_t)st.st_size) {
        ssize_t r = weir_io->pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) err = WEIR_E_IO;
        else got += (size_t)r;
    }
    close(fd);
    if (err != WEIR_OK) {
        weir_free(buf);
        return err;
    }
    buf[got] = '\0';
    *out = buf;
    if (out_len) *out_len = got;
    return WEIR_OK;
}
