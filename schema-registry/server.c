/* The registry server's life cycle: configuration, start, stop (sl_registry_server.h). */
#include "registry_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

int64_t sl_reg_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 0))) static void sl_reg_vlog(sl_reg_srv_t *srv, int level,
                                                              const char *fmt, va_list ap)
{
        static const char *const prefix[] = {"error: ", "warning: ", "", ""};
        char line[2048];
        char when[32];
        struct timespec ts;
        struct tm tm;
        int n;

        if (level > srv->log_level)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(line, sizeof(line), "%s.%03ldZ seerlog registry: %s", when,
                     ts.tv_nsec / 1000000, prefix[level & 3]);
        if (n > 0 && (size_t)n < sizeof(line))
                vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        /* One write per line, so that lines of different threads do not mix. */
        fprintf(stderr, "%s\n", line);
}

void sl_reg_log(sl_reg_srv_t *srv, int level, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        sl_reg_vlog(srv, level, fmt, ap);
        va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void sl_reg_store_log(void *opaque, int level,
                                                                   const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        sl_reg_vlog(opaque, level, fmt, ap);
        va_end(ap);
}

/* The first HOST:PORT of registry.listen. */
static sl_err_t sl_reg_parse_listen(sl_reg_srv_t *srv, const char *v, char *errstr,
                                    size_t errstr_size)
{
        size_t len = strcspn(v, ",");
        const char *colon;

        while (len && v[len - 1] == ' ')
                len--;
        while (*v == ' ') {
                v++;
                len--;
        }
        colon = v + len;
        while (colon > v && *colon != ':')
                colon--;
        if (*colon != ':')
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "registry.listen=%s: expected HOST:PORT", v);
        srv->listen_port = atoi(colon + 1);
        if (v[0] == '[' && colon > v && colon[-1] == ']')
                srv->listen_host = strndup(v + 1, (size_t)(colon - v - 2));
        else
                srv->listen_host = strndup(v, (size_t)(colon - v));
        if (!srv->listen_host)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}

