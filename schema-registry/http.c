/*
 * HTTP(S) for the registry with libmicrohttpd: one thread per connection (a write may wait
 * for Kafka without holding up anyone else's read), authentication and roles, a body limit
 * enforced before the body is read, and the raw request path split and percent-decoded one
 * segment at a time, so that %2F in a subject name is part of the name.
 */
#include "registry_int.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sl_http.h"

/* Per-connection request state, from the first call of the access handler to completion. */
typedef struct {
        char *body;
        size_t len, cap;
        int too_large; /* more body than registry.max.body.bytes: discarded as it arrives */
} sl_reg_conn_t;

const char *sl_reg_query(const sl_reg_req_t *req, const char *name)
{
        return sl_http_arg(req->args, name); /* the last one given wins */
}

int sl_reg_query_bool(const sl_reg_req_t *req, const char *name)
{
        const char *v = sl_reg_query(req, name);

        /* Java's Boolean.parseBoolean, as Confluent's: "true" in any case, anything else false. */
        return v && !strcasecmp(v, "true");
}

/* Appends @p s, percent-encoded (all but unreserved characters) when @p encode. */
static int sl_reg_append(char **bufp, size_t *lenp, size_t *capp, const char *s, int encode)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (*lenp + 4 > *capp) {
                        size_t cap = *capp ? *capp * 2 : 256;
                        char *b = realloc(*bufp, cap);

                        if (!b)
                                return -1;
                        *bufp = b;
                        *capp = cap;
                }
                if (!encode || isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
                        (*bufp)[(*lenp)++] = (char)c;
                } else {
                        (*bufp)[(*lenp)++] = '%';
                        (*bufp)[(*lenp)++] = hex[c >> 4];
                        (*bufp)[(*lenp)++] = hex[c & 15];
                }
        }
        return 0;
}

char *sl_reg_req_target(const sl_reg_req_t *req)
{
        const sl_http_args_t *a = req->args;
        size_t len = 0, cap = 0;
        char *buf = NULL;

        if (sl_reg_append(&buf, &len, &cap, req->path, 0))
                goto fail;
        for (size_t i = 0; a && i < a->cnt; i++)
                if (sl_reg_append(&buf, &len, &cap, i ? "&" : "?", 0) ||
                    sl_reg_append(&buf, &len, &cap, a->keys[i], 1) ||
                    sl_reg_append(&buf, &len, &cap, "=", 0) ||
                    sl_reg_append(&buf, &len, &cap, a->values[i], 1))
                        goto fail;
        if (sl_reg_append(&buf, &len, &cap, " ", 0)) /* room for the NUL */
                goto fail;
        buf[len - 1] = '\0';
        return buf;

fail:
        free(buf);
        return NULL;
}

static enum MHD_Result sl_reg_queue(sl_reg_srv_t *srv, struct MHD_Connection *c,
                                    sl_reg_resp_t *resp, int close)
{
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (!resp->body)
                sl_reg_resp_error(resp, 500, 50001, "out of memory");
        if (!resp->body)
                return MHD_NO;
        r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(resp->body);
                free(resp->content_type);
                return MHD_NO;
        }
        resp->body = NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : SL_REG_CONTENT_TYPE);
        free(resp->content_type);
        resp->content_type = NULL;
        if (resp->status == 401)
                sl_http_sec_challenge(srv->sec, r);
        if (close)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(c, resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

/* Whether a request changes something, and so needs the admin role: what is not a GET or HEAD,
 * except the two POSTs that only read (a schema's lookup under a subject, a compatibility
 * check), as Confluent's read permission allows them. */
static int sl_reg_is_write(const char *url, const char *method)
{
        char **seg = NULL;
        size_t n = 0;
        int write = 1;

        if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
                return 0;
        if (!strcmp(method, "POST") && !sl_http_split_path(url, &seg, &n) && n >= 1 &&
            ((n == 2 && !strcmp(seg[0], "subjects")) || !strcmp(seg[0], "compatibility")))
                write = 0;
        sl_http_segs_free(seg, n);
        return write;
}

static enum MHD_Result sl_reg_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **con_cls)
{
        sl_reg_srv_t *srv = cls;
        sl_reg_conn_t *conn = *con_cls;
        sl_reg_resp_t resp = {0};
        sl_reg_req_t req = {0};
        sl_http_args_t args = {0};
        enum MHD_Result ret;
        int split;

