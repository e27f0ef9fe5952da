/*
 * The REST API: Confluent's endpoints, bodies and error codes (see docs/schema-registry.md and
 * ../shared/notes/schema-registry.md). Reads answer from the in-memory state under its read
 * lock; writes run in the leader (locally, or forwarded to it) and are answered once read back.
 */
#include "registry_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Answers                                                                                    */

void sl_reg_resp_json(sl_reg_resp_t *resp, unsigned status, json_t *json)
{
        static const char oom[] = "{\"error_code\":50001,\"message\":\"out of memory\"}";

        free(resp->body);
        free(resp->content_type);
        resp->content_type = NULL;
        resp->status = status;
        resp->body = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(json);
        if (!resp->body) {
                resp->status = 500;
                resp->body = strdup(oom);
        }
        resp->len = resp->body ? strlen(resp->body) : 0;
}

void sl_reg_resp_error(sl_reg_resp_t *resp, unsigned status, int code, const char *fmt, ...)
{
        char msg[1024];
        json_t *jmsg;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* A message quoting bytes of a request that are not UTF-8 cannot be a JSON string. */
        if (!(jmsg = json_string(msg)))
                jmsg = json_string("(the message is not valid UTF-8)");
        sl_reg_resp_json(resp, status,
                         json_pack("{s:i, s:o}", "error_code", code, "message", jmsg));
}

static void sl_reg_resp_text(sl_reg_resp_t *resp, const char *text)
{
        free(resp->body);
        resp->status = 200;
        resp->body = strdup(text);
        resp->len = resp->body ? strlen(resp->body) : 0;
        if (!resp->body)
                sl_reg_resp_error(resp, 500, 50001, "out of memory");
}

static void sl_reg_not_found(sl_reg_resp_t *resp)
{
        sl_reg_resp_error(resp, 404, 404, "HTTP 404 Not Found");
}

static void sl_reg_bad_method(sl_reg_resp_t *resp)
{
        sl_reg_resp_error(resp, 405, 405, "HTTP 405 Method Not Allowed");
}

#define SL_ERR_SUBJECT_NOT_FOUND(resp, s)                                                          \
        sl_reg_resp_error(resp, 404, 40401, "Subject '%s' not found.", s)
#define SL_ERR_VERSION_NOT_FOUND(resp, v)                                                          \
        sl_reg_resp_error(resp, 404, 40402, "Version %s not found.", v)

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                    */

/* Valid UTF-8 without control characters (Java's isISOControl: C0, DEL, C1), not empty. */
static int sl_reg_subject_ok(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        if (!*p)
                return 0;
        while (*p) {
                unsigned c = *p;
                int n;
                unsigned cp;

                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return 0;
                        p++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        n = 1;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return 0;
                for (int i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
                        return 0;
                p += n + 1;
        }
        return 1;
}

/* A decimal in 1..INT32_MAX, digits only. @returns 0 and *vp, or -1. */
static int sl_reg_parse_pos_int(const char *s, int32_t *vp)
{
        int64_t n = 0;

        if (!*s)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                n = n * 10 + (*s - '0');
                if (n > INT32_MAX)
                        return -1;
        }
        if (n < 1)
                return -1;
        *vp = (int32_t)n;
        return 0;
}

/* A version: @returns 1 and *vp for a number, 0 for latest (or -1), -1 when invalid (42202). */
static int sl_reg_parse_version(const char *s, int32_t *vp)
{
        if (!strcmp(s, "latest") || !strcmp(s, "-1"))
                return 0;
        return sl_reg_parse_pos_int(s, vp) ? -1 : 1;
}

static void sl_reg_invalid_version(sl_reg_resp_t *resp, const char *s)
{
        sl_reg_resp_error(resp, 422, 42202,
                          "The specified version '%s' is not a valid version id. Allowed values "
                          "are between [1, 2^31-1] and the string \"latest\"",
                          s);
}

/* Parses a JSON object body. @returns it, or NULL with resp filled (400 or 422/@p code). */
static json_t *sl_reg_body_object(const sl_reg_req_t *req, sl_reg_resp_t *resp, int code,
                                  const char *what)
{
        json_error_t jerr;
        json_t *body = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &jerr);

        if (!body) {
                sl_reg_resp_error(resp, 400, 400, "Unrecognized JSON in the request body: %s",
                                  jerr.text);
                return NULL;
        }
        if (!json_is_object(body)) {
                json_decref(body);
                sl_reg_resp_error(resp, 422, code, "The request body must be a JSON object %s",
                                  what);
                return NULL;
        }
        return body;
}

/* A schema sent in a request body. */
typedef struct {
        json_t *body;
        sl_schema_t *parsed;        /* as sent */
        sl_schema_t *stored_parsed; /* what would be stored: parsed, or its normalised form */
        const char *identity;       /* sl_schema_compact(stored_parsed) */
        int normalize;
        int has_id, has_version;
        int32_t id, version;
} sl_reg_cand_t;

static void sl_reg_cand_free(sl_reg_cand_t *c)
{
        if (c->stored_parsed != c->parsed)
                sl_schema_destroy(c->stored_parsed);
        sl_schema_destroy(c->parsed);
        json_decref(c->body);
        memset(c, 0, sizeof(*c));
}

/* An optional positive integer field; 0 or negative (Confluent's "unset" -1) means absent. */
static int sl_reg_opt_int(json_t *body, const char *name, int *hasp, int32_t *vp)
{
        json_t *j = json_object_get(body, name);

        *hasp = 0;
        if (!j || json_is_null(j))
                return 0;
        if (!json_is_integer(j) || json_integer_value(j) > INT32_MAX)
                return -1;
        if (json_integer_value(j) > 0) {
                *hasp = 1;
                *vp = (int32_t)json_integer_value(j);
        }
        return 0;
}