static sl_err_t sl_reg_configure(sl_reg_srv_t *srv, const sl_conf_t *conf, char *errstr,
                                 size_t errstr_size)
{
        const char *cert = sl_conf_get(conf, "registry.tls.cert");
        const char *adv = sl_conf_get(conf, "registry.advertised.url");
        const char *ca = sl_conf_get(conf, "registry.ssl.ca.location");
        sl_err_t err;

        srv->log_level = sl_conf_get_enum(conf, "log.level");
        if (!(srv->topic = strdup(sl_conf_get(conf, "registry.topic"))) ||
            !(srv->group_id = strdup(sl_conf_get(conf, "registry.group.id"))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (!*srv->topic)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "registry.topic is empty");
        if (!*srv->group_id)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "registry.group.id is empty");
        srv->replication_factor = (int)sl_conf_get_int(conf, "registry.topic.replication.factor");
        if (!srv->replication_factor)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "registry.topic.replication.factor=0: expected -1 or 1..32");
        srv->write_timeout_ms = (int)sl_conf_get_int(conf, "registry.write.timeout.ms");
        srv->max_body = (size_t)sl_conf_get_int(conf, "registry.max.body.bytes");
        srv->max_connections = (unsigned)sl_conf_get_int(conf, "registry.max.connections");
        if ((err = sl_reg_parse_listen(srv, sl_conf_get(conf, "registry.listen"), errstr,
                                       errstr_size)))
                return err;
        if ((err = sl_http_sec_new(conf, "registry", srv->listen_host, &srv->sec, errstr,
                                   errstr_size)))
                return err;
        if (sl_http_sec_warning(srv->sec))
                sl_reg_log(srv, SL_LOG_WARN, "%s", sl_http_sec_warning(srv->sec));
        /* Forwarding over https trusts registry.ssl.ca.location, else our own certificate (the
         * usual case: instances share one), else the system's CAs. */
        if ((ca && *ca && !(srv->ca_location = strdup(ca))) ||
            (!(ca && *ca) && cert && *cert && !(srv->ca_location = strdup(cert))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (adv && *adv) {
                srv->advertised_url = strdup(adv);
        } else {
                char host[256];
                const char *h = srv->listen_host;

                /* A wildcard address is no address to forward to: use the host name. */
                if (!*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::")) {
                        if (gethostname(host, sizeof(host)))
                                snprintf(host, sizeof(host), "localhost");
                        host[sizeof(host) - 1] = '\0';
                        h = host;
                }
                if (asprintf(&srv->advertised_url, "%s://%s%s%s:%d",
                             sl_http_sec_tls(srv->sec) ? "https" : "http",
                             strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "",
                             srv->listen_port) < 0)
                        srv->advertised_url = NULL;
        }
        if (!srv->advertised_url)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}

static int sl_reg_cond_init_mono(pthread_cond_t *cond)
{
        pthread_condattr_t attr;
        int r;

        if (pthread_condattr_init(&attr))
                return -1;
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        r = pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
        return r ? -1 : 0;
}

sl_err_t sl_registry_server_start(const sl_conf_t *conf, sl_registry_server_t **srvp, char *errstr,
                                  size_t errstr_size)
{
        sl_reg_srv_t *srv = calloc(1, sizeof(*srv));
        sl_err_t err;

        *srvp = NULL;
        if (!srv)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        srv->last_written_offset = -1;
        if (pthread_mutex_init(&srv->progress_lock, NULL) ||
            sl_reg_cond_init_mono(&srv->progress_cond) ||
            pthread_mutex_init(&srv->elect_lock, NULL) || sl_reg_cond_init_mono(&srv->elect_cond) ||
            pthread_mutex_init(&srv->write_lock, NULL) ||
            sl_reg_store_init(&srv->store, sl_reg_store_log, srv)) {
                free(srv);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "initialising locks failed");
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "curl_global_init failed");
                goto fail;
        }
        srv->curl_inited = 1;
        if ((err = sl_reg_configure(srv, conf, errstr, errstr_size)) ||
            (err = sl_reg_topic_ensure(srv, conf, errstr, errstr_size)) ||
            (err = sl_reg_reader_start(srv, conf, errstr, errstr_size)) ||
            (err = sl_reg_http_start(srv, errstr, errstr_size)) ||
            (err = sl_reg_election_start(srv, conf, errstr, errstr_size)))
                goto fail;
        sl_reg_log(srv, SL_LOG_INFO,
                   "listening on %s:%d (%s%s), advertised as %s; topic %s, group %s, "
                   "transactional.id %s-leader",
                   srv->listen_host, srv->listen_port, sl_http_sec_tls(srv->sec) ? "https" : "http",
                   sl_http_sec_auth(srv->sec) ? ", authentication" : "", srv->advertised_url,
                   srv->topic, srv->group_id, srv->group_id);
        *srvp = srv;
        return SL_OK;

fail:
        sl_registry_server_stop(srv);
        return err;
}

int sl_registry_server_ready(sl_registry_server_t *srv)
{
        return sl_reg_is_ready(srv);
}

const char *sl_registry_server_url(const sl_registry_server_t *srv)
{
        return srv->advertised_url;
}

void sl_registry_server_stop(sl_registry_server_t *srv)
{
        if (!srv)
                return;
        __atomic_store_n(&srv->stopping, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&srv->progress_lock);
        pthread_cond_broadcast(&srv->progress_cond);
        pthread_mutex_unlock(&srv->progress_lock);
        sl_reg_elect_nudge(srv);

        /* HTTP first (no new writes), then the group (another instance takes over), then the
         * reader. */
        sl_reg_http_stop(srv);
        sl_reg_election_stop(srv);
        sl_reg_reader_stop(srv);
        if (srv->topic)
                sl_reg_log(srv, SL_LOG_INFO, "stopped");

        sl_reg_store_destroy(&srv->store);
        pthread_mutex_destroy(&srv->write_lock);
        pthread_cond_destroy(&srv->elect_cond);
        pthread_mutex_destroy(&srv->elect_lock);
        pthread_cond_destroy(&srv->progress_cond);
        pthread_mutex_destroy(&srv->progress_lock);
        sl_http_sec_destroy(srv->sec);
        free(srv->ca_location);
        free(srv->topic);
        free(srv->group_id);
        free(srv->advertised_url);
        free(srv->listen_host);
        if (srv->curl_inited)
                curl_global_cleanup();
        free(srv);
}
