/**
 * @file sl_http.h
 * @brief What seerlog's HTTP servers (the registry, the projector's API) share on top of
 *        libmicrohttpd: the raw request path split and percent-decoded one segment at a time
 *        (so that %2F is part of a name, not a separator), query arguments decoded, a
 *        constant-time secret comparison, and the security settings (TLS, users, tokens and
 *        their roles) both servers load from their <prefix>.* keys and check requests against.
 *
 * libmicrohttpd decodes %XX in the path before routing; a server that wants the segments must
 * install sl_http_unescape_none() as MHD_OPTION_UNESCAPE_CALLBACK, and then decode the path with
 * sl_http_split_path() and the arguments with sl_http_args_collect().
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

#include "sl_conf.h"
#include "sl_err.h"

/** MHD_OPTION_UNESCAPE_CALLBACK that keeps every byte (decoding is done here). */
size_t sl_http_unescape_none(void *cls, struct MHD_Connection *c, char *s);

/**
 * @brief Percent-decodes [s, s + len) into a new string; '+' is a space when @p plus (query
 *        strings). A '%' not followed by two hex digits is kept as is.
 * @returns a malloc()ed string, or NULL when out of memory or when the text decodes to a NUL
 *          byte (*nulp then set).
 */
char *sl_http_pct_decode(const char *s, size_t len, int plus, int *nulp);

/** Query arguments, decoded, in the order given. Zero-initialise; free with sl_http_args_free(). */
typedef struct {
        char **keys, **values;
        size_t cnt, cap;
        int nomem; /**< An argument could not be kept for want of memory. */
} sl_http_args_t;

/**
 * MHD_KeyValueIterator for MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ...) with an
 * sl_http_args_t as @p cls. An argument that decodes to a NUL byte is dropped.
 */
enum MHD_Result sl_http_args_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value);

void sl_http_args_free(sl_http_args_t *a);

/** @returns the value of argument @p name (the last one given wins), or NULL. */
const char *sl_http_arg(const sl_http_args_t *a, const char *name);

/**
 * @brief Splits the raw path @p url ("/a/b%2Fc/") into decoded segments ("a", "b/c"); one
 *        trailing slash is ignored.
 * @returns 0, -1 (out of memory) or -2 (a segment decodes to a NUL byte). Free the segments
 *          with sl_http_segs_free().
 */
int sl_http_split_path(const char *url, char ***segp, size_t *cntp);

void sl_http_segs_free(char **seg, size_t cnt);

/** Compares two secrets in time independent of where they differ. @returns 1 if equal. */
int sl_http_secret_eq(const char *a, const char *b);

/** What a request's credentials allow. Ordered: a role allows what the lower ones do. */
typedef enum {
        SL_HTTP_ROLE_NONE = 0, /**< No or wrong credentials. */
        SL_HTTP_ROLE_READ,     /**< Reads (GET, and the registry's lookups and checks). */
        SL_HTTP_ROLE_ADMIN,    /**< Everything, writes included. */
} sl_http_role_t;

/** A server's TLS certificate and key, and the users and tokens of its auth file. */
typedef struct sl_http_sec_s sl_http_sec_t;

/**
 * @brief Loads the security settings of the server whose keys start with @p prefix ("registry",
 *        "api"): <prefix>.tls.cert and <prefix>.tls.key (PEM files; both or neither), checked
 *        by loading them as the server will; <prefix>.auth.file (lines "USER:PASSWORD[:ROLE]"
 *        and "Bearer TOKEN[:ROLE]", ROLE admin or read, admin when absent; blank lines and #
 *        comments); <prefix>.allow.insecure.auth.
 *
 * A half-configured setup is refused: a certificate without its key or the other way round,
 * an unreadable or invalid PEM file, an auth file that is missing, malformed or lists nobody,
 * and an auth file without TLS while @p listen_host is not a loopback address (credentials
 * would cross the network in clear) unless <prefix>.allow.insecure.auth=true. The messages
 * name the keys and files, never a password or token.
 *
 * @param listen_host the host the server listens on ("127.0.0.1", "::1", "0.0.0.0", a name).
 * @returns SL_OK with *secp set (free with sl_http_sec_destroy()), or SL_ERR_CONFIG /
 *          SL_ERR_NOMEM with errstr set.
 */
sl_err_t sl_http_sec_new(const sl_conf_t *conf, const char *prefix, const char *listen_host,
                         sl_http_sec_t **secp, char *errstr, size_t errstr_size);

/** Frees @p sec, wiping the passwords, tokens and key (NULL is a no-op). */
void sl_http_sec_destroy(sl_http_sec_t *sec);

/** @returns 1 when the server serves HTTPS. */
int sl_http_sec_tls(const sl_http_sec_t *sec);

/** @returns 1 when requests need credentials (an auth file is set). */
int sl_http_sec_auth(const sl_http_sec_t *sec);

/**
 * @returns what the server's operator should hear about at start (an auth file or key readable
 *          by other users), or NULL. Owned by @p sec.
 */
const char *sl_http_sec_warning(const sl_http_sec_t *sec);

/**
 * @brief Adds MHD_USE_TLS to *@p flags and the certificate and key to @p opts (room for 2) when
 *        the server serves HTTPS. @returns the number of options added. The options point
 *        into @p sec: keep it until the daemon is stopped.
 */
int sl_http_sec_mhd_options(const sl_http_sec_t *sec, unsigned int *flags,
                            struct MHD_OptionItem *opts);

/**
 * @brief The role of the credentials of the request on @p c: HTTP basic authentication or
 *        "Authorization: Bearer TOKEN", compared in constant time.
 * @returns SL_HTTP_ROLE_ADMIN when the server needs no credentials, SL_HTTP_ROLE_NONE when they
 *          are missing or wrong.
 */
sl_http_role_t sl_http_sec_check(const sl_http_sec_t *sec, struct MHD_Connection *c);

/** @returns the role of user @p user with password @p pass (NONE if no line matches). */
sl_http_role_t sl_http_sec_basic(const sl_http_sec_t *sec, const char *user, const char *pass);

/** @returns the role of bearer token @p token (NONE if no line matches). */
sl_http_role_t sl_http_sec_bearer(const sl_http_sec_t *sec, const char *token);

/** Adds the WWW-Authenticate challenge(s) of a 401 answer to @p r. */
void sl_http_sec_challenge(const sl_http_sec_t *sec, struct MHD_Response *r);

#endif
