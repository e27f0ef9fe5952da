/*
 * What the command-line views of the projector's API (seerlog state without --store, watch,
 * top) share: the client from --url / api.url, error reporting, times, and tables whose columns
 * fit their content.
 */
#ifndef SL_VIEWS_H
#define SL_VIEWS_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "api_client.h"
#include "cli.h"

/**
 * @brief The client of the API at --url (which sets api.url) or api.url.
 * @returns 0, or an exit code after printing the error (a bad URL is a usage error).
 */
int sl_view_client(sl_cli_t *cli, sl_apic_t **cp);

/**
 * @brief Reports a failed API call. A 400 (bad filter values) is a usage error; anything else
 *        (unreachable, other HTTP errors, unknown node) a failure.
 * @returns the exit code.
 */
int sl_view_api_fail(sl_cli_t *cli, sl_err_t err, const char *errstr);

/** "3s", "5m", "2h", "4d" for a duration of @p ms (negative: "0s"). */
void sl_view_age(char *buf, size_t size, int64_t ms);

/** "2026-11-29T18:30:53.123Z" (UTC) for @p ms since the epoch. */
void sl_view_time(char *buf, size_t size, int64_t ms);

/** A JSON number or string as text ("-" when absent); integers without a fraction. */
void sl_view_scalar(char *buf, size_t size, const json_t *v);

/** The string @p key of @p obj, or "-" when absent or empty. */
const char *sl_view_str(const json_t *obj, const char *key);

/** "56%" of a NODE's state.usage.cpu_percent; "-" without usage. */
void sl_view_cpu(char *buf, size_t size, const json_t *usage);

/** "40%" of usage.mem_used / usage.mem_total; "-" without them. */
void sl_view_mem(char *buf, size_t size, const json_t *usage);

/** "k=v<sep>k2=v2" in key order, "-" without labels. @returns a malloc()ed string or NULL. */
char *sl_view_labels(const json_t *labels, const char *sep);

/* sl_view_node_row()'s columns: the first 8, or all 13 when wide. */
#define SL_VIEW_NODE_COLS      8
#define SL_VIEW_NODE_COLS_WIDE 13
extern const char *const sl_view_node_header[SL_VIEW_NODE_COLS_WIDE];

/** A table: rows of cells, printed with each column as wide as its widest cell. */
typedef struct {
        size_t cols;
        char **cells; /* rows * cols, row-major; the first row is the header */
        size_t rows, cap;
        int nomem;
} sl_table_t;

/** Starts @p t with its header row: @p cols names. */
void sl_table_init(sl_table_t *t, size_t cols, const char *const *header);

/** Adds a row of t->cols cells (copied). On out of memory, sets t->nomem and drops the row. */
void sl_table_add(sl_table_t *t, const char *const *cells);

/**
 * @brief Prints the rows, columns separated by 3 spaces, the last one not padded; a row is cut
 *        at @p max_width characters when it is > 0.
 */
void sl_table_print(const sl_table_t *t, FILE *fp, int max_width);

void sl_table_free(sl_table_t *t);

/**
 * @brief Adds the row of a NODE of the API (docs/api.md) to @p t, whose header is
 *        sl_view_node_header: NODE, TYPE, REGION, STATUS, LIVENESS, LAST SEEN (relative to
 *        @p now_ms), CPU, MEM, and when @p wide CLUSTER, INCARNATION, SEQ, SOURCE, LABELS.
 * @returns 0, or -1 when out of memory.
 */
int sl_view_node_row(sl_table_t *t, const json_t *node, int wide, int64_t now_ms);

/** Set (e.g. by a signal handler) to cancel the API requests under way, like a SIGINT. */
extern volatile sig_atomic_t sl_view_stop;

#endif
