/*
 * A follower forwards every write to the leader (the URL the leader put in its NOOP record)
 * and relays the answer, as Confluent's followers do.
 */
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

typedef struct {
        sl_reg_fwd_resp_t *resp;
        size_t cap;
        size_t max;
} sl_reg_fwd_sink_t;

static size_t sl_reg_fwd_write(char *data, size_t size, size_t nmemb, void *opaque)
{
        sl_reg_fwd_sink_t *sink = opaque;
        sl_reg_fwd_resp_t *r = sink->resp;
        size_t n = size * nmemb;

        if (r->len + n > sink->max)
                return 0; /* an answer this large is not the registry's: fail the transfer */
        if (r->len + n + 1 > sink->cap) {
                size_t cap = sink->cap ? sink->cap * 2 : 1024;
                char *b;

                while (cap < r->len + n + 1)
                        cap *= 2;
                if (!(b = realloc(r->body, cap)))
                        return 0;
                r->body = b;
                sink->cap = cap;
        }
        memcpy(r->body + r->len, data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return n;
}

static size_t sl_reg_fwd_header(char *data, size_t size, size_t nmemb, void *opaque)
{
        sl_reg_fwd_sink_t *sink = opaque;
        size_t n = size * nmemb;
        static const char name[] = "content-type:";

        if (n > sizeof(name) - 1 && !strncasecmp(data, name, sizeof(name) - 1)) {
                const char *v = data + sizeof(name) - 1;
                size_t len = n - (sizeof(name) - 1);

                while (len && (*v == ' ' || *v == '\t')) {
                        v++;
                        len--;
                }
                while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
                        len--;
                free(sink->resp->content_type);
                sink->resp->content_type = strndup(v, len);
        }
        return n;
}

int sl_reg_forward(sl_reg_srv_t *srv, const char *base_url, const char *method,
                   const char *path_and_query, const char *body, size_t body_len,
                   const char *content_type, const char *authorization, sl_reg_fwd_resp_t *resp,
                   char *errstr, size_t errstr_size)
{
        CURL *curl = curl_easy_init();
        struct curl_slist *hdrs = NULL, *h;
        sl_reg_fwd_sink_t sink = {.resp = resp, .max = 64 * 1024 * 1024};
        char *url = NULL, *line = NULL;
        size_t base_len = strlen(base_url);
        CURLcode cc;
        int ret = -1;

        memset(resp, 0, sizeof(*resp));
        if (!curl) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        while (base_len && base_url[base_len - 1] == '/')
                base_len--;
        if (asprintf(&url, "%.*s%s", (int)base_len, base_url, path_and_query) < 0) {
                url = NULL;
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
#define SL_HDR(...)                                                                                \
        do {                                                                                       \
                free(line);                                                                        \
                line = NULL;                                                                       \
                if (asprintf(&line, __VA_ARGS__) < 0 || !(h = curl_slist_append(hdrs, line))) {    \
                        snprintf(errstr, errstr_size, "out of memory");                            \
                        goto done;                                                                 \
                }                                                                                  \
                hdrs = h;                                                                          \
        } while (0)
        SL_HDR("%s: 1", SL_REG_FORWARDED_HEADER);
        SL_HDR("Content-Type: %s", content_type ? content_type : SL_REG_CONTENT_TYPE);
        SL_HDR("Accept: %s", SL_REG_CONTENT_TYPE);
        SL_HDR("Expect:"); /* no 100-continue round trip */
        if (authorization)
                SL_HDR("Authorization: %s", authorization);
#undef SL_HDR

        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        /* The leader may itself wait up to the write timeout for Kafka. */
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)srv->write_timeout_ms + 5000L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sl_reg_fwd_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, sl_reg_fwd_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (body_len || strcmp(method, "GET")) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        if (srv->ca_location)
                curl_easy_setopt(curl, CURLOPT_CAINFO, srv->ca_location);

        if ((cc = curl_easy_perform(curl)) != CURLE_OK) {
                snprintf(errstr, errstr_size, "forwarding to the leader at %s: %s", url,
                         curl_easy_strerror(cc));
                goto done;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!resp->body && !(resp->body = strdup(""))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        ret = 0;

done:
        if (ret)
                sl_reg_forward_free(resp);
        free(line);
        free(url);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(curl);
        return ret;
}

void sl_reg_forward_free(sl_reg_fwd_resp_t *resp)
{
        free(resp->body);
        free(resp->content_type);
        memset(resp, 0, sizeof(*resp));
}
