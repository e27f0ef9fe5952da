/*
 * Liveness tracking (sl_liveness.h).
 *
 * Nodes live in one array (indices are uint32_t, so links cost 4 bytes), found by id through an
 * open-addressing hash table of indices. Heard, non-left, non-dead nodes are also in a treap
 * keyed by (last_heard, index), whose priorities are a hash of the index (a bijection, so no
 * ties). After a tick every node in the treap is alive or suspect and has
 * last_heard >= that tick's dead threshold, and its state is what the tick's thresholds say, so
 * the next tick only needs to look at:
 *  - the nodes observed or expected since (the dirty list),
 *  - the treap's prefix below the new dead threshold,
 *  - the treap's nodes between the old and the new suspect threshold.
 * Heard times nearly always exceed every key in the treap, so insertion starts from the largest
 * node (a finger) and climbs its right spine only as far as the new key needs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_liveness.h"
#include "sl_name.h"

extern const char sl_liveness_avsc[];

#define SL_LV_NIL           UINT32_MAX
#define SL_LV_MAX_INTERVALS 1000000
#define SL_LV_MIN_SLOTS     64

#define SL_LV_F_LEFT   0x01 /* its last event was a leave */
#define SL_LV_F_TREE   0x02 /* in the treap */
#define SL_LV_F_DIRTY  0x04 /* on the dirty list */
#define SL_LV_F_HEARD  0x08 /* heard from since the last tick */
#define SL_LV_F_STATUS 0x10 /* has a status (sl_liveness_set_status()) */

typedef struct {
        int64_t last_heard; /* -1: never */
        int64_t since;      /* -1: never evaluated */
        uint32_t id_off;    /* the NUL-terminated id at lv->ids + id_off */
        uint32_t hash;
        uint32_t left, right, parent; /* treap links */
        uint32_t next_dirty;
        uint8_t state, flags;
        uint8_t status; /* sl_node_status_t, with SL_LV_F_STATUS */
} sl_lv_node_t;

_Static_assert(sizeof(sl_lv_node_t) == 48, "sl_liveness.h says a node costs 48 bytes");

struct sl_liveness_s {
        sl_liveness_conf_t conf;
        sl_lv_node_t *nodes;
        uint32_t cnt, cap;
        char *ids;
        size_t ids_len, ids_cap;
        uint32_t *slots; /* SL_LV_NIL: empty; at most half full */
        size_t slot_cap; /* a power of 2 */
        uint32_t root, rightmost, dirty;
        int ticked;
        int64_t ts; /* suspect threshold of the last tick: alive iff last_heard >= ts */
        size_t counts[SL_LIVENESS__CNT];
        size_t status_counts[SL_STATUS__CNT];
};

static const char *const sl_liveness_names[SL_LIVENESS__CNT] = {
    "unknown", "alive", "suspect", "dead", "left", "missing",
};

const char *sl_liveness_state_name(sl_liveness_state_t state)
{
        if ((int)state < 0 || state >= SL_LIVENESS__CNT)
                return sl_liveness_names[SL_LIVENESS_UNKNOWN];
        return sl_liveness_names[state];
}

sl_err_t sl_liveness_state_parse(const char *name, sl_liveness_state_t *statep)
{
        for (int i = 0; name && i < SL_LIVENESS__CNT; i++)
                if (!strcmp(name, sl_liveness_names[i])) {
                        *statep = (sl_liveness_state_t)i;
                        return SL_OK;
                }
        return SL_ERR_BAD_ENUM;
}

void sl_liveness_conf_init(sl_liveness_conf_t *lconf, const sl_conf_t *conf)
{
        lconf->suspect_intervals = conf ? sl_conf_get_int(conf, "liveness.suspect.intervals") : 3;
        lconf->dead_intervals = conf ? sl_conf_get_int(conf, "liveness.dead.intervals") : 10;
}

const char *sl_liveness_schema_text(void)
{
        return sl_liveness_avsc;
}

/* ---- The node table ---- */

static uint32_t sl_lv_hash(const char *s)
{
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * 16777619u;
        return h;
}

