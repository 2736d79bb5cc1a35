/* tests/testutil.h: helpers shared by the cmocka suites. */
#ifndef WEIR_TESTUTIL_H
#define WEIR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include "engine/engine.h"
#include "record/record.h"

/* A fresh directory under $TMPDIR (or /tmp); removed by tu_rmrf. */
char *tu_tmpdir(const char *tag);
/* A temporary directory in memory (/dev/shm when there is one, else as
 * tu_tmpdir): for tests that need the page cache's answers, not the disk's
 * durability, and would otherwise wait on a shared disk's fsyncs. */
char *tu_tmpdir_mem(const char *tag);
void tu_rmrf(const char *path);
/* Deterministic xorshift PRNG. */
uint64_t tu_rand(uint64_t *state);
/* Mutates p[0, n) in place for fuzzing (cap bytes available); returns the new length. */
size_t tu_mutate(uint8_t *p, size_t n, size_t cap, uint64_t *state);
/* Builds a batch of `count` records with keys "k<i>" and values of value_len
 * bytes derived from seed; timestamps ts0 + i*ts_step. Returns weir_malloc'd. */
uint8_t *tu_batch(int32_t count, size_t value_len, int64_t ts0, int64_t ts_step, enum weir_codec codec,
                  uint64_t seed, size_t *len);
/* Appends one batch to a log and runs the appender until it completes. */
enum weir_err tu_append_sync(struct weir_appender *ap, struct weir_log *log, uint8_t *batch, size_t len,
                             int64_t *base_offset);
/* File size in bytes, -1 when missing. */
int64_t tu_file_size(const char *path);

/* A private ZooKeeper server for replication tests: zkServer.sh
 * start-foreground (Debian's `zookeeper` package) on a free 127.0.0.1 port,
 * with its config, data and logs in a temp dir. The server runs in its own
 * process group and dies with the test process (PR_SET_PDEATHSIG). */
#define WEIR_TEST_ZK_SERVER "/usr/share/zookeeper/bin/zkServer.sh"
struct weir_test_zk {
    pid_t pid;          /* 0: not running */
    int port;
    char *dir;          /* weir_malloc'd; NULL once removed */
    char connect[32];   /* "127.0.0.1:<port>" */
};
/* Starts the server and waits (at most 90 s) until it serves (4lw "srvr"). 0: running; 77: ZooKeeper is not installed (skip); -1: it failed
 * (why and the server's output on stderr; nothing left behind). */
int weir_test_zk_start(struct weir_test_zk *zk);
/* SIGTERM, SIGKILL after 10 s, reaps it, removes its dir. Idempotent. */
void weir_test_zk_stop(struct weir_test_zk *zk);
/* SIGKILL, keeping its data (sessions last up to 60 s: maxSessionTimeout). */
void weir_test_zk_kill(struct weir_test_zk *zk);
/* Kills it if running and starts it again on the same port and data; waits
 * as weir_test_zk_start does. 0: serving; -1: failed (killed, dir kept). */
int weir_test_zk_restart(struct weir_test_zk *zk);

#endif
