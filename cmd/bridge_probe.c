/* Asynchronous probes on libcurl's multi interface (bridge_probe.h). */
#include "bridge_probe.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* What a probe reads of a body before it stops reading: health answers are small. */
#define SL_PROBE_BODY_MAX (64u << 10)
/* What a fetch (the projector's API) may read. */
#define SL_FETCH_BODY_MAX (64u << 20)

typedef struct sl_job_s sl_job_t;
struct sl_job_s {
        sl_job_t *next;
        sl_job_kind_t kind;
        int timeout_ms;
        void *opaque;
        char url[];
};

typedef struct {
        CURL *h;
        sl_job_t *job; /* NULL: free. */
        char *body;
        size_t body_len, body_cap, body_max;
        int truncated;
        char err[CURL_ERROR_SIZE];
} sl_slot_t;

struct sl_prober_s {
        CURLM *multi;
        sl_slot_t *slots;
        size_t slot_cnt, active;
        sl_job_t *head, *tail; /* The queue. */
        size_t queued;
        int insecure;
        const sl_apic_auth_t *fetch_auth; /* FETCH jobs' credentials and CA, or NULL */
        sl_probe_done_cb_t *cb;
        void *opaque;
};

void sl_prober_set_fetch_auth(sl_prober_t *pr, const sl_apic_auth_t *auth)
{
        pr->fetch_auth = auth;
}

sl_prober_t *sl_prober_new(size_t concurrency, int insecure, sl_probe_done_cb_t *cb, void *opaque,
                           char *errstr, size_t errstr_size)
{
        sl_prober_t *pr;
        CURLcode res;

        if ((res = curl_global_init(CURL_GLOBAL_DEFAULT))) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "curl_global_init: %s",
                          curl_easy_strerror(res));
                return NULL;
        }
        if (!(pr = calloc(1, sizeof(*pr))) ||
            !(pr->slots = calloc(concurrency, sizeof(*pr->slots))) ||
            !(pr->multi = curl_multi_init())) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                sl_prober_destroy(pr);
                return NULL;
        }
        pr->slot_cnt = concurrency;
        pr->insecure = insecure;
        pr->cb = cb;
        pr->opaque = opaque;
        /* Idle connections kept for reuse: no more than the jobs that may run. */
        curl_multi_setopt(pr->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
        return pr;
}

/* Ends the job of @p s: off the multi handle, the job freed, the slot free. */
static void sl_slot_clear(sl_prober_t *pr, sl_slot_t *s)
{
        if (!s->job)
                return;
        curl_multi_remove_handle(pr->multi, s->h);
        /* A connect-only transfer keeps its socket until the handle is reset or freed. */
        curl_easy_reset(s->h);
        free(s->job);
        s->job = NULL;
        pr->active--;
}

void sl_prober_destroy(sl_prober_t *pr)
{
        if (!pr)
                return;
        for (size_t i = 0; pr->slots && i < pr->slot_cnt; i++) {
                sl_slot_t *s = &pr->slots[i];

                if (s->h) {
                        sl_slot_clear(pr, s);
                        curl_easy_cleanup(s->h);
                }
                free(s->body);
        }
        while (pr->head) {
                sl_job_t *next = pr->head->next;

                free(pr->head);
                pr->head = next;
        }
        if (pr->multi)
                curl_multi_cleanup(pr->multi);
        free(pr->slots);
        free(pr);
}

sl_err_t sl_prober_submit(sl_prober_t *pr, sl_job_kind_t kind, const char *url, int timeout_ms,
                          void *job, char *errstr, size_t errstr_size)
{
        size_t len = strlen(url);
        sl_job_t *j = malloc(sizeof(*j) + len + 8);

        if (!j)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        j->next = NULL;
        j->kind = kind;
        j->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
        j->opaque = job;
        /* libcurl connects "http://HOST:PORT" in connect-only mode without sending a byte. */
        if (kind == SL_JOB_TCP && !strncasecmp(url, "tcp://", 6))
                snprintf(j->url, len + 8, "http://%s", url + 6);
        else
                memcpy(j->url, url, len + 1);
        if (pr->tail)
                pr->tail->next = j;
        else
                pr->head = j;
        pr->tail = j;
        pr->queued++;
        return SL_OK;
}

void sl_prober_cancel(sl_prober_t *pr, void *job)
{
        sl_job_t **pp = &pr->head, *prev = NULL;

        while (*pp) {
                sl_job_t *j = *pp;

                if (j->opaque != job) {
                        prev = j;
                        pp = &j->next;
                        continue;
                }
                *pp = j->next;
                if (pr->tail == j)
                        pr->tail = prev;
                pr->queued--;
                free(j);
        }
        for (size_t i = 0; i < pr->slot_cnt; i++)
                if (pr->slots[i].job && pr->slots[i].job->opaque == job)
                        sl_slot_clear(pr, &pr->slots[i]);
}

size_t sl_prober_busy(const sl_prober_t *pr)
{
        return pr->active + pr->queued;
}

