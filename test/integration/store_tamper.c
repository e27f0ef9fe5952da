/*
 * Test helper for test-replay.sh: alters a projector's store the way only a bug or a hand could,
 * so that `seerlog verify` has something to find.
 *
 *   store_tamper STORE_DIR bump NODE    stores a newer state of NODE (its seq + 1000, status
 *                                       down) that no record of the log holds
 *   store_tamper STORE_DIR add NODE     stores a node the log never had
 * The store's offsets are left as they are. Exit 0 when the store was changed.
 */
#include <stdio.h>
#include <string.h>

#include "sl_store.h"

int main(int argc, char **argv)
{
        sl_store_t *s = NULL;
        sl_store_txn_t *txn = NULL;
        sl_event_t *e = sl_event_new();
        char errstr[512];
        int applied = 0, ret = 1;

        if (argc != 4 || (strcmp(argv[2], "bump") && strcmp(argv[2], "add"))) {
                fprintf(stderr, "usage: store_tamper STORE_DIR bump|add NODE\n");
                return 2;
        }
        if (!e || sl_store_open(argv[1], 1LL << 30, &s, errstr, sizeof(errstr)))
                goto done;
        if (!strcmp(argv[2], "bump")) {
                if (sl_store_node_get(s, argv[3], e, errstr, sizeof(errstr)))
                        goto done;
                e->seq += 1000;
                e->status = SL_STATUS_DOWN;
                e->kind = SL_KIND_STATUS_CHANGE;
        } else {
                if (sl_event_new_id(e) || sl_event_set(e, &e->node_id, argv[3]) ||
                    sl_event_set(e, &e->node_type, "ghost") ||
                    sl_event_set(e, &e->region, "nowhere"))
                        goto done;
                e->incarnation = 1700000000000;
                e->seq = 1;
                e->event_time_ms = 1700000000000;
                e->kind = SL_KIND_JOIN;
                e->status = SL_STATUS_UP;
        }
        if (sl_store_begin(s, &txn, errstr, sizeof(errstr)) ||
            sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)) ||
            sl_store_commit(txn, errstr, sizeof(errstr)))
                goto done;
        txn = NULL;
        ret = applied ? 0 : 1;
        if (!applied)
                snprintf(errstr, sizeof(errstr), "not applied");
done:
        if (ret)
                fprintf(stderr, "store_tamper: %s\n", errstr);
        if (txn)
                sl_store_abort(txn);
        sl_store_close(s);
        sl_event_destroy(e);
        return ret;
}