/* @returns the node's index, or SL_LV_NIL with *slotp the empty slot where it would go. */
static uint32_t sl_lv_find(const sl_liveness_t *lv, const char *id, uint32_t h, size_t *slotp)
{
        size_t mask = lv->slot_cap - 1;

        for (size_t s = h & mask;; s = (s + 1) & mask) {
                uint32_t i = lv->slots[s];

                if (i == SL_LV_NIL) {
                        if (slotp)
                                *slotp = s;
                        return SL_LV_NIL;
                }
                if (lv->nodes[i].hash == h && !strcmp(lv->ids + lv->nodes[i].id_off, id))
                        return i;
        }
}

static int sl_lv_rehash(sl_liveness_t *lv, size_t slot_cap)
{
        uint32_t *slots = malloc(slot_cap * sizeof(*slots));

        if (!slots)
                return -1;
        memset(slots, 0xff, slot_cap * sizeof(*slots));
        for (uint32_t i = 0; i < lv->cnt; i++) {
                size_t s = lv->nodes[i].hash & (slot_cap - 1);

                while (slots[s] != SL_LV_NIL)
                        s = (s + 1) & (slot_cap - 1);
                slots[s] = i;
        }
        free(lv->slots);
        lv->slots = slots;
        lv->slot_cap = slot_cap;
        return 0;
}

/*
 * Makes room for @p nodes more nodes with @p bytes more of ids, so that adding them cannot fail.
 * On failure nothing but capacities changed.
 */
static sl_err_t sl_lv_reserve(sl_liveness_t *lv, size_t nodes, size_t bytes, char *errstr,
                              size_t errstr_size)
{
        size_t want = (size_t)lv->cnt + nodes;

        if (want >= SL_LV_NIL || lv->ids_len + bytes > UINT32_MAX)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "liveness: too many nodes");
        if (want > lv->cap) {
                size_t cap = lv->cap ? lv->cap : 64;
                sl_lv_node_t *n;

                while (cap < want)
                        cap *= 2;
                if (cap >= SL_LV_NIL)
                        cap = SL_LV_NIL - 1;
                if (!(n = realloc(lv->nodes, cap * sizeof(*n))))
                        goto nomem;
                lv->nodes = n;
                lv->cap = (uint32_t)cap;
        }
        if (lv->ids_len + bytes > lv->ids_cap) {
                size_t cap = lv->ids_cap ? lv->ids_cap : 1024;
                char *ids;

                while (cap < lv->ids_len + bytes)
                        cap *= 2;
                if (!(ids = realloc(lv->ids, cap)))
                        goto nomem;
                lv->ids = ids;
                lv->ids_cap = cap;
        }
        if (want * 2 > lv->slot_cap) {
                size_t cap = lv->slot_cap;

                while (want * 2 > cap)
                        cap *= 2;
                if (sl_lv_rehash(lv, cap))
                        goto nomem;
        }
        return SL_OK;

nomem:
        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
}

static void sl_lv_mark_dirty(sl_liveness_t *lv, uint32_t i)
{
        sl_lv_node_t *n = &lv->nodes[i];

        if (n->flags & SL_LV_F_DIRTY)
                return;
        n->flags |= SL_LV_F_DIRTY;
        n->next_dirty = lv->dirty;
        lv->dirty = i;
}

/* Adds a node known not to exist, in room made by sl_lv_reserve(). */
static uint32_t sl_lv_add(sl_liveness_t *lv, const char *id, uint32_t h, size_t slot)
{
        size_t len = strlen(id);
        uint32_t i = lv->cnt++;
        sl_lv_node_t *n = &lv->nodes[i];

        memcpy(lv->ids + lv->ids_len, id, len + 1);
        n->id_off = (uint32_t)lv->ids_len;
        lv->ids_len += len + 1;
        n->hash = h;
        n->last_heard = -1;
        n->since = -1;
        n->left = n->right = n->parent = n->next_dirty = SL_LV_NIL;
        n->state = SL_LIVENESS_UNKNOWN;
        n->flags = 0;
        lv->slots[slot] = i;
        lv->counts[SL_LIVENESS_UNKNOWN]++;
        sl_lv_mark_dirty(lv, i);
        return i;
}