static int sl_reg_cand_parse(const sl_reg_req_t *req, sl_reg_resp_t *resp, int normalize,
                             sl_reg_cand_t *c)
{
        json_t *jschema, *jtype, *jrefs;
        char errstr[1024];
        sl_err_t err;

        memset(c, 0, sizeof(*c));
        c->normalize = normalize;
        if (!(c->body = sl_reg_body_object(req, resp, 42201, "with a \"schema\" string")))
                return -1;
        jschema = json_object_get(c->body, "schema");
        if (!json_is_string(jschema) || !json_string_length(jschema)) {
                sl_reg_resp_error(resp, 422, 42201,
                                  jschema ? "Invalid schema: \"schema\" must be a non-empty string"
                                          : "Empty schema");
                goto fail;
        }
        jtype = json_object_get(c->body, "schemaType");
        if (jtype && !json_is_null(jtype) &&
            (!json_is_string(jtype) || strcasecmp(json_string_value(jtype), "AVRO"))) {
                sl_reg_resp_error(resp, 422, 42201,
                                  "Invalid schema: schemaType %s is not supported; this registry "
                                  "supports AVRO only",
                                  json_is_string(jtype) ? json_string_value(jtype)
                                                        : "(not a string)");
                goto fail;
        }
        jrefs = json_object_get(c->body, "references");
        if (jrefs && !json_is_null(jrefs) && (!json_is_array(jrefs) || json_array_size(jrefs))) {
                sl_reg_resp_error(resp, 422, 42201,
                                  json_is_array(jrefs)
                                      ? "Invalid schema: references are not supported"
                                      : "Invalid schema: \"references\" must be an array");
                goto fail;
        }
        if (sl_reg_opt_int(c->body, "id", &c->has_id, &c->id) ||
            sl_reg_opt_int(c->body, "version", &c->has_version, &c->version)) {
                sl_reg_resp_error(resp, 422, 42201,
                                  "Invalid schema: \"id\" and \"version\" must be integers");
                goto fail;
        }
        if ((err =
                 sl_schema_parse(json_string_value(jschema), &c->parsed, errstr, sizeof(errstr)))) {
                if (err == SL_ERR_NOMEM)
                        sl_reg_resp_error(resp, 500, 50001, "out of memory");
                else
                        sl_reg_resp_error(resp, 422, 42201, "Invalid schema: %s", errstr);
                goto fail;
        }
        c->stored_parsed = c->parsed;
        if (normalize) {
                sl_schema_t *n = NULL;

                if ((err = sl_schema_parse(sl_schema_normalized(c->parsed), &n, errstr,
                                           sizeof(errstr)))) {
                        sl_reg_resp_error(resp, 500, 50001,
                                          "The normalised form of the schema does not parse: %s",
                                          errstr);
                        goto fail;
                }
                c->stored_parsed = n;
        }
        c->identity = sl_schema_compact(c->stored_parsed);
        return 0;

fail:
        sl_reg_cand_free(c);
        return -1;
}

/* Whether stored schema @p s is the candidate (by identity, or normalised forms if asked). */
static int sl_reg_cand_matches(const sl_reg_cand_t *c, const sl_reg_schema_t *s)
{
        if (!s)
                return 0;
        if (!strcmp(s->identity, c->identity))
                return 1;
        return c->normalize && s->parsed &&
               !strcmp(sl_schema_normalized(s->parsed), sl_schema_normalized(c->parsed));
}

/* ------------------------------------------------------------------------------------------ */
/* Writes                                                                                     */

typedef void (*sl_reg_write_fn_t)(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp);

/* Relays a forwarded answer. @returns 0, or -1 when it says the other side does not lead. */
static int sl_reg_relay(sl_reg_fwd_resp_t *f, sl_reg_resp_t *resp)
{
        if (f->status >= 500) {
                json_t *j = json_loadb(f->body, f->len, 0, NULL);
                int not_leader = json_integer_value(json_object_get(j, "error_code")) == 50003;

                json_decref(j);
                if (not_leader)
                        return -1;
        }
        free(resp->body);
        free(resp->content_type);
        resp->status = (unsigned)f->status;
        resp->body = f->body;
        resp->len = f->len;
        resp->content_type = f->content_type;
        f->body = f->content_type = NULL;
        return 0;
}

/*
 * Runs a write: here when this instance leads, else forwarded to the leader; retried until
 * registry.write.timeout.ms while there is no (reachable) leader, then 50003.
 */
static void sl_reg_write(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                         sl_reg_write_fn_t fn, void *arg)
{
        int64_t deadline = sl_reg_now_ms() + srv->write_timeout_ms;
        char why[512] = "no instance leads yet";

        for (;;) {
                char *leader = NULL;

                pthread_mutex_lock(&srv->write_lock);
                if (srv->leading) {
                        if (sl_reg_leader_sync(srv, deadline))
                                sl_reg_resp_error(resp, 500, 50002,
                                                  "Timed out waiting for an earlier write to be "
                                                  "read back from the Kafka store");
                        else
                                fn(srv, arg, resp);
                        pthread_mutex_unlock(&srv->write_lock);
                        return;
                }
                pthread_mutex_unlock(&srv->write_lock);
                if (srv->stopping) {
                        snprintf(why, sizeof(why), "this instance is shutting down");
                        break;
                }
                if (req->forwarded) {
                        int assigned;

                        /* Never forward twice; wait only if this instance is taking the lead. */
                        pthread_mutex_lock(&srv->elect_lock);
                        assigned = srv->assigned;
                        pthread_mutex_unlock(&srv->elect_lock);
                        snprintf(why, sizeof(why), "the instance forwarded to does not lead");
                        if (!assigned)
                                break;
                } else {
                        pthread_rwlock_rdlock(&srv->store.lock);
                        if (srv->store.leader_url)
                                leader = strdup(srv->store.leader_url);
                        pthread_rwlock_unlock(&srv->store.lock);
                }
                if (leader && strcmp(leader, srv->advertised_url)) {
                        sl_reg_fwd_resp_t f;
                        char *target = sl_reg_req_target(req);
                        int r = -1;

                        if (target)
                                r = sl_reg_forward(srv, leader, req->method, target, req->body,
                                                   req->body_len, req->content_type,
                                                   req->authorization, &f, why, sizeof(why));
                        free(target);
                        if (!r) {
                                r = sl_reg_relay(&f, resp);
                                sl_reg_forward_free(&f);
                                if (!r) {
                                        free(leader);
                                        return;
                                }
                                snprintf(why, sizeof(why), "%s does not lead (any more)", leader);
                        }
                }
                free(leader);
                if (sl_reg_now_ms() + 100 >= deadline)
                        break;
                usleep(100 * 1000);
        }
        sl_reg_resp_error(resp, 500, 50003, "Error while forwarding the request to the leader: %s",
                          why);
}

