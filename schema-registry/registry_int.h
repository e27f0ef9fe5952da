/**
 * @file registry_int.h
 * @brief Internals of the registry server (`seerlog registry`); nothing outside
 *        schema-registry/ includes this.
 *
 * Files:
 *  - map.c       a string-keyed hash map
 *  - store.c     the in-memory state and the `_schemas` record format (keys, values, apply)
 *  - reader.c    the topic (created if missing) and the reader thread that applies it
 *  - election.c  leadership through a consumer group, the transactional producer, writes
 *  - forward.c   followers forward writes to the leader with libcurl
 *  - http.c      libmicrohttpd: connections, auth, body limits, raw path segments
 *  - api.c       the REST endpoints
 *  - server.c    configuration, start and stop (sl_registry_server.h)
 *
 * Locks, in the order they may be taken: write_lock (one write at a time, held for the whole
 * write including the read-back), store.lock (rwlock over the state), progress_lock (reader's
 * position), elect_lock (election flags). No lock is held while waiting for another one of a
 * lower rank.
 */
#ifndef SL_REGISTRY_INT_H
#define SL_REGISTRY_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "sl_conf.h"
#include "sl_http.h"
#include "sl_err.h"
#include "sl_registry_server.h"
#include "sl_schema.h"

/* ------------------------------------------------------------------------------------------ */
/* map.c                                                                                      */

typedef struct sl_reg_map_entry_s {
        char *key;
        void *value;
        struct sl_reg_map_entry_s *next;
} sl_reg_map_entry_t;

/** A hash map from NUL-terminated strings (copied) to borrowed values. Zero-initialise. */
typedef struct {
        sl_reg_map_entry_t **buckets;
        size_t nbuckets, cnt;
} sl_reg_map_t;

void *sl_reg_map_get(const sl_reg_map_t *m, const char *key);
/** Sets @p key to @p value (replacing). @returns 0, or -1 when out of memory. */
int sl_reg_map_put(sl_reg_map_t *m, const char *key, void *value);
/** Removes @p key. @returns its value or NULL. */
void *sl_reg_map_del(sl_reg_map_t *m, const char *key);
/** Calls @p fn on every value, then empties the map. */
void sl_reg_map_clear(sl_reg_map_t *m, void (*fn)(void *value));
/** Iteration: `for (e = sl_reg_map_next(m, NULL, &b); e; e = sl_reg_map_next(m, e, &b))`. */
sl_reg_map_entry_t *sl_reg_map_next(const sl_reg_map_t *m, sl_reg_map_entry_t *e, size_t *bucketp);

/* ------------------------------------------------------------------------------------------ */
/* store.c                                                                                    */

typedef enum {
        SL_MODE_READWRITE = 0,
        SL_MODE_READONLY,
        SL_MODE_READONLY_OVERRIDE,
        SL_MODE_IMPORT,
        SL_MODE__CNT
} sl_reg_mode_t;

const char *sl_reg_mode_name(sl_reg_mode_t mode);
/** Case-insensitive. @returns 0, or -1 for an unknown mode. */
int sl_reg_mode_parse(const char *name, sl_reg_mode_t *modep);

/** One version of a subject. */
typedef struct {
        int32_t version;
        int32_t id;
        int deleted;
        char *key; /**< The record's key exactly as read from the log, for rewrites/tombstones. */
        size_t key_len;
} sl_reg_version_t;

typedef struct {
        char *name;
        sl_reg_version_t *v; /**< Sorted by version. */
        size_t cnt, cap;
        int has_compat;
        sl_compat_level_t compat;
        int has_mode;
        sl_reg_mode_t mode;
} sl_reg_subject_t;

/** One schema, under its global id. */
typedef struct {
        int32_t id;
        char *text;          /**< As stored in the log. */
        char *identity;      /**< sl_schema_compact() of text (text itself if unparsable). */
        sl_schema_t *parsed; /**< NULL if the text does not parse (written by someone else). */
        size_t refs;         /**< Versions (live or soft-deleted) that use this id. */
} sl_reg_schema_t;

