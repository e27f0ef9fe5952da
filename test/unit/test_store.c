/*
 * Unit tests of the projector's store (projector/): apply and read back, the (incarnation, seq)
 * guard, offsets, abort, durability, the lock, the canonical hash, a full map and corrupt
 * entries. Each test works in its own temporary directory.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fill_full.h"
#include "sl_store.h"

#define MAX_BYTES    (64LL << 20)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char errstr[512];
static char tmpdir[256];
static char dir[300];

static void mk_tmpdir(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-test-store.XXXXXX");
        cr_assert(mkdtemp(tmpdir));
        snprintf(dir, sizeof(dir), "%s/store", tmpdir);
}

static void rm_tmpdir(void)
{
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_expect_eq(system(cmd), 0);
}

/* A minimal valid event; the status tells versions of one node apart. */
static sl_event_t *mk_event(const char *node, int64_t inc, int64_t seq, sl_node_status_t status)
{
        sl_event_t *e = sl_event_new();

        cr_assert(e);
        cr_assert_eq(sl_event_new_id(e), SL_OK);
        sl_event_set(e, &e->node_id, node);
        sl_event_set(e, &e->node_type, "auth");
        sl_event_set(e, &e->region, "r1");
        e->incarnation = inc;
        e->seq = seq;
        e->event_time_ms = 1732870000000 + seq;
        e->kind = SL_KIND_STATUS_CHANGE;
        e->status = status;
        return e;
}