/* Writes @p recs (owned) and fills @p resp with @p answer (stolen) or the error. */
static void sl_reg_commit(sl_reg_srv_t *srv, sl_reg_record_t *recs, size_t cnt, json_t *answer,
                          sl_reg_resp_t *resp)
{
        char errstr[512];
        sl_err_t err = SL_OK;

        for (size_t i = 0; i < cnt; i++)
                if (!recs[i].key)
                        err = SL_ERR_NOMEM;
        if (!err)
                err = sl_reg_leader_write(srv, recs, cnt, errstr, sizeof(errstr));
        sl_reg_records_free(recs, cnt);
        switch (err) {
        case SL_OK:
                sl_reg_resp_json(resp, 200, answer);
                return;
        case SL_ERR_TIMEOUT:
                sl_reg_resp_error(resp, 500, 50002, "Write to the Kafka store timed out: %s",
                                  errstr);
                break;
        case SL_ERR_NOMEM:
                sl_reg_resp_error(resp, 500, 50001, "out of memory");
                break;
        default:
                sl_reg_resp_error(resp, 500, 50001, "Error in the backend data store: %s", errstr);
                break;
        }
        json_decref(answer);
}

static char *sl_reg_memdup(const char *s, size_t len)
{
        char *d = malloc(len + 1);

        if (d) {
                memcpy(d, s, len);
                d[len] = '\0';
        }
        return d;
}

static int sl_reg_read_only(sl_reg_mode_t mode)
{
        return mode == SL_MODE_READONLY || mode == SL_MODE_READONLY_OVERRIDE;
}

/* POST /subjects/{s}/versions */
typedef struct {
        const char *subject;
        sl_reg_cand_t *cand;
} sl_reg_register_arg_t;

static void sl_reg_do_register(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp)
{
        sl_reg_register_arg_t *a = arg;
        sl_reg_cand_t *c = a->cand;
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_version_t *latest;
        sl_reg_schema_t *same;
        sl_reg_mode_t mode;
        sl_reg_record_t rec = {0};
        int32_t id, version;

        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, a->subject);
        mode = sl_reg_store_mode(st, subj);
        if (sl_reg_read_only(mode)) {
                sl_reg_resp_error(resp, 422, 42205, "Subject '%s' is in read-only mode",
                                  a->subject);
                goto unlock;
        }
        if (c->has_id && mode != SL_MODE_IMPORT) {
                sl_reg_resp_error(resp, 422, 42205,
                                  "Subject '%s' is not in import mode: an id cannot be given",
                                  a->subject);
                goto unlock;
        }
        /* Idempotent: the schema is already a live version of the subject. */
        for (size_t i = subj ? subj->cnt : 0; i > 0; i--) {
                sl_reg_version_t *v = &subj->v[i - 1];

                if (!v->deleted && sl_reg_cand_matches(c, sl_reg_store_schema(st, v->id)) &&
                    (!c->has_id || c->id == v->id)) {
                        id = v->id;
                        pthread_rwlock_unlock(&st->lock);
                        sl_reg_resp_json(resp, 200, json_pack("{s:i}", "id", (int)id));
                        return;
                }
        }
        if (mode != SL_MODE_IMPORT && sl_reg_subject_live(subj)) {
                sl_compat_level_t level = sl_reg_store_compat(st, subj);
                const sl_schema_t **live = calloc(subj->cnt, sizeof(*live));
                json_t *msgs = json_array();
                size_t n = 0;
                int ok;

                if (!live || !msgs) {
                        free(live);
                        json_decref(msgs);
                        sl_reg_resp_error(resp, 500, 50001, "out of memory");
                        goto unlock;
                }
                for (size_t i = 0; i < subj->cnt; i++) {
                        sl_reg_schema_t *s = sl_reg_store_schema(st, subj->v[i].id);

                        if (!subj->v[i].deleted && s && s->parsed)
                                live[n++] = s->parsed;
                }
                ok = sl_compat_check(level, c->stored_parsed, live, n, msgs);
                free(live);
                if (!ok) {
                        char *details = json_dumps(msgs, JSON_COMPACT);

                        sl_reg_resp_error(resp, 409, 409,
                                          "Schema being registered is incompatible with an earlier "
                                          "schema for subject \"%s\", details: %s",
                                          a->subject, details ? details : "[]");
                        free(details);
                        json_decref(msgs);
                        goto unlock;
                }
                json_decref(msgs);
        }
        if (c->has_id) {
                sl_reg_schema_t *taken = sl_reg_store_schema(st, c->id);

                if (taken && strcmp(taken->identity, c->identity)) {
                        sl_reg_resp_error(resp, 422, 42207,
                                          "Schema id %d is already used by a different schema",
                                          (int)c->id);
                        goto unlock;
                }
                id = c->id;
        } else if ((same = sl_reg_store_identity(st, c->identity))) {
                id = same->id;
        } else if (st->max_id == INT32_MAX) {
                sl_reg_resp_error(resp, 500, 50001, "No schema id left");
                goto unlock;
        } else {
                id = st->max_id + 1;
        }
        latest = sl_reg_subject_latest(subj, 1);
        version = c->has_version ? c->version : latest ? latest->version + 1 : 1;
        if (c->has_version && sl_reg_subject_version(subj, version)) {
                sl_reg_resp_error(resp, 422, 42205, "Version %d of subject '%s' already exists",
                                  (int)version, a->subject);
                goto unlock;
        }
        pthread_rwlock_unlock(&st->lock);

        sl_reg_record_set(
            &rec, sl_reg_key_schema(a->subject, version),
            sl_reg_value_schema(a->subject, version, id, sl_schema_text(c->stored_parsed), 0));
        if (!rec.value) {
                sl_reg_records_free(&rec, 1);
                sl_reg_resp_error(resp, 500, 50001, "out of memory");
                return;
        }
        sl_reg_commit(srv, &rec, 1, json_pack("{s:i}", "id", (int)id), resp);
        return;