        if (!conn) {
                sl_http_role_t role;
                const char *cl;

                if (!(conn = calloc(1, sizeof(*conn))))
                        return MHD_NO;
                *con_cls = conn;
                /* Refused before any of the body is read; the connection is then closed. */
                role = sl_http_sec_check(srv->sec, c);
                if (role == SL_HTTP_ROLE_NONE) {
                        sl_reg_resp_error(&resp, 401, 401, "Unauthorized");
                        return sl_reg_queue(srv, c, &resp, 1);
                }
                if (role < SL_HTTP_ROLE_ADMIN && sl_reg_is_write(url, method)) {
                        sl_reg_resp_error(&resp, 403, 40301,
                                          "User is denied operation %s on %.200s: the read role "
                                          "only reads (registry.auth.file)",
                                          method, url);
                        return sl_reg_queue(srv, c, &resp, 1);
                }
                cl =
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > srv->max_body) {
                        sl_reg_resp_error(&resp, 413, 413,
                                          "Request body of %s bytes is larger than the limit of "
                                          "%zu bytes (registry.max.body.bytes)",
                                          cl, srv->max_body);
                        return sl_reg_queue(srv, c, &resp, 1);
                }
                return MHD_YES;
        }

        if (*upload_data_size) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (conn->too_large)
                        return MHD_YES;
                if (conn->len + n > srv->max_body) {
                        /* No Content-Length (chunked): discard the rest, answer 413 at the end. */
                        conn->too_large = 1;
                        free(conn->body);
                        conn->body = NULL;
                        conn->len = conn->cap = 0;
                        return MHD_YES;
                }
                if (conn->len + n + 1 > conn->cap) {
                        size_t cap = conn->cap ? conn->cap : 1024;
                        char *b;

                        while (cap < conn->len + n + 1)
                                cap *= 2;
                        if (cap > srv->max_body + 1)
                                cap = srv->max_body + 1;
                        if (!(b = realloc(conn->body, cap)))
                                return MHD_NO;
                        conn->body = b;
                        conn->cap = cap;
                }
                memcpy(conn->body + conn->len, upload_data, n);
                conn->len += n;
                conn->body[conn->len] = '\0';
                return MHD_YES;
        }

        if (conn->too_large) {
                sl_reg_resp_error(&resp, 413, 413,
                                  "Request body is larger than the limit of %zu bytes "
                                  "(registry.max.body.bytes)",
                                  srv->max_body);
                return sl_reg_queue(srv, c, &resp, 1);
        }

        split = sl_http_split_path(url, &req.seg, &req.seg_cnt);
        if (split == -2) {
                sl_reg_resp_error(&resp, 400, 400, "The path contains a NUL byte (%%00)");
                return sl_reg_queue(srv, c, &resp, 0);
        }
        if (split < 0)
                return MHD_NO;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, sl_http_args_collect, &args);
        if (args.nomem) {
                ret = MHD_NO;
                goto done;
        }
        req.method = method;
        req.path = url;
        req.args = &args;
        req.body = conn->body ? conn->body : "";
        req.body_len = conn->len;
        req.content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        req.authorization =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        req.forwarded =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, SL_REG_FORWARDED_HEADER) != NULL;

        if (!sl_reg_is_ready(srv))
                sl_reg_resp_error(&resp, 503, 50002,
                                  "The registry is still reading its topic; try again shortly");
        else
                sl_reg_api_handle(srv, &req, &resp);
        if (srv->log_level >= SL_LOG_DEBUG)
                sl_reg_log(srv, SL_LOG_DEBUG, "%s %s%s -> %u", method, url,
                           req.forwarded ? " (forwarded)" : "", resp.status);
        ret = sl_reg_queue(srv, c, &resp, 0);

done:
        sl_http_segs_free(req.seg, req.seg_cnt);
        sl_http_args_free(&args);
        return ret;
}

static void sl_reg_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
        sl_reg_conn_t *conn = *con_cls;

        if (conn) {
                free(conn->body);
                free(conn);
                *con_cls = NULL;
        }
}

__attribute__((format(printf, 2, 0))) static void sl_reg_mhd_log(void *cls, const char *fmt,
                                                                 va_list ap)
{
        sl_reg_srv_t *srv = cls;
        char buf[512];
        size_t len;

        vsnprintf(buf, sizeof(buf), fmt, ap);
        len = strlen(buf);
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                buf[--len] = '\0';
        /* libmicrohttpd reports client misbehaviour (resets, bad requests) here: not ours. */
        sl_reg_log(srv, SL_LOG_DEBUG, "http: %s", buf);
}

sl_err_t sl_reg_http_start(sl_reg_srv_t *srv, char *errstr, size_t errstr_size)
{
        struct addrinfo hints = {0}, *ai = NULL;
        char port[16];
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        struct MHD_OptionItem opts[16];
        int n = 0, gai;
        struct MHD_Daemon *d;

        snprintf(port, sizeof(port), "%d", srv->listen_port);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        if ((gai = getaddrinfo(srv->listen_host, port, &hints, &ai)))
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "registry.listen %s:%d: %s",
                                 srv->listen_host, srv->listen_port, gai_strerror(gai));
        if (ai->ai_family == AF_INET6)
                flags |= MHD_USE_IPv6;

        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                            (intptr_t)srv->max_connections, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                            (intptr_t)sl_reg_on_completed, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK,
                                            (intptr_t)sl_http_unescape_none, NULL};
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)sl_reg_mhd_log, srv};
        n += sl_http_sec_mhd_options(srv->sec, &flags, &opts[n]);
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

        d = MHD_start_daemon(flags, 0, NULL, NULL, sl_reg_on_request, srv, MHD_OPTION_ARRAY, opts,
                             MHD_OPTION_END);
        freeaddrinfo(ai);
        if (!d)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                 "cannot listen on %s:%d%s (address in use, or a bad TLS "
                                 "certificate/key)",
                                 srv->listen_host, srv->listen_port,
                                 sl_http_sec_tls(srv->sec) ? " (TLS)" : "");
        srv->mhd = d;
        return SL_OK;
}

void sl_reg_http_stop(sl_reg_srv_t *srv)
{
        if (srv->mhd) {
                MHD_stop_daemon(srv->mhd);
                srv->mhd = NULL;
        }
}
