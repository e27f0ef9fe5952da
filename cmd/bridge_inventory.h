/**
 * @file bridge_inventory.h
 * @brief The inventory of `seerlog bridge`: the nodes that have no agent yet, and how to probe
 *        each (the old ping), parsed and validated all or nothing.
 *
 * Format (docs/bridge.md): one node per line,
 *
 *     NODE_ID TYPE REGION PROBE [KEY=VALUE ...]
 *
 * separated by spaces or tabs. PROBE is `http://HOST[:PORT][/PATH]`, `https://...` (a GET; the
 * status code decides) or `tcp://HOST:PORT` (a connect). HOST is a name, an IPv4 address or an
 * IPv6 address in brackets. KEY=VALUE pairs become the node's labels (the key non-empty, the
 * value may be empty, neither can hold whitespace). A `#` at the start of a field starts a
 * comment that runs to the end of the line (a `#` inside a field, e.g. in a URL, does not); blank
 * lines and comment lines are skipped; CRLF line ends are accepted.
 *
 * Validation: the node id, type and region follow sl_name_validate() (what a topic name allows);
 * with a topic template given, it must expand to a valid topic for the node's region and type;
 * the probe must parse; a label key may appear once per line; a node id may appear once per file.
 * The first bad line fails the whole file with `NAME:LINE: reason` in errstr and nothing is kept.
 *
 * Ownership: an inventory owns every string its nodes point to; they live until
 * sl_inventory_destroy().
 */
#ifndef SL_BRIDGE_INVENTORY_H
#define SL_BRIDGE_INVENTORY_H

#include <stddef.h>

#include "sl_err.h"
#include "sl_event.h"

/** Longest inventory file read (a fleet of ~100k nodes with a few labels each). */
#define SL_INVENTORY_MAX_BYTES (64u << 20)

typedef enum {
        SL_PROBE_HTTP = 1, /**< http:// or https://: GET, the status code decides. */
        SL_PROBE_TCP,      /**< tcp://: a connection that is accepted is up. */
} sl_probe_kind_t;

/** One node of the inventory. */
typedef struct {
        const char *node_id;
        const char *type;
        const char *region;
        const char *probe; /**< The PROBE field as written (the URL curl fetches for HTTP). */
        sl_probe_kind_t kind;
        const char *host; /**< Without the brackets of an IPv6 address. */
        int port;         /**< The port given, or the scheme's (80, 443). */
        sl_kv_t *labels;  /**< In the order written. */
        size_t label_cnt;
        int line; /**< 1-based line number in the file. */
} sl_inv_node_t;

typedef struct {
        sl_inv_node_t *nodes; /**< Sorted by node id (strcmp). */
        size_t node_cnt;
        char *name; /**< The file's name, as given. */
        /* Private: the strings the nodes point to. */
        char **strs;
        size_t str_cnt, str_cap;
} sl_inventory_t;

/**
 * @brief Parses @p len bytes of @p text, naming it @p name in errors.
 * @param topic_tmpl when not NULL, every node's region and type must expand it (sl_topic_expand())
 *        into a valid topic name.
 * @returns SL_OK with *invp set (free with sl_inventory_destroy()); SL_ERR_BAD_VALUE for a bad
 *          line or a duplicate node id ("NAME:LINE: reason"); SL_ERR_NOMEM. On error *invp is
 *          NULL.
 */
sl_err_t sl_inventory_parse(const char *name, const char *text, size_t len, const char *topic_tmpl,
                            sl_inventory_t **invp, char *errstr, size_t errstr_size);

/**
 * @brief Reads and parses the file at @p path (at most SL_INVENTORY_MAX_BYTES; no NUL bytes).
 * @returns what sl_inventory_parse() returns, or SL_ERR_IO when the file cannot be read
 *          ("PATH: reason").
 */
sl_err_t sl_inventory_load(const char *path, const char *topic_tmpl, sl_inventory_t **invp,
                           char *errstr, size_t errstr_size);

void sl_inventory_destroy(sl_inventory_t *inv);

/** @returns the node @p node_id of @p inv (binary search), or NULL. */
const sl_inv_node_t *sl_inventory_find(const sl_inventory_t *inv, const char *node_id);

/**
 * @brief Parses one PROBE field (as the inventory does) into @p kind, @p host (a copy in
 *        @p host_buf) and @p port. @returns SL_OK or SL_ERR_BAD_VALUE with the reason.
 */
sl_err_t sl_probe_url_parse(const char *url, sl_probe_kind_t *kindp, char *host_buf,
                            size_t host_size, int *portp, char *errstr, size_t errstr_size);

#endif