unlock:
        pthread_rwlock_unlock(&st->lock);
}

/* DELETE /subjects/{s} and /subjects/{s}/versions/{v} */
typedef struct {
        const char *subject;
        int permanent;
        int latest; /* the version is "latest" */
        int32_t version;
        const char *version_text;
} sl_reg_delete_arg_t;

static void sl_reg_do_delete_subject(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp)
{
        sl_reg_delete_arg_t *a = arg;
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_record_t *recs = NULL;
        json_t *answer = NULL;
        size_t cnt = 0, live;
        int32_t last_live = 0;

        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, a->subject);
        if (!subj || !subj->cnt) {
                SL_ERR_SUBJECT_NOT_FOUND(resp, a->subject);
                goto unlock;
        }
        if (sl_reg_read_only(sl_reg_store_mode(st, subj))) {
                sl_reg_resp_error(resp, 422, 42205, "Subject '%s' is in read-only mode",
                                  a->subject);
                goto unlock;
        }
        live = sl_reg_subject_live(subj);
        if (!a->permanent && !live) {
                sl_reg_resp_error(resp, 404, 40404,
                                  "Subject '%s' was soft deleted.Set permanent=true to delete "
                                  "permanently",
                                  a->subject);
                goto unlock;
        }
        if (a->permanent && live) {
                sl_reg_resp_error(resp, 404, 40405,
                                  "Subject '%s' was not deleted first before being permanently "
                                  "deleted",
                                  a->subject);
                goto unlock;
        }
        if (!(recs = calloc(subj->cnt + 1, sizeof(*recs))) || !(answer = json_array()))
                goto nomem;
        for (size_t i = 0; i < subj->cnt; i++) {
                sl_reg_version_t *v = &subj->v[i];
                sl_reg_schema_t *s = sl_reg_store_schema(st, v->id);
                char *key;

                if (!a->permanent && v->deleted)
                        continue;
                /* The key's bytes as read, so that compaction replaces that very record. */
                if (!(key = sl_reg_memdup(v->key, v->key_len)))
                        goto nomem;
                if (!a->permanent) {
                        char *value =
                            sl_reg_value_schema(a->subject, v->version, v->id, s ? s->text : "", 1);

                        last_live = v->version;
                        if (!value) {
                                free(key);
                                goto nomem;
                        }
                        sl_reg_record_set(&recs[cnt++], key, value);
                } else {
                        sl_reg_record_set(&recs[cnt++], key, NULL);
                }
                recs[cnt - 1].key_len = v->key_len;
                json_array_append_new(answer, json_integer(v->version));
        }
        /* Confluent's marker of a subject deletion; removed with the subject. */
        sl_reg_record_set(&recs[cnt++], sl_reg_key_delete_subject(a->subject),
                          a->permanent ? NULL : sl_reg_value_delete_subject(a->subject, last_live));
        pthread_rwlock_unlock(&st->lock);
        sl_reg_commit(srv, recs, cnt, answer, resp);
        free(recs);
        return;

nomem:
        sl_reg_resp_error(resp, 500, 50001, "out of memory");
        json_decref(answer);
        if (recs)
                sl_reg_records_free(recs, cnt);
        free(recs);
unlock:
        pthread_rwlock_unlock(&st->lock);
}

static void sl_reg_do_delete_version(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp)
{
        sl_reg_delete_arg_t *a = arg;
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_version_t *v;
        sl_reg_schema_t *s;
        sl_reg_record_t rec = {0};
        char *key, *value = NULL;
        int32_t version;

        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, a->subject);
        if (!subj || !subj->cnt) {
                SL_ERR_SUBJECT_NOT_FOUND(resp, a->subject);
                goto unlock;
        }
        if (sl_reg_read_only(sl_reg_store_mode(st, subj))) {
                sl_reg_resp_error(resp, 422, 42205, "Subject '%s' is in read-only mode",
                                  a->subject);
                goto unlock;
        }
        v = a->latest ? sl_reg_subject_latest(subj, a->permanent)
                      : sl_reg_subject_version(subj, a->version);
        if (!v) {
                SL_ERR_VERSION_NOT_FOUND(resp, a->version_text);
                goto unlock;
        }
        if (!a->permanent && v->deleted) {
                sl_reg_resp_error(resp, 404, 40406,
                                  "Subject '%s' Version %d was soft deleted.Set permanent=true to "
                                  "delete permanently",
                                  a->subject, (int)v->version);
                goto unlock;
        }
        if (a->permanent && !v->deleted) {
                sl_reg_resp_error(resp, 404, 40407,
                                  "Subject '%s' Version %d was not deleted first before being "
                                  "permanently deleted",
                                  a->subject, (int)v->version);
                goto unlock;
        }
        version = v->version;
        s = sl_reg_store_schema(st, v->id);
        if (!(key = sl_reg_memdup(v->key, v->key_len)) ||
            (!a->permanent &&
             !(value = sl_reg_value_schema(a->subject, version, v->id, s ? s->text : "", 1)))) {
                free(key);
                sl_reg_resp_error(resp, 500, 50001, "out of memory");
                goto unlock;
        }
        sl_reg_record_set(&rec, key, value);
        rec.key_len = v->key_len;
        pthread_rwlock_unlock(&st->lock);
        sl_reg_commit(srv, &rec, 1, json_integer(version), resp);
        return;

unlock:
        pthread_rwlock_unlock(&st->lock);
}

/* PUT/DELETE /config[/{s}] */
typedef struct {
        const char *subject; /* NULL: global */
        int del;
        sl_compat_level_t level;
} sl_reg_config_arg_t;