typedef void (*sl_reg_log_cb_t)(void *opaque, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The registry's state, rebuilt from the topic. Guarded by @c lock. */
typedef struct {
        pthread_rwlock_t lock;
        sl_reg_map_t subjects;   /**< name -> sl_reg_subject_t */
        sl_reg_map_t ids;        /**< "%d" id -> sl_reg_schema_t */
        sl_reg_map_t identities; /**< identity -> sl_reg_schema_t (the first id bound to it) */
        int32_t max_id;          /**< Highest id ever applied (never lowered). */
        int has_global_compat;
        sl_compat_level_t global_compat; /**< Effective when has_global_compat. */
        int has_global_mode;
        sl_reg_mode_t global_mode;
        char *leader_url; /**< From the last NOOP record, or NULL. */
        sl_reg_log_cb_t log;
        void *log_opaque;
} sl_reg_store_t;

/* Log levels, matching log.level's order. */
#define SL_LOG_ERROR 0
#define SL_LOG_WARN  1
#define SL_LOG_INFO  2
#define SL_LOG_DEBUG 3

int sl_reg_store_init(sl_reg_store_t *st, sl_reg_log_cb_t log, void *log_opaque);
void sl_reg_store_destroy(sl_reg_store_t *st);

/**
 * Applies one record of the topic (caller holds the write lock). @p value NULL or empty is a
 * tombstone. Malformed records are logged and skipped.
 */
void sl_reg_store_apply(sl_reg_store_t *st, const char *key, size_t key_len, const char *value,
                        size_t value_len, int64_t offset);

sl_reg_subject_t *sl_reg_store_subject(const sl_reg_store_t *st, const char *name);
sl_reg_schema_t *sl_reg_store_schema(const sl_reg_store_t *st, int32_t id);
sl_reg_schema_t *sl_reg_store_identity(const sl_reg_store_t *st, const char *identity);
sl_compat_level_t sl_reg_store_compat(const sl_reg_store_t *st, const sl_reg_subject_t *subj);
sl_reg_mode_t sl_reg_store_mode(const sl_reg_store_t *st, const sl_reg_subject_t *subj);

/** @returns the version @p version of @p subj or NULL. */
sl_reg_version_t *sl_reg_subject_version(const sl_reg_subject_t *subj, int32_t version);
/** @returns the latest live (or, with @p deleted, any) version, or NULL. */
sl_reg_version_t *sl_reg_subject_latest(const sl_reg_subject_t *subj, int deleted);
/** @returns the number of live versions. */
size_t sl_reg_subject_live(const sl_reg_subject_t *subj);

/* Record keys and values in Confluent's format (malloc()ed, NUL-terminated; NULL = no memory). */
char *sl_reg_key_schema(const char *subject, int32_t version);
char *sl_reg_value_schema(const char *subject, int32_t version, int32_t id, const char *schema,
                          int deleted);
char *sl_reg_key_config(const char *subject /* NULL: global */);
char *sl_reg_value_config(sl_compat_level_t level);
char *sl_reg_key_mode(const char *subject /* NULL: global */);
char *sl_reg_value_mode(sl_reg_mode_t mode);
char *sl_reg_key_delete_subject(const char *subject);
char *sl_reg_value_delete_subject(const char *subject, int32_t version);
char *sl_reg_key_noop(void);
char *sl_reg_value_noop(const char *leader_url);

/* ------------------------------------------------------------------------------------------ */
/* The server                                                                                 */

/** One record of a write: @c value NULL is a tombstone. Both owned by the record. */
typedef struct {
        char *key;
        size_t key_len;
        char *value;
        size_t value_len;
} sl_reg_record_t;

struct sl_registry_server_s {
        /* Settings, copied from the configuration. */
        char *topic, *group_id, *advertised_url, *listen_host;
        int listen_port;
        int replication_factor;
        int write_timeout_ms;
        size_t max_body;
        unsigned max_connections;
        int log_level;
        sl_http_sec_t *sec;             /**< TLS, users and roles (registry.tls.*, auth.file). */
        char *ca_location;              /**< CA file for forwarding over https, or NULL. */
        rd_kafka_conf_t *producer_conf; /**< Template of the leader's transactional producer. */

        sl_reg_store_t store;

        /* Reader (reader.c). */
        rd_kafka_t *reader;
        pthread_t reader_thr;
        int reader_started;
        pthread_mutex_t progress_lock;
        pthread_cond_t progress_cond;
        int64_t applied_next; /**< Offset after the last record applied (or EOF position). */
        int ready;            /**< Caught up with the topic at start. */

        /* Election and writes (election.c). */
        rd_kafka_t *elector;
        pthread_t elect_thr, leader_thr;
        int elect_started, leader_started;
        pthread_mutex_t elect_lock;
        pthread_cond_t elect_cond;
        int assigned;       /**< Partition 0 is assigned to us in the group. Under elect_lock. */
        uint64_t elect_gen; /**< Bumped on every election event. Under elect_lock. */
        pthread_mutex_t write_lock;
        rd_kafka_t *producer;        /**< Transactional producer while leading. Under write_lock. */
        int leading;                 /**< Ready to allocate ids. Written under write_lock. */
        int64_t last_written_offset; /**< Under write_lock: a write waits until it is read. */

        /* HTTP (http.c). */
        void *mhd; /**< struct MHD_Daemon * */

        int curl_inited;
        volatile int stopping;
};

typedef struct sl_registry_server_s sl_reg_srv_t;

void sl_reg_log(sl_reg_srv_t *srv, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int64_t sl_reg_now_ms(void);

/* reader.c */
sl_err_t sl_reg_topic_ensure(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                             size_t errstr_size);
sl_err_t sl_reg_reader_start(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                             size_t errstr_size);
void sl_reg_reader_stop(sl_reg_srv_t *srv);
/** Waits until the reader applied @p offset. @returns 0, or -1 at @p deadline_ms / stop. */
int sl_reg_wait_applied(sl_reg_srv_t *srv, int64_t offset, int64_t deadline_ms);
int sl_reg_is_ready(sl_reg_srv_t *srv);

/** librdkafka configuration for one of the server's clients: seerlog's defaults, @p defaults,
 *  the user's properties in @p conf, then @p forced (NULL-terminated name/value pairs). */
rd_kafka_conf_t *sl_reg_kafka_conf(sl_reg_srv_t *srv, const sl_conf_t *conf,
                                   const char *const *defaults, const char *const *forced,
                                   char *errstr, size_t errstr_size);

/* election.c */
sl_err_t sl_reg_election_start(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                               size_t errstr_size);
void sl_reg_election_stop(sl_reg_srv_t *srv);
/** Wakes the leadership worker (e.g. once the reader has caught up). */
void sl_reg_elect_nudge(sl_reg_srv_t *srv);
/**
 * Produces @p recs in one transaction and waits until this instance read them back. Caller
 * holds write_lock and srv->leading is set. @returns SL_OK, SL_ERR_TIMEOUT (not read back in
 * time; it may still be committed) or SL_ERR_KAFKA (not written; leadership may be lost).
 */
sl_err_t sl_reg_leader_write(sl_reg_srv_t *srv, sl_reg_record_t *recs, size_t cnt, char *errstr,
                             size_t errstr_size);
/** Waits until this leader's last write is applied (write_lock held). @returns 0 or -1. */
int sl_reg_leader_sync(sl_reg_srv_t *srv, int64_t deadline_ms);
void sl_reg_records_free(sl_reg_record_t *recs, size_t cnt);
/** Makes a record taking ownership of @p key and @p value (NULL for a tombstone). */
int sl_reg_record_set(sl_reg_record_t *rec, char *key, char *value);

/* forward.c */
typedef struct {
        long status;
        char *body;
        size_t len;
        char *content_type;
} sl_reg_fwd_resp_t;

/**
 * Sends the request to @p base_url + @p path_and_query. @returns 0 and *resp (free with
 * sl_reg_forward_free()), or -1 with @p errstr when the leader could not be reached.
 */
int sl_reg_forward(sl_reg_srv_t *srv, const char *base_url, const char *method,
                   const char *path_and_query, const char *body, size_t body_len,
                   const char *content_type, const char *authorization, sl_reg_fwd_resp_t *resp,
                   char *errstr, size_t errstr_size);
void sl_reg_forward_free(sl_reg_fwd_resp_t *resp);

/* http.c */
sl_err_t sl_reg_http_start(sl_reg_srv_t *srv, char *errstr, size_t errstr_size);
void sl_reg_http_stop(sl_reg_srv_t *srv);

/** Header marking a request forwarded by another instance (never forwarded again). */
#define SL_REG_FORWARDED_HEADER "X-Seerlog-Forwarded"

/** A request as the API sees it; everything is valid during the request only. */
typedef struct {
        const char *method;
        char **seg; /**< Percent-decoded path segments. */
        size_t seg_cnt;
        const char *path; /**< The path as received (still percent-encoded), for forwarding. */
        const void *args; /**< Decoded query arguments: sl_reg_query(). */
        const char *body; /**< NUL-terminated; "" when there is none. */
        size_t body_len;
        const char *content_type;
        const char *authorization;
        int forwarded; /**< Came from another instance. */
} sl_reg_req_t;

/** An answer: status, body, content type. */
typedef struct {
        unsigned status;
        char *body; /**< malloc()ed. */
        size_t len;
        char *content_type; /**< malloc()ed, or NULL for the registry's JSON type. */
} sl_reg_resp_t;

/** @returns the percent-decoded query argument @p name, or NULL. Valid during the request. */
const char *sl_reg_query(const sl_reg_req_t *req, const char *name);
/** @returns 1 when query argument @p name is "true" in any case. */
int sl_reg_query_bool(const sl_reg_req_t *req, const char *name);
/** @returns the path and query of @p req re-encoded for forwarding (malloc()ed), or NULL. */
char *sl_reg_req_target(const sl_reg_req_t *req);

/* api.c */
void sl_reg_api_handle(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp);
/** Fills @p resp with `{"error_code":code,"message":...}`. */
void sl_reg_resp_error(sl_reg_resp_t *resp, unsigned status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Fills @p resp with @p json (stolen reference). */
void sl_reg_resp_json(sl_reg_resp_t *resp, unsigned status, json_t *json);

#define SL_REG_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

#endif
