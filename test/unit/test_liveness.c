/*
 * Unit tests of the projector's liveness tracking (projector/sl_liveness.h): thresholds, leave
 * and rejoin, the inventory, stretched intervals, the time base (replays, clock skew), 100,000
 * nodes, a randomised comparison against a brute-force model, and NodeLiveness records against
 * Avro C.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

#include "sl_liveness.h"

#define T0 1732870000000LL /* a wall-clock time, ms */

static char errstr[512];

/* ---- Recording callbacks ---- */

typedef struct {
        char node[64];
        sl_liveness_state_t old_state, new_state;
        int64_t since, last_heard;
} change_t;

typedef struct {
        change_t c[64];
        size_t cnt;
} rec_t;

static void record_cb(const char *node_id, sl_liveness_state_t old_state,
                      sl_liveness_state_t new_state, int64_t since_ms, int64_t last_heard_ms,
                      void *opaque)
{
        rec_t *r = opaque;

        cr_assert_lt(r->cnt, sizeof(r->c) / sizeof(r->c[0]));
        snprintf(r->c[r->cnt].node, sizeof(r->c[r->cnt].node), "%s", node_id);
        r->c[r->cnt].old_state = old_state;
        r->c[r->cnt].new_state = new_state;
        r->c[r->cnt].since = since_ms;
        r->c[r->cnt].last_heard = last_heard_ms;
        r->cnt++;
}

/* Ticks and expects exactly @p n changes, returned in @p r (cleared first). */
static void tick_expect(sl_liveness_t *lv, rec_t *r, int64_t now, int64_t interval, size_t n)
{
        size_t got;

        r->cnt = 0;
        got = sl_liveness_tick(lv, now, interval, record_cb, r);
        cr_assert_eq(got, r->cnt);
        cr_assert_eq(got, n, "tick at T0%+lld (interval %lld): %zu changes, expected %zu",
                     (long long)(now - T0), (long long)interval, got, n);
}

static const change_t *find_change(const rec_t *r, const char *node)
{
        for (size_t i = 0; i < r->cnt; i++)
                if (!strcmp(r->c[i].node, node))
                        return &r->c[i];
        cr_assert_fail("no change reported for %s", node);
        return NULL;
}

static void expect_change(const rec_t *r, const char *node, sl_liveness_state_t old_state,
                          sl_liveness_state_t new_state, int64_t since, int64_t last_heard)
{
        const change_t *c = find_change(r, node);

        cr_expect_eq(c->old_state, old_state, "%s: old %s, expected %s", node,
                     sl_liveness_state_name(c->old_state), sl_liveness_state_name(old_state));
        cr_expect_eq(c->new_state, new_state, "%s: new %s, expected %s", node,
                     sl_liveness_state_name(c->new_state), sl_liveness_state_name(new_state));
        cr_expect_eq(c->since, since, "%s: since T0%+lld, expected T0%+lld", node,
                     (long long)(c->since - T0), (long long)(since - T0));
        cr_expect_eq(c->last_heard, last_heard, "%s: last heard %lld, expected %lld", node,
                     (long long)c->last_heard, (long long)last_heard);
}

static sl_liveness_t *new_default(void)
{
        sl_liveness_conf_t lconf;
        sl_liveness_t *lv;

        sl_liveness_conf_init(&lconf, NULL);
        cr_assert_eq(lconf.suspect_intervals, 3);
        cr_assert_eq(lconf.dead_intervals, 10);
        lv = sl_liveness_new(&lconf, errstr, sizeof(errstr));
        cr_assert(lv, "%s", errstr);
        return lv;
}