static void sl_reg_do_config(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp)
{
        sl_reg_config_arg_t *a = arg;
        sl_reg_store_t *st = &srv->store;
        sl_reg_record_t rec = {0};
        sl_compat_level_t old;
        json_t *answer;

        if (!a->del) {
                sl_reg_record_set(&rec, sl_reg_key_config(a->subject),
                                  sl_reg_value_config(a->level));
                if (!rec.value)
                        sl_reg_records_free(&rec, 1);
                sl_reg_commit(srv, &rec, 1,
                              json_pack("{s:s}", "compatibility", sl_compat_level_name(a->level)),
                              resp);
                return;
        }
        pthread_rwlock_rdlock(&st->lock);
        if (a->subject) {
                sl_reg_subject_t *subj = sl_reg_store_subject(st, a->subject);

                if (!subj || !subj->has_compat) {
                        pthread_rwlock_unlock(&st->lock);
                        SL_ERR_SUBJECT_NOT_FOUND(resp, a->subject);
                        return;
                }
                old = subj->compat;
        } else {
                old = sl_reg_store_compat(st, NULL);
        }
        pthread_rwlock_unlock(&st->lock);
        answer = json_pack("{s:s}", "compatibilityLevel", sl_compat_level_name(old));
        sl_reg_record_set(&rec, sl_reg_key_config(a->subject), NULL);
        sl_reg_commit(srv, &rec, 1, answer, resp);
}

/* PUT /mode[/{s}], DELETE /mode/{s} */
typedef struct {
        const char *subject; /* NULL: global */
        int del, force;
        sl_reg_mode_t mode;
} sl_reg_mode_arg_t;

static void sl_reg_do_mode(sl_reg_srv_t *srv, void *arg, sl_reg_resp_t *resp)
{
        sl_reg_mode_arg_t *a = arg;
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_record_t rec = {0};
        sl_reg_mode_t old = SL_MODE_READWRITE;
        int has_schemas = 0;

        pthread_rwlock_rdlock(&st->lock);
        subj = a->subject ? sl_reg_store_subject(st, a->subject) : NULL;
        if (a->del) {
                if (!subj || !subj->has_mode) {
                        pthread_rwlock_unlock(&st->lock);
                        SL_ERR_SUBJECT_NOT_FOUND(resp, a->subject);
                        return;
                }
                old = subj->mode;
        } else if (a->mode == SL_MODE_IMPORT && !a->force) {
                if (a->subject) {
                        has_schemas = subj && subj->cnt;
                } else {
                        size_t b;

                        for (sl_reg_map_entry_t *e = sl_reg_map_next(&st->subjects, NULL, &b); e;
                             e = sl_reg_map_next(&st->subjects, e, &b))
                                has_schemas |= ((sl_reg_subject_t *)e->value)->cnt > 0;
                }
        }
        pthread_rwlock_unlock(&st->lock);
        if (has_schemas) {
                sl_reg_resp_error(resp, 422, 42205,
                                  "Cannot import since found existing subjects (set force=true "
                                  "to switch to IMPORT anyway)");
                return;
        }
        sl_reg_record_set(&rec, sl_reg_key_mode(a->subject),
                          a->del ? NULL : sl_reg_value_mode(a->mode));
        if (!a->del && !rec.value)
                sl_reg_records_free(&rec, 1);
        sl_reg_commit(srv, &rec, 1,
                      json_pack("{s:s}", "mode", sl_reg_mode_name(a->del ? old : a->mode)), resp);
}

/* ------------------------------------------------------------------------------------------ */
/* Reads                                                                                      */

static json_t *sl_reg_version_json(const char *subject, const sl_reg_version_t *v,
                                   const sl_reg_schema_t *s)
{
        return json_pack("{s:s, s:i, s:i, s:s}", "subject", subject, "version", (int)v->version,
                         "id", (int)v->id, "schema", s ? s->text : "");
}

static int sl_reg_cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GET /subjects */
static void sl_reg_get_subjects(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp)
{
        int deleted = sl_reg_query_bool(req, "deleted");
        int deleted_only = sl_reg_query_bool(req, "deletedOnly");
        const char *prefix = sl_reg_query(req, "subjectPrefix");
        sl_reg_store_t *st = &srv->store;
        const char **names;
        json_t *arr = json_array();
        size_t n = 0, b;

        if (prefix && !strcmp(prefix, ":*:")) /* Confluent's "any" */
                prefix = NULL;
        pthread_rwlock_rdlock(&st->lock);
        names = calloc(st->subjects.cnt + 1, sizeof(*names));
        for (sl_reg_map_entry_t *e = sl_reg_map_next(&st->subjects, NULL, &b); names && e;
             e = sl_reg_map_next(&st->subjects, e, &b)) {
                sl_reg_subject_t *subj = e->value;
                size_t live = sl_reg_subject_live(subj);
                int show = deleted_only ? subj->cnt > live : deleted ? subj->cnt > 0 : live > 0;

                if (show && (!prefix || !strncmp(subj->name, prefix, strlen(prefix))))
                        names[n++] = subj->name;
        }
        if (names) {
                qsort(names, n, sizeof(*names), sl_reg_cmp_str);
                for (size_t i = 0; arr && i < n; i++)
                        json_array_append_new(arr, json_string(names[i]));
        }
        pthread_rwlock_unlock(&st->lock);
        if (!names) {
                json_decref(arr);
                arr = NULL;
        }
        free(names);
        sl_reg_resp_json(resp, 200, arr);
}

/* Whether @p subj has versions to show (live ones, or any with ?deleted=true). */
static int sl_reg_subject_visible(const sl_reg_subject_t *subj, int deleted)
{
        return subj && (deleted ? subj->cnt > 0 : sl_reg_subject_live(subj) > 0);
}

/* GET /subjects/{s}/versions */
static void sl_reg_get_versions(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                                const char *subject)
{
        int deleted = sl_reg_query_bool(req, "deleted");
        int deleted_only = sl_reg_query_bool(req, "deletedOnly");
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        json_t *arr;

        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, subject);
        if (!sl_reg_subject_visible(subj, deleted || deleted_only)) {
                pthread_rwlock_unlock(&st->lock);
                SL_ERR_SUBJECT_NOT_FOUND(resp, subject);
                return;
        }
        arr = json_array();
        for (size_t i = 0; arr && i < subj->cnt; i++) {
                int d = subj->v[i].deleted;

                if (deleted_only ? d : (deleted || !d))
                        json_array_append_new(arr, json_integer(subj->v[i].version));
        }
        pthread_rwlock_unlock(&st->lock);
        sl_reg_resp_json(resp, 200, arr);
}

