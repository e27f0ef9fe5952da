/*
 * Test helper for test-snapshot-interop.sh: fills a projector store with synthetic node states.
 *
 *   snapshot_fill STORE_DIR NODES
 *       Applies NODES nodes "node-000000".. in one transaction: node i has node_type
 *       seer/gateway/auth by i % 3, region "r" (i % 4), incarnation 1732870000000 + i, seq
 *       2 * i, event_time 1732870000000 + 1000 * i, status up/degraded/down by i % 3, a usage
 *       with cpu_count 1 + i % 8 on even nodes (null on odd ones), the label rack=r(i % 10) and
 *       the address 10.0.(i / 256).(i % 256). Stores the offsets nodes/0..2 = 1000 + i and
 *       nodes.bridge/0 = 42. Prints the store's hash (sl_store_hash()) on stdout.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sl_store.h"

int main(int argc, char **argv)
{
        static const char *const types[] = {"seer", "gateway", "auth"};
        static const sl_node_status_t statuses[] = {SL_STATUS_UP, SL_STATUS_DEGRADED,
                                                    SL_STATUS_DOWN};
        sl_store_t *s = NULL;
        sl_store_txn_t *txn = NULL;
        sl_event_t *e = sl_event_new();
        char errstr[512], buf[64], hex[SL_STORE_HASH_HEX_SIZE];
        long nodes;
        int applied, ret = 1;

        if (argc != 3 || (nodes = atol(argv[2])) < 0) {
                fprintf(stderr, "usage: snapshot_fill STORE_DIR NODES\n");
                return 2;
        }
        if (!e || sl_store_open(argv[1], 1LL << 30, &s, errstr, sizeof(errstr)) ||
            sl_store_begin(s, &txn, errstr, sizeof(errstr)))
                goto done;
        for (long i = 0; i < nodes; i++) {
                sl_event_reset(e);
                if (sl_event_new_id(e))
                        goto done;
                snprintf(buf, sizeof(buf), "node-%06ld", i);
                sl_event_set(e, &e->node_id, buf);
                sl_event_set(e, &e->node_type, types[i % 3]);
                snprintf(buf, sizeof(buf), "r%ld", i % 4);
                sl_event_set(e, &e->region, buf);
                e->incarnation = 1732870000000 + i;
                e->seq = 2 * i;
                e->event_time_ms = 1732870000000 + 1000 * i;
                e->kind = SL_KIND_HEARTBEAT;
                e->status = statuses[i % 3];
                e->source = SL_SOURCE_AGENT;
                if (i % 2 == 0) {
                        e->has_usage = 1;
                        e->usage.cpu_count = (int32_t)(1 + i % 8);
                        e->usage.cpu_percent = 12.5;
                }
                snprintf(buf, sizeof(buf), "r%ld", i % 10);
                sl_event_add_label(e, "rack", buf);
                snprintf(buf, sizeof(buf), "10.0.%ld.%ld", i / 256, i % 256);
                sl_event_add_address(e, buf);
                if (sl_store_apply(txn, e, &applied, errstr, sizeof(errstr)))
                        goto done;
        }
        for (int p = 0; p < 3; p++)
                if (sl_store_offset_put(txn, "nodes", p, 1000 + p, errstr, sizeof(errstr)))
                        goto done;
        if (sl_store_offset_put(txn, "nodes.bridge", 0, 42, errstr, sizeof(errstr)) ||
            sl_store_commit(txn, errstr, sizeof(errstr)))
                goto done;
        txn = NULL;
        if (sl_store_hash(s, hex, errstr, sizeof(errstr)))
                goto done;
        printf("%s\n", hex);
        ret = 0;
done:
        if (ret)
                fprintf(stderr, "snapshot_fill: %s\n", errstr);
        sl_store_abort(txn);
        sl_store_close(s);
        sl_event_destroy(e);
        return ret;
}