static sl_err_t sl_lv_get_or_add(sl_liveness_t *lv, const char *id, uint32_t *ip, char *errstr,
                                 size_t errstr_size)
{
        uint32_t h = sl_lv_hash(id);
        size_t slot;
        sl_err_t err;

        if ((*ip = sl_lv_find(lv, id, h, &slot)) != SL_LV_NIL)
                return SL_OK;
        if ((err = sl_lv_reserve(lv, 1, strlen(id) + 1, errstr, errstr_size)))
                return err;
        /* The table may have been rebuilt: find the empty slot again. */
        sl_lv_find(lv, id, h, &slot);
        *ip = sl_lv_add(lv, id, h, slot);
        return SL_OK;
}

/* ---- The treap ---- */

#define N(i) (lv->nodes[i])

static uint32_t sl_lv_prio(uint32_t i)
{
        uint32_t h = i ^ 0x9e3779b9u; /* murmur3's finalizer: a bijection */

        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

static int sl_lv_less(const sl_liveness_t *lv, uint32_t a, uint32_t b)
{
        return N(a).last_heard < N(b).last_heard || (N(a).last_heard == N(b).last_heard && a < b);
}

static void sl_lv_replace_child(sl_liveness_t *lv, uint32_t parent, uint32_t old, uint32_t new)
{
        if (parent == SL_LV_NIL)
                lv->root = new;
        else if (N(parent).left == old)
                N(parent).left = new;
        else
                N(parent).right = new;
        if (new != SL_LV_NIL)
                N(new).parent = parent;
}

/* x's right child takes x's place. */
static void sl_lv_rotate_left(sl_liveness_t *lv, uint32_t x)
{
        uint32_t y = N(x).right;

        N(x).right = N(y).left;
        if (N(y).left != SL_LV_NIL)
                N(N(y).left).parent = x;
        sl_lv_replace_child(lv, N(x).parent, x, y);
        N(y).left = x;
        N(x).parent = y;
}

static void sl_lv_rotate_right(sl_liveness_t *lv, uint32_t x)
{
        uint32_t y = N(x).left;

        N(x).left = N(y).right;
        if (N(y).right != SL_LV_NIL)
                N(N(y).right).parent = x;
        sl_lv_replace_child(lv, N(x).parent, x, y);
        N(y).right = x;
        N(x).parent = y;
}

static void sl_lv_insert(sl_liveness_t *lv, uint32_t i)
{
        uint32_t cur;

        N(i).left = N(i).right = N(i).parent = SL_LV_NIL;
        N(i).flags |= SL_LV_F_TREE;
        if (lv->root == SL_LV_NIL) {
                lv->root = lv->rightmost = i;
                return;
        }
        cur = lv->rightmost;
        if (sl_lv_less(lv, cur, i)) {
                N(cur).right = i;
                N(i).parent = cur;
                lv->rightmost = i;
        } else {
                /*
                 * The rightmost node's ancestors form the right spine, keys decreasing upwards.
                 * The lowest one with a smaller key holds i's place in its right subtree; if
                 * none does, the root's subtree (everything) does.
                 */
                while (N(cur).parent != SL_LV_NIL && sl_lv_less(lv, i, cur))
                        cur = N(cur).parent;
                for (;;) {
                        uint32_t *link = sl_lv_less(lv, i, cur) ? &N(cur).left : &N(cur).right;

                        if (*link == SL_LV_NIL) {
                                *link = i;
                                N(i).parent = cur;
                                break;
                        }
                        cur = *link;
                }
        }
        while (N(i).parent != SL_LV_NIL && sl_lv_prio(i) > sl_lv_prio(N(i).parent)) {
                if (N(N(i).parent).left == i)
                        sl_lv_rotate_right(lv, N(i).parent);
                else
                        sl_lv_rotate_left(lv, N(i).parent);
        }
}

static void sl_lv_remove(sl_liveness_t *lv, uint32_t i)
{
        while (N(i).left != SL_LV_NIL || N(i).right != SL_LV_NIL) {
                uint32_t l = N(i).left, r = N(i).right;

                if (r == SL_LV_NIL || (l != SL_LV_NIL && sl_lv_prio(l) > sl_lv_prio(r)))
                        sl_lv_rotate_right(lv, i);
                else
                        sl_lv_rotate_left(lv, i);
        }
        /* A leaf: if it was the largest, its parent (it is a right child) is now. */
        if (lv->rightmost == i)
                lv->rightmost = N(i).parent;
        sl_lv_replace_child(lv, N(i).parent, i, SL_LV_NIL);
        N(i).parent = SL_LV_NIL;
        N(i).flags &= (uint8_t)~SL_LV_F_TREE;
}

static uint32_t sl_lv_next(const sl_liveness_t *lv, uint32_t i)
{
        uint32_t p;

        if (N(i).right != SL_LV_NIL) {
                for (i = N(i).right; N(i).left != SL_LV_NIL; i = N(i).left)
                        ;
                return i;
        }
        for (p = N(i).parent; p != SL_LV_NIL && N(p).right == i; i = p, p = N(p).parent)
                ;
        return p;
}

/* The first node with last_heard >= @p t, or SL_LV_NIL. */
static uint32_t sl_lv_lower_bound(const sl_liveness_t *lv, int64_t t)
{
        uint32_t res = SL_LV_NIL;

        for (uint32_t cur = lv->root; cur != SL_LV_NIL;) {
                if (N(cur).last_heard >= t) {
                        res = cur;
                        cur = N(cur).left;
                } else {
                        cur = N(cur).right;
                }
        }
        return res;
}

/* ---- The API ---- */

sl_liveness_t *sl_liveness_new(const sl_liveness_conf_t *lconf, char *errstr, size_t errstr_size)
{
        sl_liveness_t *lv;

        if (!lconf || lconf->suspect_intervals < 1 ||
            lconf->suspect_intervals > SL_LV_MAX_INTERVALS ||
            lconf->dead_intervals <= lconf->suspect_intervals ||
            lconf->dead_intervals > SL_LV_MAX_INTERVALS) {
                sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                          "liveness: need 1 <= suspect intervals (%lld) < dead intervals (%lld) "
                          "<= %d",
                          lconf ? (long long)lconf->suspect_intervals : 0LL,
                          lconf ? (long long)lconf->dead_intervals : 0LL, SL_LV_MAX_INTERVALS);
                return NULL;
        }
        if (!(lv = calloc(1, sizeof(*lv))) || sl_lv_rehash(lv, SL_LV_MIN_SLOTS)) {
                free(lv);
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        lv->conf = *lconf;
        lv->root = lv->rightmost = lv->dirty = SL_LV_NIL;
        return lv;
}

void sl_liveness_destroy(sl_liveness_t *lv)
{
        if (!lv)
                return;
        free(lv->nodes);
        free(lv->ids);
        free(lv->slots);
        free(lv);
}

sl_err_t sl_liveness_observe(sl_liveness_t *lv, const char *node_id, sl_event_kind_t kind,
                             int64_t event_time_ms, int64_t receipt_ms, char *errstr,
                             size_t errstr_size)
{
        int64_t heard = event_time_ms < receipt_ms ? event_time_ms : receipt_ms;
        sl_lv_node_t *n;
        uint32_t i;
        sl_err_t err;

        if ((err = sl_name_validate("node id", node_id, errstr, errstr_size)))
                return err;
        if (heard < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "liveness: node %s: negative time (event %lld, receipt %lld)",
                                 node_id, (long long)event_time_ms, (long long)receipt_ms);
        if ((err = sl_lv_get_or_add(lv, node_id, &i, errstr, errstr_size)))
                return err;
        n = &lv->nodes[i];
        if (heard < n->last_heard)
                heard = n->last_heard;
        if (kind == SL_KIND_LEAVE) {
                if (n->flags & SL_LV_F_TREE)
                        sl_lv_remove(lv, i);
                n->last_heard = heard;
                n->flags |= SL_LV_F_LEFT;
        } else if (!(n->flags & SL_LV_F_TREE) || heard != n->last_heard) {
                if (n->flags & SL_LV_F_TREE)
                        sl_lv_remove(lv, i);
                n->last_heard = heard;
                n->flags &= (uint8_t)~SL_LV_F_LEFT;
                sl_lv_insert(lv, i);
        }
        n->flags |= SL_LV_F_HEARD;
        sl_lv_mark_dirty(lv, i);
        return SL_OK;
}

sl_err_t sl_liveness_expect(sl_liveness_t *lv, const char *node_id, char *errstr,
                            size_t errstr_size)
{
        uint32_t i;
        sl_err_t err;

        if ((err = sl_name_validate("node id", node_id, errstr, errstr_size)))
                return err;
        return sl_lv_get_or_add(lv, node_id, &i, errstr, errstr_size);
}

sl_err_t sl_liveness_load_inventory(sl_liveness_t *lv, const char *path, char *errstr,
                                    size_t errstr_size)
{
        char *buf = NULL, msg[256];
        size_t len = 0, cap = 0, *ids = NULL, id_cnt = 0, bytes = 0, line = 0;
        FILE *fp = NULL;
        sl_err_t err = SL_OK;

        if (!path || !(fp = fopen(path, "r"))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path ? path : "(null)",
                                path ? strerror(errno) : "no path");
                goto done;
        }
        for (;;) {
                size_t got;

                if (len + 4096 + 1 > cap) {
                        char *b = realloc(buf, cap = cap ? cap * 2 : 8192);

                        if (!b) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto done;
                        }
                        buf = b;
                }
                got = fread(buf + len, 1, cap - len - 1, fp);
                len += got;
                if (got == 0)
                        break;
        }
        if (ferror(fp)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: read error", path);
                goto done;
        }
        buf[len] = '\0';
        /* Pass 1: cut every line, validate its id and note where it starts. */
        for (size_t off = 0; off < len; line++) {
                char *s = buf + off, *eol = memchr(s, '\n', len - off), *e, *hash;

                e = eol ? eol : buf + len;
                off = (size_t)(e - buf) + 1;
                if (memchr(s, '\0', (size_t)(e - s))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                        "%s:%zu: contains a NUL byte", path, line + 1);
                        goto done;
                }
                *e = '\0';
                if ((hash = strchr(s, '#')))
                        *(e = hash) = '\0';
                while (s < e && isspace((unsigned char)*s))
                        s++;
                while (e > s && isspace((unsigned char)e[-1]))
                        *--e = '\0';
                if (s == e)
                        continue;
                if (sl_name_validate("node id", s, msg, sizeof(msg))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s:%zu: %s", path,
                                        line + 1, msg);
                        goto done;
                }
                if ((id_cnt & (id_cnt - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
                        size_t *n = realloc(ids, (id_cnt ? id_cnt * 2 : 1) * sizeof(*ids));

                        if (!n) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto done;
                        }
                        ids = n;
                }
                ids[id_cnt++] = (size_t)(s - buf);
                bytes += (size_t)(e - s) + 1;
        }
        /* Pass 2: room for all, then add (which cannot fail any more). */
        if ((err = sl_lv_reserve(lv, id_cnt, bytes, errstr, errstr_size)))
                goto done;
        for (size_t k = 0; k < id_cnt; k++) {
                const char *id = buf + ids[k];
                uint32_t h = sl_lv_hash(id);
                size_t slot;

                if (sl_lv_find(lv, id, h, &slot) == SL_LV_NIL)
                        sl_lv_add(lv, id, h, slot);
        }