/* GET /subjects/{s}/versions/{v}[/schema|/referencedby] */
static void sl_reg_get_version(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                               const char *subject, const char *vtext, const char *what)
{
        int deleted = sl_reg_query_bool(req, "deleted");
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_version_t *v;
        int32_t vn = 0;
        int kind = sl_reg_parse_version(vtext, &vn);

        if (kind < 0) {
                sl_reg_invalid_version(resp, vtext);
                return;
        }
        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, subject);
        if (!sl_reg_subject_visible(subj, deleted)) {
                SL_ERR_SUBJECT_NOT_FOUND(resp, subject);
        } else if (!(v = kind ? sl_reg_subject_version(subj, vn)
                              : sl_reg_subject_latest(subj, deleted)) ||
                   (v->deleted && !deleted)) {
                SL_ERR_VERSION_NOT_FOUND(resp, vtext);
        } else {
                sl_reg_schema_t *s = sl_reg_store_schema(st, v->id);

                if (what && !strcmp(what, "schema"))
                        sl_reg_resp_text(resp, s ? s->text : "");
                else if (what) /* referencedby: references are not supported, so none */
                        sl_reg_resp_json(resp, 200, json_array());
                else
                        sl_reg_resp_json(resp, 200, sl_reg_version_json(subject, v, s));
        }
        pthread_rwlock_unlock(&st->lock);
}

/* POST /subjects/{s}: is this schema registered under the subject? */
static void sl_reg_lookup(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                          const char *subject)
{
        int deleted = sl_reg_query_bool(req, "deleted");
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        sl_reg_cand_t c;

        if (sl_reg_cand_parse(req, resp, sl_reg_query_bool(req, "normalize"), &c))
                return;
        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, subject);
        if (!sl_reg_subject_visible(subj, deleted)) {
                SL_ERR_SUBJECT_NOT_FOUND(resp, subject);
        } else {
                sl_reg_version_t *found = NULL;

                /* The latest matching version; live ones first. */
                for (int pass = 0; pass < 2 && !found; pass++)
                        for (size_t i = subj->cnt; i > 0 && !found; i--) {
                                sl_reg_version_t *v = &subj->v[i - 1];

                                if ((pass == 0 ? !v->deleted : deleted && v->deleted) &&
                                    sl_reg_cand_matches(&c, sl_reg_store_schema(st, v->id)))
                                        found = v;
                        }
                if (found)
                        sl_reg_resp_json(resp, 200,
                                         sl_reg_version_json(subject, found,
                                                             sl_reg_store_schema(st, found->id)));
                else
                        sl_reg_resp_error(resp, 404, 40403, "Schema not found");
        }
        pthread_rwlock_unlock(&st->lock);
        sl_reg_cand_free(&c);
}

/* POST /compatibility/subjects/{s}/versions[/{v}] */
static void sl_reg_compat(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                          const char *subject, const char *vtext)
{
        int verbose = sl_reg_query_bool(req, "verbose");
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        const sl_schema_t **against = NULL;
        json_t *msgs = NULL, *answer;
        size_t n = 0;
        int32_t vn = 0;
        int kind = vtext ? sl_reg_parse_version(vtext, &vn) : 0, ok = 1;
        sl_reg_cand_t c;

        if (kind < 0) {
                sl_reg_invalid_version(resp, vtext);
                return;
        }
        if (sl_reg_cand_parse(req, resp, 0, &c))
                return;
        pthread_rwlock_rdlock(&st->lock);
        subj = sl_reg_store_subject(st, subject);
        if (kind) {
                sl_reg_version_t *v;
                sl_reg_schema_t *s;

                if (!sl_reg_subject_visible(subj, 0)) {
                        SL_ERR_SUBJECT_NOT_FOUND(resp, subject);
                        goto unlock;
                }
                if (!(v = sl_reg_subject_version(subj, vn)) || v->deleted) {
                        SL_ERR_VERSION_NOT_FOUND(resp, vtext);
                        goto unlock;
                }
                s = sl_reg_store_schema(st, v->id);
                if (!(against = calloc(1, sizeof(*against))))
                        goto nomem;
                if (s && s->parsed)
                        against[n++] = s->parsed;
        } else if (subj && subj->cnt) {
                /* "latest" or all: every live version, the level picks which to check. */
                if (!(against = calloc(subj->cnt, sizeof(*against))))
                        goto nomem;
                for (size_t i = 0; i < subj->cnt; i++) {
                        sl_reg_schema_t *s = sl_reg_store_schema(st, subj->v[i].id);

                        if (!subj->v[i].deleted && s && s->parsed)
                                against[n++] = s->parsed;
                }
        }
        if (!(msgs = json_array()))
                goto nomem;
        if (n)
                ok = sl_compat_check(sl_reg_store_compat(st, subj), c.parsed, against, n, msgs);
        pthread_rwlock_unlock(&st->lock);
        answer = json_pack("{s:b}", "is_compatible", ok);
        if (answer && verbose)
                json_object_set(answer, "messages", msgs);
        json_decref(msgs);
        free(against);
        sl_reg_cand_free(&c);
        sl_reg_resp_json(resp, 200, answer);
        return;

nomem:
        sl_reg_resp_error(resp, 500, 50001, "out of memory");
unlock:
        pthread_rwlock_unlock(&st->lock);
        json_decref(msgs);
        free(against);
        sl_reg_cand_free(&c);
}

typedef struct {
        const char *subject;
        int32_t version;
} sl_reg_sv_t;

static int sl_reg_cmp_sv(const void *a, const void *b)
{
        const sl_reg_sv_t *x = a, *y = b;
        int c = strcmp(x->subject, y->subject);

        return c ? c : (x->version > y->version) - (x->version < y->version);
}