static sl_store_t *open_store(const char *path, int64_t max_bytes)
{
        sl_store_t *s = NULL;

        cr_assert_eq(sl_store_open(path, max_bytes, &s, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert(s);
        return s;
}

/* Applies one event in its own transaction; @returns applied. */
static int apply1(sl_store_t *s, const sl_event_t *ev)
{
        sl_store_txn_t *txn;
        int applied = -1;

        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_apply(txn, ev, &applied, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        return applied;
}

/* Applies a (node, inc, seq, status) and destroys the event; @returns applied. */
static int apply_new(sl_store_t *s, const char *node, int64_t inc, int64_t seq,
                     sl_node_status_t status)
{
        sl_event_t *e = mk_event(node, inc, seq, status);
        int applied = apply1(s, e);

        sl_event_destroy(e);
        return applied;
}

static void hash_of(sl_store_t *s, char hex[SL_STORE_HASH_HEX_SIZE])
{
        cr_assert_eq(sl_store_hash(s, hex, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(strlen(hex), 64);
}

TestSuite(store, .init = mk_tmpdir, .fini = rm_tmpdir);

Test(store, full_event_round_trip)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *in = sl_event_new(), *out = sl_event_new();

        fill_full(in);
        cr_assert_eq(sl_store_node_count(s), 0);
        cr_assert_eq(apply1(s, in), 1);
        cr_assert_eq(sl_store_node_count(s), 1);
        cr_assert_eq(sl_store_node_get(s, "gw-eu-0001", out, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert(sl_event_equal(in, out));
        cr_expect_str_eq(out->services[0].meta[1].key, "tls");
        cr_expect_eq(out->usage.sensors[0].value, 61.5);
        cr_expect_eq(out->incarnation, 1732870000000);
        cr_expect_eq(out->seq, 9);

        cr_expect_eq(sl_store_node_get(s, "gw-eu-0002", out, errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_expect_str_eq(out->node_id, "", "a failed get leaves the event reset");
        cr_expect_eq(sl_store_node_get(s, "", out, errstr, sizeof(errstr)), SL_ERR_NOT_FOUND);
        sl_event_destroy(in);
        sl_event_destroy(out);
        sl_store_close(s);
}

Test(store, guard_ignores_duplicates_and_stale_events)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *out = sl_event_new();
        sl_store_txn_t *txn;
        int applied;

        cr_assert_eq(apply_new(s, "n1", 10, 5, SL_STATUS_UP), 1);
        cr_expect_eq(apply_new(s, "n1", 10, 4, SL_STATUS_DOWN), 0, "older seq");
        cr_expect_eq(apply_new(s, "n1", 10, 5, SL_STATUS_DOWN), 0, "equal seq");
        cr_expect_eq(apply_new(s, "n1", 9, 100, SL_STATUS_DOWN), 0, "older incarnation");
        cr_assert_eq(sl_store_node_get(s, "n1", out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(out->status, SL_STATUS_UP);
        cr_expect_eq(out->seq, 5);

        cr_expect_eq(apply_new(s, "n1", 10, 6, SL_STATUS_DEGRADED), 1, "newer seq");
        cr_expect_eq(apply_new(s, "n1", 11, 0, SL_STATUS_DRAINING), 1,
                     "newer incarnation, lower seq");
        cr_assert_eq(sl_store_node_get(s, "n1", out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(out->status, SL_STATUS_DRAINING);
        cr_expect_eq(out->incarnation, 11);
        cr_expect_eq(out->seq, 0);

        /* Within one transaction the guard sees the transaction's own writes. */
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (int i = 0; i < 3; i++) {
                sl_event_t *e = mk_event("n2", 1, i == 2 ? 0 : 7 + i, SL_STATUS_UP);

                e->status = i == 1 ? SL_STATUS_DOWN : SL_STATUS_UP;
                cr_assert_eq(sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)), SL_OK, "%s",
                             errstr);
                cr_expect_eq(applied, i < 2, "event %d", i);
                sl_event_destroy(e);
        }
        /* Reads see only committed state. */
        cr_expect_eq(sl_store_node_get(s, "n2", out, errstr, sizeof(errstr)), SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_node_get(s, "n2", out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(out->seq, 8);
        cr_expect_eq(out->status, SL_STATUS_DOWN);
        cr_expect_eq(sl_store_node_count(s), 2);
        sl_event_destroy(out);
        sl_store_close(s);
}

Test(store, invalid_event_is_an_error_and_writes_nothing)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *bad = mk_event("n1", 0, 1, SL_STATUS_UP), *good = mk_event("n1", 1, 1, 0);
        sl_store_txn_t *txn, *txn2;
        int applied = -1;

        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(sl_store_begin(s, &txn2, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG,
                     "one write transaction at a time");
        cr_expect_neq(sl_store_apply(txn, bad, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_expect(strstr(errstr, "incarnation"), "%s", errstr);
        cr_expect_eq(applied, 0);
        sl_event_set(bad, &bad->node_id, "");
        bad->incarnation = 5;
        cr_expect_neq(sl_store_apply(txn, bad, &applied, errstr, sizeof(errstr)), SL_OK);
        /* The transaction stays usable after a validation error. */
        cr_assert_eq(sl_store_apply(txn, good, &applied, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_expect_eq(applied, 1);
        /* A stale event is still validated. */
        bad->incarnation = 0;
        sl_event_set(bad, &bad->node_id, "n1");
        cr_expect_neq(sl_store_apply(txn, bad, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(sl_store_node_count(s), 1);
        sl_event_destroy(bad);
        sl_event_destroy(good);
        sl_store_close(s);
}

typedef struct {
        char topics[8][64];
        int32_t partitions[8];
        int64_t offsets[8];
        int n;
        int stop_after;
} offsets_seen_t;

static int on_offset(const char *topic, int32_t partition, int64_t next, void *opaque)
{
        offsets_seen_t *seen = opaque;

        cr_assert_lt(seen->n, 8);
        snprintf(seen->topics[seen->n], sizeof(seen->topics[0]), "%s", topic);
        seen->partitions[seen->n] = partition;
        seen->offsets[seen->n] = next;
        seen->n++;
        return seen->n == seen->stop_after ? 42 : 0;
}

Test(store, offsets_put_get_list)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_store_txn_t *txn;
        offsets_seen_t seen = {.n = 0};
        int64_t next = -1;

        cr_expect_eq(sl_store_offset_get(s, "state", 0, &next, errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_store_offsets(s, on_offset, &seen, errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(seen.n, 0);

        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_offset_put(txn, "state.b", 1, 7, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 256, 1000, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 2, 5, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 2, 6, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 0, 1LL << 40, errstr, sizeof(errstr)),
                     SL_OK);
        cr_expect_eq(sl_store_offset_put(txn, "state", -1, 0, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_expect_eq(sl_store_offset_put(txn, "state", 0, -1, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_expect_eq(sl_store_offset_put(txn, "", 0, 0, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);

        cr_assert_eq(sl_store_offset_get(s, "state", 2, &next, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_expect_eq(next, 6, "the last put wins");
        cr_assert_eq(sl_store_offset_get(s, "state", 0, &next, errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(next, 1LL << 40);
        cr_expect_eq(sl_store_offset_get(s, "state", 1, &next, errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_expect_eq(sl_store_offset_get(s, "state.c", 1, &next, errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);

        /* Ordered by topic, then partition (big-endian, so 256 after 2). */
        cr_assert_eq(sl_store_offsets(s, on_offset, &seen, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(seen.n, 4);
        cr_expect_str_eq(seen.topics[0], "state");
        cr_expect_eq(seen.partitions[0], 0);
        cr_expect_eq(seen.offsets[0], 1LL << 40);
        cr_expect_eq(seen.partitions[1], 2);
        cr_expect_eq(seen.offsets[1], 6);
        cr_expect_eq(seen.partitions[2], 256);
        cr_expect_eq(seen.offsets[2], 1000);
        cr_expect_str_eq(seen.topics[3], "state.b");
        cr_expect_eq(seen.partitions[3], 1);
        cr_expect_eq(seen.offsets[3], 7);

        /* A non-zero return stops the walk and is returned. */
        seen = (offsets_seen_t){.stop_after = 2};
        cr_expect_eq((int)sl_store_offsets(s, on_offset, &seen, errstr, sizeof(errstr)), 42);
        cr_expect_eq(seen.n, 2);
        sl_store_close(s);
}

Test(store, meta_put_get)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_store_txn_t *txn;
        char buf[32], small[4];

        cr_expect_eq(sl_store_meta_get(s, "group", buf, sizeof(buf), errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_meta_put(txn, "group", "proj-a", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_meta_put(txn, "empty", "", errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(sl_store_meta_put(txn, "", "x", errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_meta_get(s, "group", buf, sizeof(buf), errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_expect_str_eq(buf, "proj-a");
        cr_assert_eq(sl_store_meta_get(s, "empty", buf, sizeof(buf), errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_expect_str_eq(buf, "");
        cr_expect_eq(sl_store_meta_get(s, "group", small, sizeof(small), errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_expect(strstr(errstr, "7 bytes"), "%s", errstr);
        sl_store_close(s);
}

Test(store, abort_discards_state_and_offsets)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *e = mk_event("n1", 1, 1, SL_STATUS_UP), *out = sl_event_new();
        sl_event_t *e2 = mk_event("n2", 1, 1, SL_STATUS_UP);
        sl_store_txn_t *txn;
        int64_t next = -1;
        char buf[16];
        int applied;

        cr_assert_eq(apply1(s, e), 1);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        e->seq = 2;
        e->status = SL_STATUS_DOWN;
        cr_assert_eq(sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(applied, 1);
        cr_assert_eq(sl_store_apply(txn, e2, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 0, 99, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_meta_put(txn, "group", "g", errstr, sizeof(errstr)), SL_OK);
        sl_store_abort(txn);
        sl_store_abort(txn); /* a no-op once over */

        cr_expect_eq(sl_store_node_count(s), 1);
        cr_assert_eq(sl_store_node_get(s, "n1", out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(out->seq, 1);
        cr_expect_eq(out->status, SL_STATUS_UP);
        cr_expect_eq(sl_store_node_get(s, "n2", out, errstr, sizeof(errstr)), SL_ERR_NOT_FOUND);
        cr_expect_eq(sl_store_offset_get(s, "state", 0, &next, errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_expect_eq(sl_store_meta_get(s, "group", buf, sizeof(buf), errstr, sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        /* The same event applies after the abort. */
        cr_expect_eq(apply1(s, e), 1);
        sl_event_destroy(e);
        sl_event_destroy(e2);
        sl_event_destroy(out);
        sl_store_close(s);
}

Test(store, survives_close_and_reopen)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *in = sl_event_new(), *out = sl_event_new();
        sl_store_txn_t *txn;
        int64_t next = -1;
        char buf[16];
        int applied;

        fill_full(in);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_apply(txn, in, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 3, 12, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_meta_put(txn, "group", "g1", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(apply_new(s, "n2", 1, 1, SL_STATUS_UP), 1);
        /* A transaction left open at close is aborted. */
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_offset_put(txn, "state", 3, 13, errstr, sizeof(errstr)), SL_OK);
        sl_store_close(s);

        s = open_store(dir, MAX_BYTES);
        cr_expect_eq(sl_store_node_count(s), 2);
        cr_assert_eq(sl_store_node_get(s, "gw-eu-0001", out, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_expect(sl_event_equal(in, out));
        cr_assert_eq(sl_store_offset_get(s, "state", 3, &next, errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(next, 12);
        cr_assert_eq(sl_store_meta_get(s, "group", buf, sizeof(buf), errstr, sizeof(errstr)),
                     SL_OK);
        cr_expect_str_eq(buf, "g1");
        /* The guard holds across the reopen. */
        cr_expect_eq(apply1(s, in), 0);
        sl_event_destroy(in);
        sl_event_destroy(out);
        sl_store_close(s);
}

Test(store, second_opener_is_refused)
{
        sl_store_t *s = open_store(dir, MAX_BYTES), *t = NULL;

        cr_expect_eq(sl_store_open(dir, MAX_BYTES, &t, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_expect_null(t);
        cr_expect(strstr(errstr, "in use"), "%s", errstr);
        sl_store_close(s);
        /* Released on close. */
        t = open_store(dir, MAX_BYTES);
        sl_store_close(t);
}

/* The child of read_only_beside_a_writer: exit status 0 when everything held. */
static int read_only_child(int ready_fd, int go_fd)
{
        sl_store_t *r = NULL;
        sl_store_txn_t *txn;
        sl_event_t *ev = sl_event_new();
        char c = 0, h1[SL_STORE_HASH_HEX_SIZE], h2[SL_STORE_HASH_HEX_SIZE];
        int64_t next = -1;

        if (sl_store_open_flags(dir, MAX_BYTES, SL_STORE_READONLY, &r, errstr, sizeof(errstr)))
                return 10;
        if (sl_store_begin(r, &txn, errstr, sizeof(errstr)) != SL_ERR_INVALID_ARG)
                return 11;
        if (sl_store_pin(r, errstr, sizeof(errstr)) || sl_store_node_count(r) != 1 ||
            sl_store_hash(r, h1, errstr, sizeof(errstr)))
                return 12;
        if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
                return 13;
        /* The writer committed n2 and a new offset: the pinned view does not move. */
        if (sl_store_hash(r, h2, errstr, sizeof(errstr)) || strcmp(h1, h2) ||
            sl_store_node_get(r, "n2", ev, errstr, sizeof(errstr)) != SL_ERR_NOT_FOUND ||
            sl_store_offset_get(r, "t", 0, &next, errstr, sizeof(errstr)) || next != 5)
                return 14;
        sl_store_unpin(r);
        if (sl_store_node_get(r, "n2", ev, errstr, sizeof(errstr)) ||
            sl_store_offset_get(r, "t", 0, &next, errstr, sizeof(errstr)) || next != 9)
                return 15;
        sl_store_close(r);
        sl_event_destroy(ev);
        return 0;
}

Test(store, read_only_beside_a_writer)
{
        sl_store_t *s = open_store(dir, MAX_BYTES), *r = NULL;
        sl_store_txn_t *txn;
        int ready[2], go[2], status = -1;
        char c;
        pid_t pid;

        /* Not a store: refused, nothing created. */
        cr_expect_eq(
            sl_store_open_flags(tmpdir, MAX_BYTES, SL_STORE_READONLY, &r, errstr, sizeof(errstr)),
            SL_ERR_NOT_FOUND);
        cr_expect(strstr(errstr, "not a store"), "%s", errstr);
        cr_assert_eq(apply_new(s, "n1", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_offset_put(txn, "t", 0, 5, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(pipe(ready), 0);
        cr_assert_eq(pipe(go), 0);
        /* LMDB allows one environment handle per process: the reader is another process. */
        pid = fork();
        cr_assert_geq(pid, 0);
        if (!pid)
                _exit(read_only_child(ready[1], go[0]));
        cr_assert_eq(read(ready[0], &c, 1), 1);
        cr_assert_eq(apply_new(s, "n2", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_offset_put(txn, "t", 0, 9, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(write(go[1], "g", 1), 1);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader child: status %d", status);
        sl_store_close(s);
}

typedef struct {
        char nodes[8][32];
        int64_t seqs[8];
        int n;
} walk_seen_t;

static int on_node(const char *node_id, const sl_event_t *ev, void *opaque)
{
        walk_seen_t *seen = opaque;

        cr_assert_lt(seen->n, 8);
        cr_expect_str_eq(node_id, ev->node_id);
        snprintf(seen->nodes[seen->n], sizeof(seen->nodes[0]), "%s", node_id);
        seen->seqs[seen->n] = ev->seq;
        seen->n++;
        return 0;
}

static int stop_at_second(const char *node_id, const sl_event_t *ev, void *opaque)
{
        return ++*(int *)opaque == 2 ? 7 : 0;
}

Test(store, walk_in_key_order)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        walk_seen_t seen = {.n = 0};
        int calls = 0;

        cr_assert_eq(apply_new(s, "b", 1, 3, SL_STATUS_UP), 1);
        cr_assert_eq(apply_new(s, "a", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(apply_new(s, "ab", 1, 2, SL_STATUS_UP), 1);
        cr_assert_eq(sl_store_walk(s, on_node, &seen, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(seen.n, 3);
        cr_expect_str_eq(seen.nodes[0], "a");
        cr_expect_str_eq(seen.nodes[1], "ab");
        cr_expect_str_eq(seen.nodes[2], "b");
        cr_expect_eq(seen.seqs[2], 3);
        cr_expect_eq((int)sl_store_walk(s, stop_at_second, &calls, errstr, sizeof(errstr)), 7);
        cr_expect_eq(calls, 2);
        sl_store_close(s);
}

/* SHA-256 in hex of a buffer, independently of the store. */
static void sha256_hex(const void *data, size_t len, char hex[SL_STORE_HASH_HEX_SIZE])
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        cr_assert(EVP_Digest(data, len, d, &n, EVP_sha256(), NULL));
        cr_assert_eq(n, 32);
        for (unsigned int i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
        for (int i = bytes - 1; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t)v;
}

Test(store, hash_is_canonical)
{
        sl_store_t *a = open_store(dir, MAX_BYTES), *b;
        char dir_b[320], ha[SL_STORE_HASH_HEX_SIZE], hb[SL_STORE_HASH_HEX_SIZE];
        char expect[SL_STORE_HASH_HEX_SIZE];
        const struct {
                const char *node;
                int64_t inc, seq;
        } evs[] = {{"n1", 5, 1}, {"n2", 5, 1}, {"n1", 5, 2}, {"n3", 1, 9},
                   {"n1", 6, 0}, {"n2", 5, 3}, {"n3", 1, 9}, {"n1", 5, 7}};
        const size_t cnt = sizeof(evs) / sizeof(evs[0]);
        sl_store_txn_t *txn;
        sl_codec_t *codec;
        sl_event_t *e;
        sl_buf_t enc = {0}, img = {0};
        int applied;

        hash_of(a, ha);
        cr_expect_str_eq(ha, EMPTY_SHA256);

        /* In order one by one into a; into b in reverse, all in one transaction, with every event
         * twice and the offsets and meta of a different consumer group. */
        snprintf(dir_b, sizeof(dir_b), "%s/store-b", tmpdir);
        b = open_store(dir_b, MAX_BYTES);
        for (size_t i = 0; i < cnt; i++)
                apply_new(a, evs[i].node, evs[i].inc, evs[i].seq, SL_STATUS_UP);
        cr_assert_eq(sl_store_begin(b, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (size_t i = cnt; i-- > 0;) {
                for (int twice = 0; twice < 2; twice++) {
                        e = mk_event(evs[i].node, evs[i].inc, evs[i].seq, SL_STATUS_UP);
                        cr_assert_eq(sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)),
                                     SL_OK, "%s", errstr);
                        sl_event_destroy(e);
                }
        }
        cr_assert_eq(sl_store_offset_put(txn, "state", 0, 77, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_meta_put(txn, "group", "other", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        /* event_id is random per event, so use the same one everywhere: rewrite both stores'
         * states with fixed events. Their (inc, seq) are newer than any above. */
        for (int side = 0; side < 2; side++) {
                const char *nodes[] = {"n3", "n1", "n2"};

                for (int i = 0; i < 3; i++) {
                        e = mk_event(nodes[i], 100, i, SL_STATUS_UP);
                        sl_event_set(e, &e->event_id, "00000000-0000-4000-8000-000000000000");
                        cr_assert_eq(apply1(side ? b : a, e), 1);
                        sl_event_destroy(e);
                }
        }
        hash_of(a, ha);
        hash_of(b, hb);
        cr_expect_str_eq(ha, hb);
        cr_expect_str_neq(ha, EMPTY_SHA256);
        cr_expect_eq(sl_store_node_count(a), 3);
        cr_expect_eq(sl_store_node_count(b), 3);

        /* The documented layout, computed here from the events: u32 key length, key, u32 value
         * length, version 1, inc, seq, event_time_ms, Avro body without the wire header. */
        codec = sl_codec_new(99, errstr, sizeof(errstr));
        cr_assert(codec, "%s", errstr);
        for (int i = 0; i < 3; i++) {
                const char *node = (const char *[]){"n1", "n2", "n3"}[i];
                int seq = (int[]){1, 2, 0}[i];
                size_t at = img.len, klen = strlen(node), vlen;

                e = mk_event(node, 100, seq, SL_STATUS_UP);
                sl_event_set(e, &e->event_id, "00000000-0000-4000-8000-000000000000");
                cr_assert_eq(sl_codec_encode(codec, e, &enc, errstr, sizeof(errstr)), SL_OK);
                vlen = 25 + enc.len - SL_WIRE_HEADER_SIZE;
                cr_assert_eq(sl_buf_reserve(&img, at + 8 + klen + vlen), 0);
                put_be(img.data + at, klen, 4);
                memcpy(img.data + at + 4, node, klen);
                put_be(img.data + at + 4 + klen, vlen, 4);
                img.data[at + 8 + klen] = 1;
                put_be(img.data + at + 9 + klen, 100, 8);
                put_be(img.data + at + 17 + klen, (uint64_t)seq, 8);
                put_be(img.data + at + 25 + klen, (uint64_t)e->event_time_ms, 8);
                memcpy(img.data + at + 33 + klen, enc.data + SL_WIRE_HEADER_SIZE,
                       enc.len - SL_WIRE_HEADER_SIZE);
                img.len = at + 8 + klen + vlen;
                sl_event_destroy(e);
        }
        sha256_hex(img.data, img.len, expect);
        cr_expect_str_eq(ha, expect);

        /* One state differs: the hash differs. */
        e = mk_event("n2", 100, 5, SL_STATUS_DOWN);
        sl_event_set(e, &e->event_id, "00000000-0000-4000-8000-000000000000");
        cr_assert_eq(apply1(b, e), 1);
        hash_of(b, hb);
        cr_expect_str_neq(ha, hb);
        sl_event_destroy(e);

        /* Stable across a reopen. */
        sl_store_close(a);
        a = open_store(dir, MAX_BYTES);
        hash_of(a, hb);
        cr_expect_str_eq(ha, hb);

        sl_buf_free(&enc);
        sl_buf_free(&img);
        sl_codec_destroy(codec);
        sl_store_close(a);
        sl_store_close(b);
}

/* Writes 1000 nodes carrying a 3000-byte label in one transaction of @p s and commits it
 * (aborts it at the first error). @returns the first error, or SL_OK. */
static sl_err_t fill_store(sl_store_t *s)
{
        sl_event_t *e = mk_event("n0", 1, 1, SL_STATUS_UP);
        char label[3000], node[32];
        sl_store_txn_t *txn;
        sl_err_t err = SL_OK;
        int applied;

        memset(label, 'x', sizeof(label) - 1);
        label[sizeof(label) - 1] = '\0';
        cr_assert_eq(sl_event_add_label(e, "big", label), SL_OK);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (int i = 0; i < 1000 && !err; i++) {
                snprintf(node, sizeof(node), "n%d", i);
                sl_event_set(e, &e->node_id, node);
                err = sl_store_apply(txn, e, &applied, errstr, sizeof(errstr));
        }
        if (!err)
                err = sl_store_commit(txn, errstr, sizeof(errstr));
        else
                sl_store_abort(txn);
        sl_event_destroy(e);
        return err;
}

Test(store, full_map_is_a_clear_error_and_the_store_stays_usable)
{
        sl_store_t *s = open_store(dir, 256 << 10);
        sl_event_t *e, *out = sl_event_new();

        cr_expect_eq(fill_store(s), SL_ERR_NO_SPACE);
        cr_expect(strstr(errstr, "store full (max bytes 262144)"), "%s", errstr);
        cr_expect_eq(sl_store_node_count(s), 0);

        /* Usable after the abort. */
        e = mk_event("small", 1, 1, SL_STATUS_UP);
        cr_expect_eq(apply1(s, e), 1);
        cr_assert_eq(sl_store_node_get(s, "small", out, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_expect_eq(sl_store_node_count(s), 1);
        sl_event_destroy(e);
        sl_event_destroy(out);
        sl_store_close(s);
}

/* What the projector relies on to wait for room instead of exiting: a transaction refused for
 * lack of room (SL_ERR_NO_SPACE) left nothing behind, and the same transaction commits once
 * there is room (here: the store opened again with a larger map, as after a restart with a
 * larger store.max.bytes). */
Test(store, a_transaction_refused_for_room_commits_once_there_is_room)
{
        for (int64_t max = 256 << 10, round = 0; round < 2; max = 16 << 20, round++) {
                sl_store_t *s = open_store(dir, max);
                sl_err_t err = fill_store(s);

                if (!round) {
                        cr_expect_eq(err, SL_ERR_NO_SPACE, "%s", errstr);
                        cr_expect_eq(sl_store_node_count(s), 0);
                } else {
                        cr_expect_eq(err, SL_OK, "%s", errstr);
                        cr_expect_eq(sl_store_node_count(s), 1000);
                }
                sl_store_close(s);
        }
}

/*
 * Writes @p len bytes under @p key into the "nodes" database, bypassing the store; with @p val
 * NULL, copies the value stored under the key @p from instead.
 */
static void raw_put(const char *key, const void *val, size_t len, const char *from)
{
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

        cr_assert_eq(mdb_env_create(&env), 0);
        cr_assert_eq(mdb_env_set_maxdbs(env, 3), 0);
        cr_assert_eq(mdb_env_set_mapsize(env, MAX_BYTES), 0);
        cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
        cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
        cr_assert_eq(mdb_dbi_open(txn, "nodes", 0, &dbi), 0);
        if (!val) {
                MDB_val fk = {strlen(from), (void *)from};

                cr_assert_eq(mdb_get(txn, dbi, &fk, &v), 0);
        }
        cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        cr_assert_eq(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
}

Test(store, corrupt_entries_are_errors)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_event_t *e = mk_event("ok", 1, 1, SL_STATUS_UP), *out = sl_event_new();
        uint8_t junk[64];
        char hex[SL_STORE_HASH_HEX_SIZE];
        walk_seen_t seen = {.n = 0};
        sl_store_txn_t *txn;
        int applied;

        cr_assert_eq(apply1(s, e), 1);
        sl_store_close(s);

        /* Too short; a valid header over junk; an unknown format version; a valid entry under
         * another node's key. */
        memset(junk, 0xff, sizeof(junk));
        raw_put("bad-short", junk, 3, NULL);
        junk[0] = 1;
        memset(junk + 1, 0, 24);
        raw_put("bad-body", junk, sizeof(junk), NULL);
        junk[0] = 2;
        raw_put("bad-version", junk, sizeof(junk), NULL);
        raw_put("bad-key", NULL, 0, "ok");

        s = open_store(dir, MAX_BYTES);
        cr_expect_eq(sl_store_node_count(s), 5);
        cr_assert_eq(sl_store_node_get(s, "ok", out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (int i = 0; i < 4; i++) {
                const char *node =
                    (const char *[]){"bad-short", "bad-body", "bad-version", "bad-key"}[i];

                errstr[0] = '\0';
                cr_expect_eq(sl_store_node_get(s, node, out, errstr, sizeof(errstr)), SL_ERR_IO,
                             "%s", node);
                cr_expect(strstr(errstr, "corrupt") && strstr(errstr, node), "%s", errstr);
                cr_expect_str_eq(out->node_id, "");
        }
        cr_expect_eq(sl_store_walk(s, on_node, &seen, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_expect(strstr(errstr, "corrupt"), "%s", errstr);
        /* The hash reads the bytes as they are. */
        hash_of(s, hex);

        /* An event for a corrupt node is an error, not an overwrite of what cannot be compared. */
        sl_event_set(e, &e->node_id, "bad-short");
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_eq(sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_expect(strstr(errstr, "corrupt"), "%s", errstr);
        sl_store_abort(txn);
        sl_event_destroy(e);
        sl_event_destroy(out);
        sl_store_close(s);
}

/*
 * Many puts in one transaction, in no particular order, each replacing a value of another size
 * (LMDB then moves the entry within its page, or to another): every node ends with its newest
 * value, nothing else is added, and the store equals one that received only the newest events.
 */
Test(store, puts_replace_values_of_other_sizes_in_one_transaction)
{
        enum { NODES = 3000, ROUNDS = 4 };
        char node[32], cluster[200], hexa[SL_STORE_HASH_HEX_SIZE], hexb[SL_STORE_HASH_HEX_SIZE];
        char dir_b[320];
        sl_store_t *s = open_store(dir, MAX_BYTES), *b;
        sl_event_t *got = sl_event_new();
        sl_store_txn_t *txn;
        sl_buf_t val = {0};
        unsigned seed = 7;
        int applied;

        snprintf(dir_b, sizeof(dir_b), "%s/b", tmpdir);
        b = open_store(dir_b, MAX_BYTES);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        for (int round = 1; round <= ROUNDS; round++) {
                for (int k = 0; k < NODES; k++) {
                        int n = (int)(((unsigned)k * 7919u + (unsigned)round * 104729u) % NODES);
                        size_t clen = 1 + rand_r(&seed) % 150;
                        sl_event_t *e;

                        snprintf(node, sizeof(node), "n-%05d", n);
                        memset(cluster, 'a' + round, clen);
                        cluster[clen] = '\0';
                        e = mk_event(node, 1, round, SL_STATUS_UP);
                        sl_event_set(e, &e->cluster, cluster);
                        val.len = 0;
                        cr_assert_eq(sl_store_value(s, e, &val, errstr, sizeof(errstr)), SL_OK,
                                     "%s", errstr);
                        cr_assert_eq(sl_store_put(txn, node, strlen(node), val.data, val.len,
                                                  SL_SOURCE_AGENT, &applied, errstr,
                                                  sizeof(errstr)),
                                     SL_OK, "%s", errstr);
                        cr_assert_eq(applied, 1, "%s round %d", node, round);
                        /* The same event again, and an older one: both ignored. */
                        cr_assert_eq(sl_store_put(txn, node, strlen(node), val.data, val.len,
                                                  SL_SOURCE_AGENT, &applied, errstr,
                                                  sizeof(errstr)),
                                     SL_OK);
                        cr_assert_eq(applied, 0);
                        if (round == ROUNDS)
                                cr_assert_eq(apply1(b, e), 1);
                        sl_event_destroy(e);
                }
        }
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_node_count(s), NODES);
        for (int n = 0; n < NODES; n++) {
                snprintf(node, sizeof(node), "n-%05d", n);
                cr_assert_eq(sl_store_node_get(s, node, got, errstr, sizeof(errstr)), SL_OK,
                             "%s: %s", node, errstr);
                cr_assert_eq(got->seq, ROUNDS, "%s", node);
                cr_assert_eq(got->cluster[0], 'a' + ROUNDS, "%s", node);
        }
        hash_of(s, hexa);
        hash_of(b, hexb);
        cr_assert_str_eq(hexa, hexb);
        sl_buf_free(&val);
        sl_event_destroy(got);
        sl_store_close(b);
        sl_store_close(s);
}

Test(store, put_refuses_what_is_not_a_stored_value)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        static const uint8_t junk[30] = {9};
        sl_store_txn_t *txn;
        int applied = -1;

        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_put(txn, "n1", 2, junk, sizeof(junk), SL_SOURCE_AGENT, &applied,
                                  errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(applied, 0);
        cr_assert_eq(
            sl_store_put(txn, "n1", 2, junk, 3, SL_SOURCE_AGENT, &applied, errstr, sizeof(errstr)),
            SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_node_count(s), 0);
        sl_store_close(s);
}

static int collect_ids(const char *node_id, const sl_event_t *ev, void *opaque)
{
        char *out = opaque;

        (void)ev;
        strcat(out, node_id);
        strcat(out, ",");
        return 0;
}

/* A reader (another thread's) gets nodes, walks from after a key, and decodes a stored value. */
Test(store, reader_gets_walks_from_a_key_and_decodes)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_store_reader_t *r = sl_store_reader_new(s, errstr, sizeof(errstr));
        sl_event_t *ev = sl_event_new(), *e = mk_event("n2", 1, 5, SL_STATUS_DOWN);
        char ids[256] = "";
        sl_buf_t val = {0};

        cr_assert(r, "%s", errstr);
        cr_assert_eq(apply_new(s, "n1", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(apply1(s, e), 1);
        cr_assert_eq(apply_new(s, "n3", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(apply_new(s, "n10", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(sl_store_reader_get(r, "n2", ev, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(ev->seq, 5);
        cr_assert_eq(ev->status, SL_STATUS_DOWN);
        cr_assert_eq(sl_store_reader_get(r, "n9", ev, errstr, sizeof(errstr)), SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_store_reader_walk(r, NULL, collect_ids, ids, errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_str_eq(ids, "n1,n10,n2,n3,");
        ids[0] = '\0';
        /* After an existing key, and after one between keys. */
        cr_assert_eq(sl_store_reader_walk(r, "n10", collect_ids, ids, errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_str_eq(ids, "n2,n3,");
        ids[0] = '\0';
        cr_assert_eq(sl_store_reader_walk(r, "n2a", collect_ids, ids, errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_str_eq(ids, "n3,");
        cr_assert_eq(sl_store_value(s, e, &val, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_reader_decode(r, "n2", val.data, val.len, ev, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(ev->node_id, "n2");
        /* A value under another node's id is refused. */
        cr_assert_eq(sl_store_reader_decode(r, "n3", val.data, val.len, ev, errstr, sizeof(errstr)),
                     SL_ERR_IO);
        sl_buf_free(&val);
        sl_event_destroy(e);
        sl_event_destroy(ev);
        sl_store_reader_free(r);
        sl_store_close(s);
}

static int count_nodes(const char *node_id, const sl_event_t *ev, void *opaque)
{
        (void)node_id;
        (void)ev;
        ++*(int *)opaque;
        return 0;
}

/* The other thread of reader_pin_keeps_one_view: commits n3 and moves an offset. */
static void *commit_more(void *opaque)
{
        sl_store_t *s = opaque;
        sl_store_txn_t *txn;
        sl_event_t *e = mk_event("n3", 1, 1, SL_STATUS_UP);
        int applied = 0;

        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_offset_put(txn, "state", 0, 3, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        sl_event_destroy(e);
        return NULL;
}

/*
 * A pinned reader (what GET /v1/snapshot writes from) keeps one committed state for its
 * count, hash, offsets, walk and gets while the writer commits from another thread; the store
 * and its other readers see the new state; unpinning moves the reader to it.
 */
Test(store, reader_pin_keeps_one_view)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_store_reader_t *r = sl_store_reader_new(s, errstr, sizeof(errstr)),
                          *other = sl_store_reader_new(s, errstr, sizeof(errstr));
        char before[SL_STORE_HASH_HEX_SIZE], h[SL_STORE_HASH_HEX_SIZE];
        offsets_seen_t seen = {.n = 0};
        sl_event_t *ev = sl_event_new();
        sl_store_txn_t *txn;
        pthread_t th;
        int n = 0;

        cr_assert(r && other && ev, "%s", errstr);
        cr_assert_eq(apply_new(s, "n1", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(apply_new(s, "n2", 1, 1, SL_STATUS_UP), 1);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_offset_put(txn, "state", 0, 2, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_hash(s, before, errstr, sizeof(errstr)), SL_OK);

        cr_assert_eq(sl_store_reader_pin(r, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(pthread_create(&th, NULL, commit_more, s), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);

        /* The writer's commit is visible to the store and to an unpinned reader... */
        cr_expect_eq(sl_store_node_count(s), 3);
        cr_assert_eq(sl_store_reader_get(other, "n3", ev, errstr, sizeof(errstr)), SL_OK);
        /* ...but not to the pinned one: 2 nodes, the old hash, the old offset. */
        cr_expect_eq(sl_store_reader_count(r), 2);
        cr_assert_eq(sl_store_reader_hash(r, h, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect_str_eq(h, before);
        cr_assert_eq(sl_store_reader_offsets(r, on_offset, &seen, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(seen.n, 1);
        cr_expect_eq(seen.offsets[0], 2);
        cr_assert_eq(sl_store_reader_walk(r, NULL, count_nodes, &n, errstr, sizeof(errstr)), SL_OK);
        cr_expect_eq(n, 2);
        cr_expect_eq(sl_store_reader_get(r, "n3", ev, errstr, sizeof(errstr)), SL_ERR_NOT_FOUND);

        /* Unpinned: the current state. */
        sl_store_reader_unpin(r);
        cr_expect_eq(sl_store_reader_count(r), 3);
        cr_assert_eq(sl_store_reader_hash(r, h, errstr, sizeof(errstr)), SL_OK);
        cr_expect_str_neq(h, before);
        cr_expect_eq(sl_store_reader_get(r, "n3", ev, errstr, sizeof(errstr)), SL_OK);
        /* Freed while pinned: the transaction goes with it (LMDB would complain at close). */
        cr_assert_eq(sl_store_reader_pin(r, errstr, sizeof(errstr)), SL_OK);
        sl_store_reader_free(r);
        sl_store_reader_free(other);
        sl_event_destroy(ev);
        sl_store_close(s);
}

/* Where each node's state was read: written with the state, read back, not in the hash. */
Test(store, sources_are_kept_and_not_hashed)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);
        sl_store_reader_t *r = sl_store_reader_new(s, errstr, sizeof(errstr));
        char topic[64], before[SL_STORE_HASH_HEX_SIZE], after[SL_STORE_HASH_HEX_SIZE];
        sl_store_txn_t *txn;
        int32_t part = -1;
        int64_t off = -1;

        cr_assert(r, "%s", errstr);
        cr_assert_eq(apply_new(s, "n1", 1, 1, SL_STATUS_UP), 1);
        hash_of(s, before);
        cr_assert_eq(sl_store_reader_source(r, "n1", topic, sizeof(topic), &part, &off, errstr,
                                            sizeof(errstr)),
                     SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_store_begin(s, &txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_source_put(txn, "n1", 2, "seerlog.state.r.t", 4, 123456789012LL,
                                         errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_source_put(txn, "n1", 2, "", 4, 1, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_store_source_put(txn, "n1", 2, "t", -1, 1, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_store_commit(txn, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_store_reader_source(r, "n1", topic, sizeof(topic), &part, &off, errstr,
                                            sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(topic, "seerlog.state.r.t");
        cr_assert_eq(part, 4);
        cr_assert_eq(off, 123456789012LL);
        /* A topic buffer too small is an error, not a truncation. */
        cr_assert_neq(
            sl_store_reader_source(r, "n1", topic, 5, &part, &off, errstr, sizeof(errstr)), SL_OK);
        hash_of(s, after);
        cr_assert_str_eq(before, after);
        sl_store_reader_free(r);
        sl_store_close(s);
}

/* Applies node n1's event (inc, seq, source, status). @returns 1 if it was stored. */
static int apply_src(sl_store_t *s, int64_t inc, int64_t seq, sl_source_t source,
                     sl_node_status_t status)
{
        sl_event_t *ev = mk_event("n1", inc, seq, status);
        int applied;

        ev->source = source;
        applied = apply1(s, ev);
        sl_event_destroy(ev);
        return applied;
}

static sl_source_t stored_source(sl_store_t *s)
{
        sl_event_t *ev = sl_event_new();
        sl_source_t src;

        cr_assert_eq(sl_store_node_get(s, "n1", ev, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        src = ev->source;
        sl_event_destroy(ev);
        return src;
}

Test(store, native_events_win_over_bridged_ones)
{
        sl_store_t *s = open_store(dir, MAX_BYTES);

        /* The bridge speaks for the node; among its own events the numbers decide. */
        cr_expect_eq(apply_src(s, 5000, 1, SL_SOURCE_BRIDGE, SL_STATUS_UP), 1);
        cr_expect_eq(apply_src(s, 5000, 1, SL_SOURCE_BRIDGE, SL_STATUS_UP), 0);
        cr_expect_eq(apply_src(s, 5000, 2, SL_SOURCE_BRIDGE, SL_STATUS_DOWN), 1);
        /* The agent's first event takes over, though its incarnation is older. */
        cr_expect_eq(apply_src(s, 1000, 0, SL_SOURCE_AGENT, SL_STATUS_UP), 1);
        cr_expect_eq(stored_source(s), SL_SOURCE_AGENT);
        /* A bridged event, however new, does not replace it: no flapping between the two. */
        cr_expect_eq(apply_src(s, 9000, 0, SL_SOURCE_BRIDGE, SL_STATUS_DOWN), 0);
        cr_expect_eq(stored_source(s), SL_SOURCE_AGENT);
        /* The agent's own events still follow their numbers. */
        cr_expect_eq(apply_src(s, 1000, 0, SL_SOURCE_AGENT, SL_STATUS_UP), 0);
        cr_expect_eq(apply_src(s, 1000, 1, SL_SOURCE_AGENT, SL_STATUS_DEGRADED), 1);
        /* The agent is removed (left): the bridge speaks for the node again. */
        cr_expect_eq(apply_src(s, 1000, 2, SL_SOURCE_AGENT, SL_STATUS_LEFT), 1);
        cr_expect_eq(apply_src(s, 5000, 3, SL_SOURCE_BRIDGE, SL_STATUS_UP), 1);
        cr_expect_eq(stored_source(s), SL_SOURCE_BRIDGE);
        /* That bridged state was not a takeover: any native event replaces it. */
        cr_expect_eq(apply_src(s, 999, 0, SL_SOURCE_AGENT, SL_STATUS_UP), 1);
        cr_expect_eq(apply_src(s, 999, 1, SL_SOURCE_AGENT, SL_STATUS_LEFT), 1);
        /* A takeover (the label): a stale native event no longer replaces it, a newer one does. */
        {
                sl_event_t *ev = mk_event("n1", 6000, 0, SL_STATUS_UP);

                ev->source = SL_SOURCE_BRIDGE;
                cr_assert_eq(sl_event_add_label(ev, SL_TAKEOVER_LABEL, "1"), SL_OK);
                cr_expect_eq(apply1(s, ev), 1);
                sl_event_destroy(ev);
        }
        cr_expect_eq(apply_src(s, 999, 2, SL_SOURCE_AGENT, SL_STATUS_LEFT), 0);
        cr_expect_eq(stored_source(s), SL_SOURCE_BRIDGE);
        cr_expect_eq(apply_src(s, 7000, 0, SL_SOURCE_AGENT, SL_STATUS_UP), 1);
        cr_expect_eq(stored_source(s), SL_SOURCE_AGENT);
        /* Unknown (not bridge) counts as native. */
        cr_expect_eq(apply_src(s, 8000, 0, SL_SOURCE_UNKNOWN, SL_STATUS_UP), 1);
        cr_expect_eq(stored_source(s), SL_SOURCE_UNKNOWN);
        sl_store_close(s);
}

Test(store, supersedes_rule)
{
        /* Same side: the numbers. */
        cr_expect(
            sl_store_supersedes(2, 0, SL_SOURCE_AGENT, 1, 9, SL_SOURCE_AGENT, SL_STATUS_UP, 0));
        cr_expect(
            !sl_store_supersedes(1, 9, SL_SOURCE_AGENT, 1, 9, SL_SOURCE_AGENT, SL_STATUS_UP, 0));
        cr_expect(
            sl_store_supersedes(1, 3, SL_SOURCE_BRIDGE, 1, 2, SL_SOURCE_BRIDGE, SL_STATUS_UP, 0));
        /* Native over bridged, always; bridged over native only after a leave. */
        cr_expect(
            sl_store_supersedes(0, 0, SL_SOURCE_AGENT, 9, 9, SL_SOURCE_BRIDGE, SL_STATUS_UP, 0));
        cr_expect(
            !sl_store_supersedes(9, 9, SL_SOURCE_BRIDGE, 0, 0, SL_SOURCE_AGENT, SL_STATUS_UP, 0));
        cr_expect(
            sl_store_supersedes(0, 0, SL_SOURCE_BRIDGE, 9, 9, SL_SOURCE_AGENT, SL_STATUS_LEFT, 0));
}