done:
        if (fp)
                fclose(fp);
        free(ids);
        free(buf);
        return err;
}

/* Moves node i to @p state (if it is not there already), reporting the change. */
static void sl_lv_change(sl_liveness_t *lv, uint32_t i, sl_liveness_state_t state, int64_t since,
                         int64_t now, sl_liveness_change_cb_t *cb, void *opaque, size_t *cntp)
{
        sl_lv_node_t *n = &lv->nodes[i];
        sl_liveness_state_t old = (sl_liveness_state_t)n->state;

        if (old == state)
                return;
        if (since < n->since)
                since = n->since;
        if (since > now)
                since = now;
        lv->counts[old]--;
        lv->counts[state]++;
        n->state = (uint8_t)state;
        n->since = since;
        (*cntp)++;
        if (cb)
                cb(lv->ids + n->id_off, old, state, since, n->last_heard, opaque);
}

/* Decides node i's state under the thresholds ts (suspect) and td (dead). */
static void sl_lv_eval(sl_liveness_t *lv, uint32_t i, int64_t now, int64_t interval, int64_t ts,
                       int64_t td, sl_liveness_change_cb_t *cb, void *opaque, size_t *cntp)
{
        sl_lv_node_t *n = &lv->nodes[i];
        int64_t lh = n->last_heard;

        if (lh < 0)
                sl_lv_change(lv, i, SL_LIVENESS_MISSING, now, now, cb, opaque, cntp);
        else if (n->flags & SL_LV_F_LEFT)
                sl_lv_change(lv, i, SL_LIVENESS_LEFT, lh, now, cb, opaque, cntp);
        else if (lh < td) {
                if (n->flags & SL_LV_F_TREE)
                        sl_lv_remove(lv, i);
                sl_lv_change(lv, i, SL_LIVENESS_DEAD, lh + lv->conf.dead_intervals * interval + 1,
                             now, cb, opaque, cntp);
        } else if (lh < ts)
                sl_lv_change(lv, i, SL_LIVENESS_SUSPECT,
                             lh + lv->conf.suspect_intervals * interval + 1, now, cb, opaque, cntp);
        else
                sl_lv_change(lv, i, SL_LIVENESS_ALIVE, (n->flags & SL_LV_F_HEARD) ? lh : now, now,
                             cb, opaque, cntp);
}