/* GET /schemas/ids/{id}[/versions|/subjects|/schema] */
static void sl_reg_get_id(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                          const char *idtext, const char *what)
{
        int deleted = sl_reg_query_bool(req, "deleted");
        sl_reg_store_t *st = &srv->store;
        sl_reg_schema_t *s;
        int32_t id;

        if (sl_reg_parse_pos_int(idtext, &id)) {
                sl_reg_resp_error(resp, 404, 40403, "Schema %s not found", idtext);
                return;
        }
        pthread_rwlock_rdlock(&st->lock);
        if (!(s = sl_reg_store_schema(st, id))) {
                sl_reg_resp_error(resp, 404, 40403, "Schema %d not found", (int)id);
        } else if (!what) {
                /* ?subject= is accepted and ignored: an id names one schema whatever the subject.
                 */
                sl_reg_resp_json(resp, 200, json_pack("{s:s}", "schema", s->text));
        } else if (!strcmp(what, "schema")) {
                sl_reg_resp_text(resp, s->text);
        } else {
                sl_reg_sv_t *sv = calloc(s->refs + 1, sizeof(*sv));
                json_t *arr = json_array();
                size_t n = 0, b;

                for (sl_reg_map_entry_t *e = sl_reg_map_next(&st->subjects, NULL, &b);
                     sv && arr && e; e = sl_reg_map_next(&st->subjects, e, &b)) {
                        sl_reg_subject_t *subj = e->value;

                        for (size_t i = 0; i < subj->cnt && n < s->refs + 1; i++)
                                if (subj->v[i].id == id && (deleted || !subj->v[i].deleted))
                                        sv[n++] = (sl_reg_sv_t){subj->name, subj->v[i].version};
                }
                if (sv && arr) {
                        qsort(sv, n, sizeof(*sv), sl_reg_cmp_sv);
                        for (size_t i = 0; i < n; i++) {
                                if (!strcmp(what, "versions"))
                                        json_array_append_new(
                                            arr, json_pack("{s:s, s:i}", "subject", sv[i].subject,
                                                           "version", (int)sv[i].version));
                                else if (!i || strcmp(sv[i].subject, sv[i - 1].subject))
                                        json_array_append_new(arr, json_string(sv[i].subject));
                        }
                } else {
                        json_decref(arr);
                        arr = NULL;
                }
                free(sv);
                sl_reg_resp_json(resp, 200, arr);
        }
        pthread_rwlock_unlock(&st->lock);
}

/* GET /config[/{s}] */
static void sl_reg_get_config(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                              const char *subject)
{
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        int found = 1;
        sl_compat_level_t level;

        pthread_rwlock_rdlock(&st->lock);
        subj = subject ? sl_reg_store_subject(st, subject) : NULL;
        if (subject && !(subj && subj->has_compat) && !sl_reg_query_bool(req, "defaultToGlobal"))
                found = 0;
        level = sl_reg_store_compat(st, subj);
        pthread_rwlock_unlock(&st->lock);
        if (!found)
                sl_reg_resp_error(resp, 404, 40408,
                                  "Subject '%s' does not have subject-level compatibility "
                                  "configured",
                                  subject);
        else
                sl_reg_resp_json(
                    resp, 200,
                    json_pack("{s:s}", "compatibilityLevel", sl_compat_level_name(level)));
}

/* GET /mode[/{s}] */
static void sl_reg_get_mode(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                            const char *subject)
{
        sl_reg_store_t *st = &srv->store;
        sl_reg_subject_t *subj;
        int found = 1;
        sl_reg_mode_t mode;

        pthread_rwlock_rdlock(&st->lock);
        subj = subject ? sl_reg_store_subject(st, subject) : NULL;
        if (subject && !(subj && subj->has_mode) && !sl_reg_query_bool(req, "defaultToGlobal"))
                found = 0;
        mode = sl_reg_store_mode(st, subj);
        pthread_rwlock_unlock(&st->lock);
        if (!found)
                sl_reg_resp_error(resp, 404, 40409,
                                  "Subject '%s' does not have subject-level mode configured",
                                  subject);
        else
                sl_reg_resp_json(resp, 200, json_pack("{s:s}", "mode", sl_reg_mode_name(mode)));
}

/* ------------------------------------------------------------------------------------------ */
/* Routing                                                                                    */

static int sl_reg_is(const char *a, const char *b)
{
        return !strcmp(a, b);
}

/* A subject in a path: @returns 0, or -1 with resp filled (42208 for writes, 40401 for reads). */
static int sl_reg_check_subject(const char *subject, int write, sl_reg_resp_t *resp)
{
        if (sl_reg_subject_ok(subject))
                return 0;
        if (write)
                sl_reg_resp_error(resp, 422, 42208,
                                  "Invalid subject: empty, not UTF-8, or with control characters");
        else
                sl_reg_resp_error(resp, 404, 40401, "Subject not found.");
        return -1;
}

static void sl_reg_route_subjects(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                                  int get, int post, int del)
{
        char **s = req->seg;
        size_t n = req->seg_cnt;
        const char *subject;

        if (n == 1) {
                if (get)
                        sl_reg_get_subjects(srv, req, resp);
                else
                        sl_reg_bad_method(resp);
                return;
        }
        subject = s[1];
        if (n > 2 && !sl_reg_is(s[2], "versions")) {
                sl_reg_not_found(resp);
                return;
        }
        if (n > 5 || (n == 5 && !sl_reg_is(s[4], "schema") && !sl_reg_is(s[4], "referencedby"))) {
                sl_reg_not_found(resp);
                return;
        }
        if (sl_reg_check_subject(subject, !get, resp))
                return;

        if (n == 2) { /* /subjects/{s} */
                if (post) {
                        sl_reg_lookup(srv, req, resp, subject);
                } else if (del) {
                        sl_reg_delete_arg_t a = {.subject = subject,
                                                 .permanent = sl_reg_query_bool(req, "permanent")};

                        sl_reg_write(srv, req, resp, sl_reg_do_delete_subject, &a);
                } else
                        sl_reg_bad_method(resp);
                return;
        }
        if (n == 3) { /* /subjects/{s}/versions */
                if (get) {
                        sl_reg_get_versions(srv, req, resp, subject);
                } else if (post) {
                        sl_reg_cand_t c;
                        sl_reg_register_arg_t a = {.subject = subject, .cand = &c};

                        if (sl_reg_cand_parse(req, resp, sl_reg_query_bool(req, "normalize"), &c))
                                return;
                        sl_reg_write(srv, req, resp, sl_reg_do_register, &a);
                        sl_reg_cand_free(&c);
                } else
                        sl_reg_bad_method(resp);
                return;
        }
        if (n == 4 && del) { /* DELETE /subjects/{s}/versions/{v} */
                sl_reg_delete_arg_t a = {.subject = subject,
                                         .permanent = sl_reg_query_bool(req, "permanent"),
                                         .version_text = s[3]};
                int kind = sl_reg_parse_version(s[3], &a.version);

                if (kind < 0) {
                        sl_reg_invalid_version(resp, s[3]);
                        return;
                }
                a.latest = kind == 0;
                sl_reg_write(srv, req, resp, sl_reg_do_delete_version, &a);
                return;
        }
        if (get)
                sl_reg_get_version(srv, req, resp, subject, s[3], n == 5 ? s[4] : NULL);
        else
                sl_reg_bad_method(resp);
}