static size_t sl_slot_write_cb(char *data, size_t size, size_t nmemb, void *opaque)
{
        sl_slot_t *s = opaque;
        size_t n = size * nmemb;

        if (s->body_len + n > s->body_max) {
                s->truncated = 1;
                return 0; /* Ends the transfer (CURLE_WRITE_ERROR); the status stands. */
        }
        if (s->job->kind != SL_JOB_FETCH) {
                s->body_len += n; /* Counted, not kept. */
                return n;
        }
        if (s->body_len + n + 1 > s->body_cap) {
                size_t cap = s->body_cap ? s->body_cap : 65536;
                char *tmp;

                while (cap < s->body_len + n + 1)
                        cap *= 2;
                if (!(tmp = realloc(s->body, cap)))
                        return 0;
                s->body = tmp;
                s->body_cap = cap;
        }
        memcpy(s->body + s->body_len, data, n);
        s->body_len += n;
        s->body[s->body_len] = '\0';
        return n;
}

/* Starts the job at the head of the queue in slot @p s. @returns 0, or -1 (job dropped). */
static int sl_slot_start(sl_prober_t *pr, sl_slot_t *s)
{
        sl_job_t *j = pr->head;
        CURL *h;

        pr->head = j->next;
        if (!pr->head)
                pr->tail = NULL;
        pr->queued--;
        if (!s->h && !(s->h = curl_easy_init())) {
                free(j);
                return -1;
        }
        h = s->h;
        s->job = j;
        s->body_len = 0;
        s->truncated = 0;
        s->body_max = j->kind == SL_JOB_FETCH ? SL_FETCH_BODY_MAX : SL_PROBE_BODY_MAX;
        s->err[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, &j->url[0]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->err);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)j->timeout_ms);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "seerlog-bridge/" SEERLOG_VERSION);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sl_slot_write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
        if (j->kind != SL_JOB_FETCH)
                curl_easy_setopt(h, CURLOPT_PROXY, ""); /* Straight to the node. */
        if (j->kind == SL_JOB_TCP)
                curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
        if (j->kind == SL_JOB_FETCH && pr->fetch_auth)
                sl_apic_auth_apply(pr->fetch_auth, h);
        if (j->kind == SL_JOB_HTTP && pr->insecure) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (curl_multi_add_handle(pr->multi, h) != CURLM_OK) {
                curl_easy_reset(h);
                s->job = NULL;
                free(j);
                return -1;
        }
        pr->active++;
        return 0;
}

/* Fills the free slots from the queue. A job that cannot start ends at once, without an
 * answer, so that its owner is never left waiting. */
static void sl_prober_fill(sl_prober_t *pr)
{
        for (size_t i = 0; i < pr->slot_cnt && pr->head; i++) {
                void *opaque = pr->head->opaque;

                if (pr->slots[i].job || !sl_slot_start(pr, &pr->slots[i]))
                        continue;
                sl_probe_result_t res = {.error = "libcurl could not start the transfer"};

                pr->cb(opaque, &res, pr->opaque);
        }
}

/* Calls back the jobs that ended. @returns how many. */
static int sl_prober_reap(sl_prober_t *pr)
{
        CURLMsg *msg;
        int left, done = 0;

        while ((msg = curl_multi_info_read(pr->multi, &left))) {
                sl_probe_result_t res = {0};
                sl_slot_t *s = NULL;
                curl_off_t total = 0;
                void *opaque;
                char error[CURL_ERROR_SIZE + 64];

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
                if (!s || !s->job)
                        continue;
                curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &res.http_status);
                curl_easy_getinfo(s->h, CURLINFO_TOTAL_TIME_T, &total);
                res.latency_us = (int64_t)total;
                if (s->job->kind == SL_JOB_TCP)
                        res.answered = msg->data.result == CURLE_OK;
                else
                        res.answered =
                            res.http_status > 0 && (msg->data.result == CURLE_OK ||
                                                    (msg->data.result == CURLE_WRITE_ERROR &&
                                                     s->truncated && s->job->kind == SL_JOB_HTTP));
                if (res.answered) {
                        res.error = "";
                } else if (s->truncated) {
                        snprintf(error, sizeof(error), "answer larger than %zu bytes", s->body_max);
                        res.error = error;
                } else {
                        snprintf(error, sizeof(error), "%s",
                                 s->err[0] ? s->err : curl_easy_strerror(msg->data.result));
                        res.error = error;
                }
                if (s->job->kind == SL_JOB_FETCH && res.answered) {
                        res.body = s->body ? s->body : "";
                        res.body_len = s->body_len;
                }
                opaque = s->job->opaque;
                done++;
                pr->cb(opaque, &res, pr->opaque);
                sl_slot_clear(pr, s);
        }
        return done;
}

int sl_prober_run(sl_prober_t *pr, int timeout_ms)
{
        int running = 0, done;

        sl_prober_fill(pr);
        if (!pr->active)
                return 0;
        curl_multi_perform(pr->multi, &running);
        done = sl_prober_reap(pr);
        if (!done && pr->active && timeout_ms > 0) {
                curl_multi_poll(pr->multi, NULL, 0, timeout_ms, NULL);
                curl_multi_perform(pr->multi, &running);
                done += sl_prober_reap(pr);
        }
        if (pr->head) {
                sl_prober_fill(pr);
                curl_multi_perform(pr->multi, &running);
                done += sl_prober_reap(pr);
        }
        return done;
}