size_t sl_liveness_tick(sl_liveness_t *lv, int64_t now_ms, int64_t heartbeat_interval_ms,
                        sl_liveness_change_cb_t *cb, void *opaque)
{
        int64_t interval = heartbeat_interval_ms, ts, td, lo, hi;
        size_t cnt = 0;
        uint32_t i, next;

        if (interval < 1)
                interval = 1;
        if (interval > INT32_MAX)
                interval = INT32_MAX;
        if (now_ms < 0)
                now_ms = 0;
        ts = now_ms - lv->conf.suspect_intervals * interval;
        td = now_ms - lv->conf.dead_intervals * interval;
        if (!lv->ticked) { /* every node is dirty */
                lv->ticked = 1;
                lv->ts = ts;
        }
        for (i = lv->dirty; i != SL_LV_NIL; i = next) {
                next = N(i).next_dirty;
                N(i).next_dirty = SL_LV_NIL;
                sl_lv_eval(lv, i, now_ms, interval, ts, td, cb, opaque, &cnt);
                N(i).flags &= (uint8_t) ~(SL_LV_F_DIRTY | SL_LV_F_HEARD);
        }
        lv->dirty = SL_LV_NIL;
        /* Newly dead: the treap's prefix below td (before this, it held nothing below the last
         * tick's td). */
        for (i = lv->root; i != SL_LV_NIL && N(i).left != SL_LV_NIL; i = N(i).left)
                ;
        for (; i != SL_LV_NIL && N(i).last_heard < td; i = next) {
                next = sl_lv_next(lv, i);
                sl_lv_eval(lv, i, now_ms, interval, ts, td, cb, opaque, &cnt);
        }
        /* Alive <-> suspect: the nodes between the last tick's suspect threshold and this one's. */
        lo = lv->ts < ts ? lv->ts : ts;
        hi = lv->ts < ts ? ts : lv->ts;
        for (i = lo < hi ? sl_lv_lower_bound(lv, lo) : SL_LV_NIL;
             i != SL_LV_NIL && N(i).last_heard < hi; i = sl_lv_next(lv, i))
                sl_lv_eval(lv, i, now_ms, interval, ts, td, cb, opaque, &cnt);
        lv->ts = ts;
        return cnt;
}