static void observe(sl_liveness_t *lv, const char *node, sl_event_kind_t kind, int64_t event_time,
                    int64_t receipt)
{
        cr_assert_eq(
            sl_liveness_observe(lv, node, kind, event_time, receipt, errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
}

static void expect_state(sl_liveness_t *lv, const char *node, sl_liveness_state_t state)
{
        sl_liveness_state_t got;

        cr_assert_eq(sl_liveness_get(lv, node, &got, NULL, NULL), SL_OK, "%s", node);
        cr_expect_eq(got, state, "%s: %s, expected %s", node, sl_liveness_state_name(got),
                     sl_liveness_state_name(state));
}

/* ---- Names, configuration ---- */

Test(liveness, state_names_round_trip)
{
        sl_liveness_state_t s;

        for (int i = 0; i < SL_LIVENESS__CNT; i++) {
                cr_assert_eq(sl_liveness_state_parse(sl_liveness_state_name(i), &s), SL_OK);
                cr_assert_eq((int)s, i);
        }
        cr_assert_str_eq(sl_liveness_state_name(SL_LIVENESS_SUSPECT), "suspect");
        cr_assert_str_eq(sl_liveness_state_name(SL_LIVENESS_MISSING), "missing");
        cr_assert_str_eq(sl_liveness_state_name(SL_LIVENESS__CNT), "unknown");
        cr_assert_eq(sl_liveness_state_parse("zombie", &s), SL_ERR_BAD_ENUM);
        cr_assert_eq(sl_liveness_state_parse(NULL, &s), SL_ERR_BAD_ENUM);
}

Test(liveness, conf_from_keys_and_bad_thresholds)
{
        sl_conf_t *conf = sl_conf_new();
        sl_liveness_conf_t lconf;

        cr_assert(conf);
        sl_liveness_conf_init(&lconf, conf);
        cr_assert_eq(lconf.suspect_intervals, 3);
        cr_assert_eq(lconf.dead_intervals, 10);
        cr_assert_str_eq(sl_conf_get(conf, "liveness.topic"), "seerlog.liveness");
        cr_assert_str_eq(sl_conf_get(conf, "inventory.file"), "");
        cr_assert_eq(sl_conf_set(conf, "liveness.suspect.intervals", "5", errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "liveness.dead.intervals", "7", errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(sl_conf_set(conf, "liveness.suspect.intervals", "0", errstr, sizeof(errstr)),
                     SL_ERR_CONFIG);
        sl_liveness_conf_init(&lconf, conf);
        cr_assert_eq(lconf.suspect_intervals, 5);
        cr_assert_eq(lconf.dead_intervals, 7);
        sl_conf_destroy(conf);

        lconf.suspect_intervals = 5;
        lconf.dead_intervals = 5;
        cr_assert_null(sl_liveness_new(&lconf, errstr, sizeof(errstr)));
        cr_assert(strstr(errstr, "suspect intervals (5) < dead intervals (5)"), "%s", errstr);
        lconf.suspect_intervals = 0;
        lconf.dead_intervals = 5;
        cr_assert_null(sl_liveness_new(&lconf, errstr, sizeof(errstr)));
        cr_assert_null(sl_liveness_new(NULL, errstr, sizeof(errstr)));
}

Test(liveness, bad_arguments)
{
        sl_liveness_t *lv = new_default();

        cr_assert_eq(
            sl_liveness_observe(lv, "a b", SL_KIND_HEARTBEAT, T0, T0, errstr, sizeof(errstr)),
            SL_ERR_INVALID_ARG);
        cr_assert(strstr(errstr, "node id"), "%s", errstr);
        cr_assert_eq(sl_liveness_observe(lv, "", SL_KIND_HEARTBEAT, T0, T0, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(
            sl_liveness_observe(lv, NULL, SL_KIND_HEARTBEAT, T0, T0, errstr, sizeof(errstr)),
            SL_ERR_INVALID_ARG);
        cr_assert_eq(
            sl_liveness_observe(lv, "n1", SL_KIND_HEARTBEAT, -5, T0, errstr, sizeof(errstr)),
            SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_liveness_expect(lv, "..", errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        /* Nothing was recorded. */
        cr_assert_eq(sl_liveness_node_count(lv), 0);
        cr_assert_eq(sl_liveness_get(lv, "n1", NULL, NULL, NULL), SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_liveness_tick(lv, T0, 1000, NULL, NULL), 0);
        sl_liveness_destroy(lv);
        sl_liveness_destroy(NULL);
}

/* ---- Transitions ---- */

Test(liveness, alive_suspect_dead_at_exact_thresholds)
{
        sl_liveness_t *lv = new_default();
        sl_liveness_state_t st;
        int64_t since, lh;
        size_t counts[SL_LIVENESS__CNT];
        rec_t r;

        observe(lv, "n1", SL_KIND_JOIN, T0, T0);
        expect_state(lv, "n1", SL_LIVENESS_UNKNOWN); /* until a tick */
        cr_assert_eq(sl_liveness_get(lv, "n1", &st, &since, &lh), SL_OK);
        cr_assert_eq(since, -1);
        cr_assert_eq(lh, T0);

        tick_expect(lv, &r, T0, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, T0, T0);
        /* Silence of exactly 3 intervals is still alive; one ms more is suspect. */
        tick_expect(lv, &r, T0 + 3000, 1000, 0);
        tick_expect(lv, &r, T0 + 3001, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 3001, T0);
        tick_expect(lv, &r, T0 + 3002, 1000, 0);
        tick_expect(lv, &r, T0 + 10000, 1000, 0);
        tick_expect(lv, &r, T0 + 10001, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_SUSPECT, SL_LIVENESS_DEAD, T0 + 10001, T0);
        tick_expect(lv, &r, T0 + 50000, 1000, 0);
        cr_assert_eq(sl_liveness_get(lv, "n1", &st, &since, &lh), SL_OK);
        cr_assert_eq(st, SL_LIVENESS_DEAD);
        cr_assert_eq(since, T0 + 10001);

        /* A new event brings it back, since its heard time. */
        observe(lv, "n1", SL_KIND_HEARTBEAT, T0 + 60000, T0 + 60010);
        expect_state(lv, "n1", SL_LIVENESS_DEAD);
        tick_expect(lv, &r, T0 + 60020, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_DEAD, SL_LIVENESS_ALIVE, T0 + 60000, T0 + 60000);

        /* Suspect then back to alive on an event. */
        tick_expect(lv, &r, T0 + 63001, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 63001, T0 + 60000);
        observe(lv, "n1", SL_KIND_USAGE, T0 + 63500, T0 + 63500);
        tick_expect(lv, &r, T0 + 63600, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_SUSPECT, SL_LIVENESS_ALIVE, T0 + 63500, T0 + 63500);

        /* A tick that skips over both thresholds goes straight to dead. */
        tick_expect(lv, &r, T0 + 63500 + 10001, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_ALIVE, SL_LIVENESS_DEAD, T0 + 63500 + 10001,
                      T0 + 63500);
        sl_liveness_counts(lv, counts);
        cr_assert_eq(counts[SL_LIVENESS_DEAD], 1);
        cr_assert_eq(counts[SL_LIVENESS_ALIVE] + counts[SL_LIVENESS_SUSPECT], 0);
        sl_liveness_destroy(lv);
}

Test(liveness, other_thresholds)
{
        sl_liveness_conf_t lconf = {.suspect_intervals = 2, .dead_intervals = 5};
        sl_liveness_t *lv = sl_liveness_new(&lconf, errstr, sizeof(errstr));
        rec_t r;

        cr_assert(lv, "%s", errstr);
        observe(lv, "n1", SL_KIND_HEARTBEAT, T0, T0);
        tick_expect(lv, &r, T0, 100, 1);
        tick_expect(lv, &r, T0 + 200, 100, 0);
        tick_expect(lv, &r, T0 + 201, 100, 1);
        expect_change(&r, "n1", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 201, T0);
        tick_expect(lv, &r, T0 + 500, 100, 0);
        tick_expect(lv, &r, T0 + 501, 100, 1);
        expect_change(&r, "n1", SL_LIVENESS_SUSPECT, SL_LIVENESS_DEAD, T0 + 501, T0);
        sl_liveness_destroy(lv);
}

Test(liveness, leave_left_and_rejoin)
{
        sl_liveness_t *lv = new_default();
        rec_t r;

        observe(lv, "n1", SL_KIND_JOIN, T0, T0);
        tick_expect(lv, &r, T0 + 100, 1000, 1);
        observe(lv, "n1", SL_KIND_LEAVE, T0 + 500, T0 + 510);
        tick_expect(lv, &r, T0 + 600, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_ALIVE, SL_LIVENESS_LEFT, T0 + 500, T0 + 500);
        /* A left node does not age. */
        tick_expect(lv, &r, T0 + 3600000, 1000, 0);
        expect_state(lv, "n1", SL_LIVENESS_LEFT);
        /* Rejoin. */
        observe(lv, "n1", SL_KIND_JOIN, T0 + 3600100, T0 + 3600100);
        tick_expect(lv, &r, T0 + 3600200, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_LEFT, SL_LIVENESS_ALIVE, T0 + 3600100, T0 + 3600100);
        /* Leaving again and a heartbeat before the next tick: still alive, nothing reported. */
        observe(lv, "n1", SL_KIND_LEAVE, T0 + 3600300, T0 + 3600300);
        observe(lv, "n1", SL_KIND_HEARTBEAT, T0 + 3600400, T0 + 3600400);
        tick_expect(lv, &r, T0 + 3600500, 1000, 0);
        expect_state(lv, "n1", SL_LIVENESS_ALIVE);
        /* A node whose first event is a leave (e.g. a replay) is left, not dead. */
        observe(lv, "n2", SL_KIND_LEAVE, T0, T0 + 3600500);
        tick_expect(lv, &r, T0 + 3600600, 1000, 1);
        expect_change(&r, "n2", SL_LIVENESS_UNKNOWN, SL_LIVENESS_LEFT, T0, T0);
        sl_liveness_destroy(lv);
}

Test(liveness, inventory_nodes_missing_until_heard)
{
        sl_liveness_t *lv = new_default();
        size_t counts[SL_LIVENESS__CNT];
        int64_t since, lh;
        rec_t r;

        cr_assert_eq(sl_liveness_expect(lv, "n1", errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_liveness_expect(lv, "n2", errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_liveness_expect(lv, "n1", errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        observe(lv, "n2", SL_KIND_JOIN, T0, T0);
        observe(lv, "n3", SL_KIND_JOIN, T0, T0); /* not in the inventory */
        cr_assert_eq(sl_liveness_node_count(lv), 3);
        sl_liveness_counts(lv, counts);
        cr_assert_eq(counts[SL_LIVENESS_UNKNOWN], 3);

        tick_expect(lv, &r, T0 + 10, 1000, 3);
        expect_change(&r, "n1", SL_LIVENESS_UNKNOWN, SL_LIVENESS_MISSING, T0 + 10, -1);
        expect_change(&r, "n2", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, T0, T0);
        expect_change(&r, "n3", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, T0, T0);
        cr_assert_eq(sl_liveness_get(lv, "n1", NULL, &since, &lh), SL_OK);
        cr_assert_eq(since, T0 + 10);
        cr_assert_eq(lh, -1);
        /* Missing does not age into dead. */
        tick_expect(lv, &r, T0 + 20000, 1000, 2); /* n2 and n3 die */
        expect_state(lv, "n1", SL_LIVENESS_MISSING);
        /* Expecting a known node changes nothing; a new one is reported at the next tick. */
        cr_assert_eq(sl_liveness_expect(lv, "n2", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_liveness_expect(lv, "n4", errstr, sizeof(errstr)), SL_OK);
        tick_expect(lv, &r, T0 + 20001, 1000, 1);
        expect_change(&r, "n4", SL_LIVENESS_UNKNOWN, SL_LIVENESS_MISSING, T0 + 20001, -1);
        /* Heard: missing -> alive. */
        observe(lv, "n1", SL_KIND_JOIN, T0 + 20500, T0 + 20500);
        tick_expect(lv, &r, T0 + 20600, 1000, 1);
        expect_change(&r, "n1", SL_LIVENESS_MISSING, SL_LIVENESS_ALIVE, T0 + 20500, T0 + 20500);
        sl_liveness_counts(lv, counts);
        cr_assert_eq(counts[SL_LIVENESS_ALIVE], 1);
        cr_assert_eq(counts[SL_LIVENESS_DEAD], 2);
        cr_assert_eq(counts[SL_LIVENESS_MISSING], 1);
        cr_assert_eq(counts[SL_LIVENESS_UNKNOWN], 0);
        sl_liveness_destroy(lv);
}

Test(liveness, stretched_interval_delays_suspicion)
{
        sl_liveness_t *lv = new_default();
        rec_t r;

        observe(lv, "a", SL_KIND_HEARTBEAT, T0, T0);
        observe(lv, "b", SL_KIND_HEARTBEAT, T0, T0);
        tick_expect(lv, &r, T0, 1000, 2);
        /* While the projector reports high lag it passes heartbeat.max.interval.ms: 3 * 30 s of
         * silence before suspicion instead of 3 s. */
        tick_expect(lv, &r, T0 + 5000, 30000, 0);
        tick_expect(lv, &r, T0 + 90000, 30000, 0);
        tick_expect(lv, &r, T0 + 90001, 30000, 2);
        expect_change(&r, "a", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 90001, T0);
        expect_change(&r, "b", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 90001, T0);
        tick_expect(lv, &r, T0 + 300000, 30000, 0);
        tick_expect(lv, &r, T0 + 300001, 30000, 2);
        expect_change(&r, "b", SL_LIVENESS_SUSPECT, SL_LIVENESS_DEAD, T0 + 300001, T0);

        /* Back to the normal interval: c, silent for 6 s, is suspect at once ... */
        observe(lv, "c", SL_KIND_HEARTBEAT, T0 + 400000, T0 + 400000);
        tick_expect(lv, &r, T0 + 400000, 1000, 1);
        tick_expect(lv, &r, T0 + 406000, 1000, 1);
        expect_change(&r, "c", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 403001, T0 + 400000);
        /* ... widening again withdraws the suspicion (since: the tick's time) ... */
        tick_expect(lv, &r, T0 + 406000, 30000, 1);
        expect_change(&r, "c", SL_LIVENESS_SUSPECT, SL_LIVENESS_ALIVE, T0 + 406000, T0 + 400000);
        /* ... narrowing below its silence makes it dead (since: not before it was alive) ... */
        tick_expect(lv, &r, T0 + 406000, 500, 1);
        expect_change(&r, "c", SL_LIVENESS_ALIVE, SL_LIVENESS_DEAD, T0 + 406000, T0 + 400000);
        /* ... and dead stays dead under a wider interval, until c is heard again. */
        tick_expect(lv, &r, T0 + 406000, 30000, 0);
        expect_state(lv, "c", SL_LIVENESS_DEAD);
        observe(lv, "c", SL_KIND_HEARTBEAT, T0 + 406100, T0 + 406100);
        tick_expect(lv, &r, T0 + 406200, 1000, 1);
        expect_change(&r, "c", SL_LIVENESS_DEAD, SL_LIVENESS_ALIVE, T0 + 406100, T0 + 406100);
        sl_liveness_destroy(lv);
}

Test(liveness, replayed_old_events_give_dead_not_alive)
{
        sl_liveness_t *lv = new_default();
        int64_t now = T0 + 24 * 3600000LL;
        rec_t r;

        /* A new projector replays yesterday's events now: their heard times are their event
         * times, which are old. */
        for (int k = 0; k < 100; k++)
                observe(lv, "old", SL_KIND_HEARTBEAT, T0 + k * 1000, now - 100 + k);
        observe(lv, "gone", SL_KIND_LEAVE, T0 + 5000, now);
        observe(lv, "fresh", SL_KIND_HEARTBEAT, now - 500, now - 400);
        tick_expect(lv, &r, now, 1000, 3);
        expect_change(&r, "old", SL_LIVENESS_UNKNOWN, SL_LIVENESS_DEAD, T0 + 99000 + 10001,
                      T0 + 99000);
        expect_change(&r, "gone", SL_LIVENESS_UNKNOWN, SL_LIVENESS_LEFT, T0 + 5000, T0 + 5000);
        expect_change(&r, "fresh", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, now - 500, now - 500);
        /* More old history of a dead node keeps it dead. */
        observe(lv, "old", SL_KIND_HEARTBEAT, T0 + 200000, now + 1);
        tick_expect(lv, &r, now + 2, 1000, 0);
        expect_state(lv, "old", SL_LIVENESS_DEAD);
        sl_liveness_destroy(lv);
}

Test(liveness, future_event_time_does_not_keep_a_node_alive)
{
        sl_liveness_t *lv = new_default();
        int64_t lh;
        rec_t r;

        /* The agent's clock is a day ahead: its heard time is the receipt time. */
        observe(lv, "ahead", SL_KIND_HEARTBEAT, T0 + 86400000, T0);
        cr_assert_eq(sl_liveness_get(lv, "ahead", NULL, NULL, &lh), SL_OK);
        cr_assert_eq(lh, T0);
        tick_expect(lv, &r, T0, 1000, 1);
        expect_change(&r, "ahead", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, T0, T0);
        tick_expect(lv, &r, T0 + 3001, 1000, 1);
        expect_change(&r, "ahead", SL_LIVENESS_ALIVE, SL_LIVENESS_SUSPECT, T0 + 3001, T0);
        tick_expect(lv, &r, T0 + 10001, 1000, 1);
        expect_change(&r, "ahead", SL_LIVENESS_SUSPECT, SL_LIVENESS_DEAD, T0 + 10001, T0);
        /* last_heard never goes back: an older event after a newer one changes nothing. */
        observe(lv, "ahead", SL_KIND_HEARTBEAT, T0 + 20000, T0 + 20000);
        observe(lv, "ahead", SL_KIND_HEARTBEAT, T0 + 15000, T0 + 20001);
        cr_assert_eq(sl_liveness_get(lv, "ahead", NULL, NULL, &lh), SL_OK);
        cr_assert_eq(lh, T0 + 20000);
        sl_liveness_destroy(lv);
}

Test(liveness, clock_going_back)
{
        sl_liveness_t *lv = new_default();
        rec_t r;

        observe(lv, "n1", SL_KIND_HEARTBEAT, T0, T0);
        tick_expect(lv, &r, T0, 1000, 1);
        tick_expect(lv, &r, T0 + 5000, 1000, 1); /* suspect */
        tick_expect(lv, &r, T0 + 2000, 1000, 1); /* the clock stepped back: alive */
        expect_change(&r, "n1", SL_LIVENESS_SUSPECT, SL_LIVENESS_ALIVE, T0 + 2000, T0);
        tick_expect(lv, &r, -5, 0, 0); /* clamped: now 0, interval 1 */
        sl_liveness_destroy(lv);
}

/* ---- The inventory file ---- */

static char inv_path[64];

static void write_inventory(const char *text, size_t len)
{
        int fd;

        snprintf(inv_path, sizeof(inv_path), "/tmp/sl-test-inventory.XXXXXX");
        cr_assert((fd = mkstemp(inv_path)) >= 0);
        cr_assert_eq(write(fd, text, len), (ssize_t)len);
        close(fd);
}

Test(liveness, inventory_file)
{
        static const char text[] = "# the fleet\n"
                                   "\n"
                                   "gw-eu-0001\n"
                                   "   gw-eu-0002   \n"
                                   "\tgw-eu-0003 # the new one\r\n"
                                   "gw-eu-0001\n"
                                   "     \n"
                                   "   # indented comment\n"
                                   "gw-us-0001";
        sl_liveness_t *lv = new_default();
        rec_t r;

        write_inventory(text, sizeof(text) - 1);
        cr_assert_eq(sl_liveness_load_inventory(lv, inv_path, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        unlink(inv_path);
        cr_assert_eq(sl_liveness_node_count(lv), 4);
        observe(lv, "gw-eu-0002", SL_KIND_JOIN, T0, T0);
        tick_expect(lv, &r, T0, 1000, 4);
        expect_change(&r, "gw-eu-0001", SL_LIVENESS_UNKNOWN, SL_LIVENESS_MISSING, T0, -1);
        expect_change(&r, "gw-eu-0002", SL_LIVENESS_UNKNOWN, SL_LIVENESS_ALIVE, T0, T0);
        expect_change(&r, "gw-eu-0003", SL_LIVENESS_UNKNOWN, SL_LIVENESS_MISSING, T0, -1);
        expect_change(&r, "gw-us-0001", SL_LIVENESS_UNKNOWN, SL_LIVENESS_MISSING, T0, -1);
        sl_liveness_destroy(lv);
}

Test(liveness, inventory_errors_name_the_line)
{
        static const struct {
                const char *text;
                size_t len;
                const char *want;
        } bad[] = {
            {"n1\n# c\nn2\nbad id\nn3\n", 0, ":4: node id \"bad id\": character ' '"},
            {"n1\n..\n", 0, ":2: node id \"..\" is not allowed"},
            {"n1\nn2\nn3\nn4\nnö\n", 0, ":5: node id: byte 0xc3"},
            {"n1\nn\0x\n", 6, ":2: contains a NUL byte"},
        };
        sl_liveness_t *lv = new_default();
        char want[128];

        cr_assert_eq(sl_liveness_expect(lv, "n0", errstr, sizeof(errstr)), SL_OK);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                write_inventory(bad[i].text, bad[i].len ? bad[i].len : strlen(bad[i].text));
                cr_expect_eq(sl_liveness_load_inventory(lv, inv_path, errstr, sizeof(errstr)),
                             SL_ERR_CONFIG, "%zu", i);
                snprintf(want, sizeof(want), "%s%s", inv_path, bad[i].want);
                cr_expect(!strncmp(errstr, want, strlen(want)), "got \"%s\", want \"%s...\"",
                          errstr, want);
                unlink(inv_path);
                /* All or nothing. */
                cr_expect_eq(sl_liveness_node_count(lv), 1);
        }
        cr_assert_eq(
            sl_liveness_load_inventory(lv, "/nonexistent/inventory", errstr, sizeof(errstr)),
            SL_ERR_IO);
        cr_assert(strstr(errstr, "/nonexistent/inventory: No such file"), "%s", errstr);
        /* An empty file is an empty inventory. */
        write_inventory("", 0);
        cr_assert_eq(sl_liveness_load_inventory(lv, inv_path, errstr, sizeof(errstr)), SL_OK);
        unlink(inv_path);
        sl_liveness_destroy(lv);
}

/* ---- Scale ---- */

static void count_cb(const char *node_id, sl_liveness_state_t old_state,
                     sl_liveness_state_t new_state, int64_t since_ms, int64_t last_heard_ms,
                     void *opaque)
{
        size_t *cnt = opaque;

        cnt[new_state]++;
}

#define BIG 100000

Test(liveness, hundred_thousand_nodes_ticks_stay_cheap)
{
        sl_liveness_t *lv = new_default();
        size_t by_state[SL_LIVENESS__CNT] = {0}, counts[SL_LIVENESS__CNT];
        char id[32];

        /* Node i heard at T0 + i / 100: 100 nodes per ms over one second; the receipt order is
         * shuffled a little (a stride), so keys arrive out of order too. */
        for (size_t k = 0; k < BIG; k++) {
                size_t i = (k * 7919) % BIG;

                snprintf(id, sizeof(id), "node-%06zu", i);
                observe(lv, id, SL_KIND_HEARTBEAT, T0 + (int64_t)(i / 100), T0 + 1000);
        }
        cr_assert_eq(sl_liveness_tick(lv, T0 + 1000, 1000, count_cb, by_state), BIG);
        cr_assert_eq(by_state[SL_LIVENESS_ALIVE], BIG);
        /* Ticks without news cost nothing, ... */
        for (int k = 0; k <= 2000; k++)
                cr_assert_eq(sl_liveness_tick(lv, T0 + 1000 + k, 1000, count_cb, by_state), 0);
        /* ... and each tick reports just the nodes that crossed a threshold: silence > 3000 ms
         * for the 100 nodes heard in each ms. */
        cr_assert_eq(sl_liveness_tick(lv, T0 + 3001, 1000, count_cb, by_state), 100);
        cr_assert_eq(sl_liveness_tick(lv, T0 + 3001, 1000, count_cb, by_state), 0);
        cr_assert_eq(sl_liveness_tick(lv, T0 + 3011, 1000, count_cb, by_state), 1000);
        for (int64_t t = T0 + 3012; t <= T0 + 3500; t++)
                cr_assert_eq(sl_liveness_tick(lv, t, 1000, count_cb, by_state), 100);
        sl_liveness_counts(lv, counts);
        cr_assert_eq(counts[SL_LIVENESS_SUSPECT], 50000);
        cr_assert_eq(counts[SL_LIVENESS_ALIVE], 50000);
        /* Ten nodes heard again: ten changes, whatever the fleet's size. */
        for (int i = 0; i < 10; i++) {
                snprintf(id, sizeof(id), "node-%06d", i);
                observe(lv, id, SL_KIND_HEARTBEAT, T0 + 3500, T0 + 3500);
        }
        cr_assert_eq(sl_liveness_tick(lv, T0 + 3500, 1000, count_cb, by_state), 10);
        /* A wider interval (the projector reports high lag) withdraws every suspicion. */
        cr_assert_eq(sl_liveness_tick(lv, T0 + 3500, 30000, count_cb, by_state), 49990);
        /* Everyone dies together at the end. */
        cr_assert_eq(sl_liveness_tick(lv, T0 + 400000, 30000, count_cb, by_state), BIG);
        sl_liveness_counts(lv, counts);
        cr_assert_eq(counts[SL_LIVENESS_DEAD], BIG);
        cr_assert_eq(sl_liveness_tick(lv, T0 + 400001, 1000, count_cb, by_state), 0);
        sl_liveness_destroy(lv);
}

/* ---- Against a brute-force model ---- */

#define MODEL_NODES 300

typedef struct {
        int64_t lh;
        int left, heard, expected;
        sl_liveness_state_t state;
} model_t;

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

Test(liveness, random_operations_match_a_model)
{
        static model_t m[MODEL_NODES];
        sl_liveness_t *lv = new_default();
        int64_t now = T0;
        char id[32];

        memset(m, 0, sizeof(m));
        for (int i = 0; i < MODEL_NODES; i++)
                m[i].lh = -1;
        for (int round = 0; round < 3000; round++) {
                int ops = (int)(next_rand() % 20);
                int64_t interval = (next_rand() % 4 == 0) ? 30 : 10;
                size_t changes, want_changes = 0;

                for (int k = 0; k < ops; k++) {
                        int i = (int)(next_rand() % MODEL_NODES);
                        uint64_t what = next_rand() % 100;

                        snprintf(id, sizeof(id), "m%d", i);
                        if (what < 5) {
                                cr_assert_eq(sl_liveness_expect(lv, id, errstr, sizeof(errstr)),
                                             SL_OK);
                                m[i].expected = 1;
                        } else {
                                /* Mostly current, sometimes old or ahead. */
                                int64_t et = now - (int64_t)(next_rand() % 50) +
                                             (what < 15 ? 400 : 0) - (what > 90 ? 300 : 0);
                                int64_t heard = et < now ? et : now;
                                sl_event_kind_t kind =
                                    what % 13 == 0 ? SL_KIND_LEAVE : SL_KIND_HEARTBEAT;

                                if (heard < 0)
                                        heard = et = 0;
                                observe(lv, id, kind, et, now);
                                if (heard > m[i].lh)
                                        m[i].lh = heard;
                                m[i].left = kind == SL_KIND_LEAVE;
                                m[i].heard = 1;
                        }
                }
                now += (int64_t)(next_rand() % 40) - 5; /* sometimes back */
                for (int i = 0; i < MODEL_NODES; i++) {
                        sl_liveness_state_t s = m[i].state;

                        if (m[i].lh < 0)
                                s = m[i].expected ? SL_LIVENESS_MISSING : SL_LIVENESS_UNKNOWN;
                        else if (m[i].left)
                                s = SL_LIVENESS_LEFT;
                        else if (now - m[i].lh > 10 * interval)
                                s = SL_LIVENESS_DEAD;
                        else if (m[i].state == SL_LIVENESS_DEAD && !m[i].heard)
                                s = SL_LIVENESS_DEAD;
                        else if (now - m[i].lh > 3 * interval)
                                s = SL_LIVENESS_SUSPECT;
                        else
                                s = SL_LIVENESS_ALIVE;
                        if (s != m[i].state)
                                want_changes++;
                        m[i].state = s;
                        m[i].heard = 0;
                }
                changes = sl_liveness_tick(lv, now, interval, NULL, NULL);
                cr_assert_eq(changes, want_changes, "round %d", round);
                for (int i = 0; i < MODEL_NODES; i++) {
                        sl_liveness_state_t s;

                        snprintf(id, sizeof(id), "m%d", i);
                        if (sl_liveness_get(lv, id, &s, NULL, NULL) != SL_OK)
                                s = SL_LIVENESS_UNKNOWN;
                        cr_assert_eq(s, m[i].state, "round %d, %s: %s, model %s", round, id,
                                     sl_liveness_state_name(s), sl_liveness_state_name(m[i].state));
                }
        }
        sl_liveness_destroy(lv);
}

/* ---- NodeLiveness records ---- */

Test(liveness, schema_compiled_in_is_the_file)
{
        FILE *fp = fopen(SL_LIVENESS_AVSC, "r");
        char buf[16384];
        size_t len;
        avro_schema_t schema;

        cr_assert(fp);
        len = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[len] = '\0';
        cr_assert_str_eq(sl_liveness_schema_text(), buf);
        cr_assert_eq(avro_schema_from_json_length(buf, len, &schema), 0, "%s", avro_strerror());
        cr_assert_str_eq(avro_schema_name(schema), "NodeLiveness");
        avro_schema_decref(schema);
}

static void check_record_with_avro(const sl_liveness_record_t *rec, int32_t schema_id)
{
        sl_buf_t out = {0};
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value, field;
        avro_reader_t reader;
        avro_writer_t writer;
        const char *s;
        size_t size;
        int64_t l;
        int e;
        char again[1024];

        cr_assert_eq(sl_liveness_record_encode(rec, schema_id, &out, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_assert_gt(out.len, SL_WIRE_HEADER_SIZE);
        cr_assert_eq(out.data[0], 0);
        cr_assert_eq(((uint32_t)out.data[1] << 24 | (uint32_t)out.data[2] << 16 |
                      (uint32_t)out.data[3] << 8 | out.data[4]),
                     (uint32_t)schema_id);

        cr_assert_eq(avro_schema_from_json_length(sl_liveness_schema_text(),
                                                  strlen(sl_liveness_schema_text()), &schema),
                     0, "%s", avro_strerror());
        cr_assert((iface = avro_generic_class_from_schema(schema)));
        cr_assert_eq(avro_generic_value_new(iface, &value), 0);
        reader = avro_reader_memory((const char *)out.data + SL_WIRE_HEADER_SIZE,
                                    (int64_t)(out.len - SL_WIRE_HEADER_SIZE));
        cr_assert_eq(avro_value_read(reader, &value), 0, "%s", avro_strerror());

#define GET(name) cr_assert_eq(avro_value_get_by_name(&value, name, &field, NULL), 0, name)
        GET("node_id");
        cr_assert_eq(avro_value_get_string(&field, &s, &size), 0);
        cr_assert_str_eq(s, rec->node_id);
        GET("state");
        cr_assert_eq(avro_value_get_enum(&field, &e), 0);
        cr_assert_eq(e, (int)rec->state);
        cr_assert_str_eq(avro_schema_enum_get(avro_value_get_schema(&field), e),
                         sl_liveness_state_name(rec->state));
        GET("previous_state");
        cr_assert_eq(avro_value_get_enum(&field, &e), 0);
        cr_assert_eq(e, (int)rec->previous_state);
        cr_assert_str_eq(avro_schema_enum_get(avro_value_get_schema(&field), e),
                         sl_liveness_state_name(rec->previous_state));
#define LONG(name, want)                                                                           \
        do {                                                                                       \
                GET(name);                                                                         \
                cr_assert_eq(avro_value_get_long(&field, &l), 0, name);                            \
                cr_assert_eq(l, (want), "%s: %lld, want %lld", name, (long long)l,                 \
                             (long long)(want));                                                   \
        } while (0)
        LONG("since_ms", rec->since_ms);
        LONG("last_heard_ms", rec->last_heard_ms);
        LONG("updated_ms", rec->updated_ms);
        LONG("heartbeat_interval_ms", rec->heartbeat_interval_ms);
        LONG("suspect_intervals", rec->suspect_intervals);
        LONG("dead_intervals", rec->dead_intervals);
        GET("projector_id");
        cr_assert_eq(avro_value_get_string(&field, &s, &size), 0);
        cr_assert_str_eq(s, rec->projector_id ? rec->projector_id : "");
#undef LONG
#undef GET

        /* Avro C writes the same bytes: nothing missing, nothing extra. */
        writer = avro_writer_memory(again, sizeof(again));
        cr_assert_eq(avro_value_write(writer, &value), 0, "%s", avro_strerror());
        cr_assert_eq((size_t)avro_writer_tell(writer), out.len - SL_WIRE_HEADER_SIZE);
        cr_assert_eq(memcmp(again, out.data + SL_WIRE_HEADER_SIZE, out.len - SL_WIRE_HEADER_SIZE),
                     0);

        avro_writer_free(writer);
        avro_reader_free(reader);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        sl_buf_free(&out);
}

Test(liveness, record_encoding_matches_avro_c)
{
        sl_liveness_record_t rec = {
            .node_id = "gw-eu-0001",
            .state = SL_LIVENESS_SUSPECT,
            .previous_state = SL_LIVENESS_ALIVE,
            .since_ms = T0 + 3001,
            .last_heard_ms = T0,
            .updated_ms = T0 + 3050,
            .heartbeat_interval_ms = 1000,
            .suspect_intervals = 3,
            .dead_intervals = 10,
            .projector_id = "projector-a",
        };

        check_record_with_avro(&rec, 42);
        /* Never heard (-1), no projector id, the extreme states and a large schema id. */
        rec.node_id = "n";
        rec.state = SL_LIVENESS_MISSING;
        rec.previous_state = SL_LIVENESS_UNKNOWN;
        rec.last_heard_ms = -1;
        rec.since_ms = INT64_MAX;
        rec.updated_ms = INT64_MIN;
        rec.projector_id = NULL;
        check_record_with_avro(&rec, INT32_MAX);
        for (int s = 0; s < SL_LIVENESS__CNT; s++) {
                rec.state = (sl_liveness_state_t)s;
                rec.previous_state = (sl_liveness_state_t)(SL_LIVENESS__CNT - 1 - s);
                check_record_with_avro(&rec, 1);
        }
}

Test(liveness, record_encoding_errors)
{
        sl_liveness_record_t rec = {.node_id = "n1", .state = SL_LIVENESS_ALIVE};
        sl_buf_t out = {0};

        cr_assert_eq(sl_liveness_record_encode(&rec, 1, &out, errstr, sizeof(errstr)), SL_OK);
        cr_assert_gt(out.len, 0);
        rec.state = SL_LIVENESS__CNT;
        cr_assert_eq(sl_liveness_record_encode(&rec, 1, &out, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(out.len, 0);
        rec.state = SL_LIVENESS_ALIVE;
        rec.node_id = "";
        cr_assert_eq(sl_liveness_record_encode(&rec, 1, &out, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        rec.node_id = "n1";
        cr_assert_eq(sl_liveness_record_encode(&rec, -1, &out, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(sl_liveness_record_encode(NULL, 1, &out, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        sl_buf_free(&out);
}

/* Statuses: counted per status, a change moves a node between counts, unknown nodes refused. */
Test(liveness, status_counts)
{
        sl_liveness_t *lv = new_default();
        size_t c[SL_STATUS__CNT];

        observe(lv, "a", SL_KIND_JOIN, 1000, 1000);
        observe(lv, "b", SL_KIND_JOIN, 1000, 1000);
        cr_assert_eq(sl_liveness_expect(lv, "ghost", errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_liveness_set_status(lv, "a", SL_STATUS_UP), SL_OK);
        cr_assert_eq(sl_liveness_set_status(lv, "b", SL_STATUS_UP), SL_OK);
        cr_assert_eq(sl_liveness_set_status(lv, "b", SL_STATUS_DOWN), SL_OK);
        cr_assert_eq(sl_liveness_set_status(lv, "nobody", SL_STATUS_UP), SL_ERR_NOT_FOUND);
        cr_assert_eq(sl_liveness_set_status(lv, "a", (sl_node_status_t)SL_STATUS__CNT),
                     SL_ERR_INVALID_ARG);
        sl_liveness_status_counts(lv, c);
        cr_assert_eq(c[SL_STATUS_UP], 1);
        cr_assert_eq(c[SL_STATUS_DOWN], 1);
        /* The inventory's ghost has no status: it is counted nowhere. */
        cr_assert_eq(c[SL_STATUS_UNKNOWN], 0);
        sl_liveness_destroy(lv);
}
