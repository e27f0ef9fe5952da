/* The rich NodeStateEvent the unit tests share: every field set, usage, services, labels. */
#ifndef SL_TEST_FILL_FULL_H
#define SL_TEST_FILL_FULL_H

#include <criterion/criterion.h>

#include "sl_event.h"

static void fill_full(sl_event_t *e)
{
        sl_event_reset(e);
        cr_assert_eq(sl_event_new_id(e), SL_OK);
        sl_event_set(e, &e->node_id, "gw-eu-0001");
        sl_event_set(e, &e->node_type, "gateway");
        sl_event_set(e, &e->region, "eu-west");
        sl_event_set(e, &e->cluster, "c1");
        e->incarnation = 1732870000000;
        e->seq = 9;
        e->event_time_ms = 1732870012345;
        e->kind = SL_KIND_STATUS_CHANGE;
        e->status = SL_STATUS_DEGRADED;
        sl_event_set(e, &e->hostname, "gw1.example");
        sl_event_add_address(e, "10.0.0.1");
        sl_event_add_address(e, "[fe80::1]:4242");
        sl_event_add_service(e, "http");
        sl_event_add_service_meta(e, "port", "443");
        sl_event_add_service_meta(e, "tls", "yes");
        sl_event_add_service(e, "dns");
        e->has_usage = 1;
        e->usage.cpu_percent = 37.5;
        e->usage.cpu_count = 16;
        e->usage.load1 = 1.25;
        e->usage.load5 = 0.5;
        e->usage.load15 = 0.125;
        e->usage.mem_total = 64LL << 30;
        e->usage.mem_used = 12LL << 30;
        e->usage.mem_available = 50LL << 30;
        e->usage.disk_total = 2LL << 40;
        e->usage.disk_used = 1LL << 40;
        sl_event_add_sensor(e, "temp_c", 61.5);
        sl_event_add_sensor(e, "fan_rpm", 1800);
        sl_event_add_label(e, "rack", "r7");
        sl_event_add_label(e, "zone", "a");
        sl_event_set(e, &e->agent_version, "0.1.0");
        e->source = SL_SOURCE_BRIDGE;
}

#endif