sl_err_t sl_liveness_get(const sl_liveness_t *lv, const char *node_id, sl_liveness_state_t *statep,
                         int64_t *sincep, int64_t *last_heardp)
{
        uint32_t i;

        if (!node_id || (i = sl_lv_find(lv, node_id, sl_lv_hash(node_id), NULL)) == SL_LV_NIL)
                return SL_ERR_NOT_FOUND;
        if (statep)
                *statep = (sl_liveness_state_t)N(i).state;
        if (sincep)
                *sincep = N(i).since;
        if (last_heardp)
                *last_heardp = N(i).last_heard;
        return SL_OK;
}

void sl_liveness_counts(const sl_liveness_t *lv, size_t counts[SL_LIVENESS__CNT])
{
        memcpy(counts, lv->counts, sizeof(lv->counts));
}

sl_err_t sl_liveness_set_status(sl_liveness_t *lv, const char *node_id, sl_node_status_t status)
{
        uint32_t i;

        if ((int)status < 0 || status >= SL_STATUS__CNT)
                return SL_ERR_INVALID_ARG;
        if (!node_id || (i = sl_lv_find(lv, node_id, sl_lv_hash(node_id), NULL)) == SL_LV_NIL)
                return SL_ERR_NOT_FOUND;
        if (N(i).flags & SL_LV_F_STATUS)
                lv->status_counts[N(i).status]--;
        N(i).status = (uint8_t)status;
        N(i).flags |= SL_LV_F_STATUS;
        lv->status_counts[status]++;
        return SL_OK;
}