static void sl_reg_route_config(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                                int get, int put, int del)
{
        const char *subject = req->seg_cnt == 2 ? req->seg[1] : NULL;
        sl_reg_config_arg_t a = {.subject = subject, .del = del};

        if (req->seg_cnt > 2) {
                sl_reg_not_found(resp);
                return;
        }
        if (subject && sl_reg_check_subject(subject, !get, resp))
                return;
        if (get) {
                sl_reg_get_config(srv, req, resp, subject);
                return;
        }
        if (put) {
                json_t *body = sl_reg_body_object(req, resp, 42203, "with a \"compatibility\"");
                const char *name;

                if (!body)
                        return;
                name = json_string_value(json_object_get(body, "compatibility"));
                if (!name) /* also accept the name GET answers with */
                        name = json_string_value(json_object_get(body, "compatibilityLevel"));
                if (!name || sl_compat_level_parse(name, &a.level)) {
                        json_decref(body);
                        sl_reg_resp_error(resp, 422, 42203, "Invalid compatibility level");
                        return;
                }
                json_decref(body);
        } else if (!del) {
                sl_reg_bad_method(resp);
                return;
        }
        sl_reg_write(srv, req, resp, sl_reg_do_config, &a);
}

static void sl_reg_route_mode(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp,
                              int get, int put, int del)
{
        const char *subject = req->seg_cnt == 2 ? req->seg[1] : NULL;
        sl_reg_mode_arg_t a = {.subject = subject, .del = del};

        if (req->seg_cnt > 2) {
                sl_reg_not_found(resp);
                return;
        }
        if (subject && sl_reg_check_subject(subject, !get, resp))
                return;
        if (get) {
                sl_reg_get_mode(srv, req, resp, subject);
                return;
        }
        if (put) {
                json_t *body = sl_reg_body_object(req, resp, 42204, "with a \"mode\"");
                const char *name;

                if (!body)
                        return;
                name = json_string_value(json_object_get(body, "mode"));
                if (!name || sl_reg_mode_parse(name, &a.mode)) {
                        json_decref(body);
                        sl_reg_resp_error(resp, 422, 42204, "Invalid mode");
                        return;
                }
                json_decref(body);
                a.force = sl_reg_query_bool(req, "force");
        } else if (!del || !subject) {
                sl_reg_bad_method(resp);
                return;
        }
        sl_reg_write(srv, req, resp, sl_reg_do_mode, &a);
}

void sl_reg_api_handle(sl_reg_srv_t *srv, const sl_reg_req_t *req, sl_reg_resp_t *resp)
{
        const char *m = req->method;
        char **s = req->seg;
        size_t n = req->seg_cnt;
        int get = sl_reg_is(m, "GET") || sl_reg_is(m, "HEAD");
        int post = sl_reg_is(m, "POST"), put = sl_reg_is(m, "PUT"), del = sl_reg_is(m, "DELETE");

        if (n == 0) {
                if (get)
                        sl_reg_resp_json(resp, 200, json_object());
                else
                        sl_reg_bad_method(resp);
                return;
        }
        if (sl_reg_is(s[0], "subjects")) {
                sl_reg_route_subjects(srv, req, resp, get, post, del);
        } else if (sl_reg_is(s[0], "schemas")) {
                if (n == 2 && sl_reg_is(s[1], "types")) {
                        if (get)
                                sl_reg_resp_json(resp, 200, json_pack("[s]", "AVRO"));
                        else
                                sl_reg_bad_method(resp);
                } else if ((n == 3 || n == 4) && sl_reg_is(s[1], "ids") &&
                           (n == 3 || sl_reg_is(s[3], "versions") || sl_reg_is(s[3], "subjects") ||
                            sl_reg_is(s[3], "schema"))) {
                        if (get)
                                sl_reg_get_id(srv, req, resp, s[2], n == 4 ? s[3] : NULL);
                        else
                                sl_reg_bad_method(resp);
                } else {
                        sl_reg_not_found(resp);
                }
        } else if (sl_reg_is(s[0], "compatibility")) {
                if ((n == 4 || n == 5) && sl_reg_is(s[1], "subjects") &&
                    sl_reg_is(s[3], "versions")) {
                        if (!post)
                                sl_reg_bad_method(resp);
                        else if (!sl_reg_check_subject(s[2], 0, resp))
                                sl_reg_compat(srv, req, resp, s[2], n == 5 ? s[4] : NULL);
                } else {
                        sl_reg_not_found(resp);
                }
        } else if (sl_reg_is(s[0], "config")) {
                sl_reg_route_config(srv, req, resp, get, put, del);
        } else if (sl_reg_is(s[0], "mode")) {
                sl_reg_route_mode(srv, req, resp, get, put, del);
        } else if (sl_reg_is(s[0], "associations")) {
                /* confluent-kafka-python >= 2.14 asks first; none makes it use the subject name
                 * strategy. */
                if (get)
                        sl_reg_resp_json(resp, 200, json_array());
                else
                        sl_reg_bad_method(resp);
        } else {
                sl_reg_not_found(resp);
        }
}