void sl_liveness_status_counts(const sl_liveness_t *lv, size_t counts[SL_STATUS__CNT])
{
        memcpy(counts, lv->status_counts, sizeof(lv->status_counts));
}

size_t sl_liveness_node_count(const sl_liveness_t *lv)
{
        return lv->cnt;
}

#undef N

/* ---- NodeLiveness records ---- */

static void sl_lv_put_long(sl_buf_t *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (z & ~0x7fULL) {
                b->data[b->len++] = (uint8_t)((z & 0x7f) | 0x80);
                z >>= 7;
        }
        b->data[b->len++] = (uint8_t)z;
}

static void sl_lv_put_string(sl_buf_t *b, const char *s, size_t len)
{
        sl_lv_put_long(b, (int64_t)len);
        memcpy(b->data + b->len, s, len);
        b->len += len;
}

sl_err_t sl_liveness_record_encode(const sl_liveness_record_t *rec, int32_t schema_id,
                                   sl_buf_t *out, char *errstr, size_t errstr_size)
{
        const char *pid;
        size_t nlen, plen;

        if (out)
                out->len = 0;
        if (!rec || !out || !rec->node_id || !*rec->node_id || schema_id < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "liveness record: no record, output or node id, or a negative "
                                 "schema id");
        if ((int)rec->state < 0 || rec->state >= SL_LIVENESS__CNT || (int)rec->previous_state < 0 ||
            rec->previous_state >= SL_LIVENESS__CNT)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "liveness record: node %s: state out of range", rec->node_id);
        pid = rec->projector_id ? rec->projector_id : "";
        nlen = strlen(rec->node_id);
        plen = strlen(pid);
        /* Two strings with their lengths, two enum indices, seven longs: 10 bytes each at most. */
        if (sl_buf_reserve(out, SL_WIRE_HEADER_SIZE + nlen + plen + 11 * 10))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        out->data[0] = 0;
        out->data[1] = (uint8_t)((uint32_t)schema_id >> 24);
        out->data[2] = (uint8_t)((uint32_t)schema_id >> 16);
        out->data[3] = (uint8_t)((uint32_t)schema_id >> 8);
        out->data[4] = (uint8_t)schema_id;
        out->len = SL_WIRE_HEADER_SIZE;
        sl_lv_put_string(out, rec->node_id, nlen);
        sl_lv_put_long(out, rec->state);
        sl_lv_put_long(out, rec->previous_state);
        sl_lv_put_long(out, rec->since_ms);
        sl_lv_put_long(out, rec->last_heard_ms);
        sl_lv_put_long(out, rec->updated_ms);
        sl_lv_put_long(out, rec->heartbeat_interval_ms);
        sl_lv_put_long(out, rec->suspect_intervals);
        sl_lv_put_long(out, rec->dead_intervals);
        sl_lv_put_string(out, pid, plen);
        return SL_OK;
}
