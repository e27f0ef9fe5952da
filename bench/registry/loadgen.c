/*
 * HTTP load generator of the registry benchmark (bench/registry/run builds and runs it).
 *
 *   loadgen register URL COUNT CLIENTS PREFIX
 *       registers COUNT distinct Avro schemas (record PREFIX_i, one subject PREFIX-i each) with
 *       CLIENTS concurrent connections: POST URL/subjects/PREFIX-i/versions
 *   loadgen get URL FIRST_ID LAST_ID CLIENTS SECONDS
 *       GET URL/schemas/ids/{id} for ids cycling through FIRST_ID..LAST_ID with CLIENTS
 *       concurrent connections for SECONDS
 *
 * Each client is one thread with one libcurl handle and one kept-alive connection. Prints one
 * line: `requests=N errors=N seconds=S rps=R p50_ms=A p99_ms=B`; exits 1 if any request failed.
 * Loopback only: the URL must be http://127.0.0.1 or http://localhost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

typedef struct {
        pthread_t thread;
        int index;
        uint32_t *lat_us; /* one latency per request */
        size_t lat_cnt, lat_cap;
        long errors;
        char last_error[768];
} client_t;

static struct {
        const char *url;
        int register_mode;
        long count; /* register: how many schemas */
        const char *prefix;
        long first_id, last_id;
        double seconds;
        atomic_long next; /* register: next schema index; get: next id offset */
        double deadline;
} cfg;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *opaque)
{
        return size * nmemb;
}

static int record(client_t *c, double took_s)
{
        if (c->lat_cnt == c->lat_cap) {
                size_t cap = c->lat_cap ? c->lat_cap * 2 : 4096;
                uint32_t *lat = realloc(c->lat_us, cap * sizeof(*lat));

                if (!lat)
                        return -1;
                c->lat_us = lat;
                c->lat_cap = cap;
        }
        c->lat_us[c->lat_cnt++] = (uint32_t)(took_s * 1e6);
        return 0;
}

static void *client_run(void *arg)
{
        client_t *c = arg;
        CURL *h = curl_easy_init();
        struct curl_slist *headers =
            curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
        char url[512], body[512];

        if (!h || !headers) {
                c->errors++;
                snprintf(c->last_error, sizeof(c->last_error), "out of memory");
                goto done;
        }
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        for (;;) {
                double start;
                long status = 0;
                CURLcode res;

                if (cfg.register_mode) {
                        long i = atomic_fetch_add(&cfg.next, 1);

                        if (i >= cfg.count)
                                break;
                        snprintf(url, sizeof(url), "%s/subjects/%s-%ld/versions", cfg.url,
                                 cfg.prefix, i);
                        snprintf(body, sizeof(body),
                                 "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":"
                                 "\\\"%s_%ld\\\",\\\"fields\\\":[{\\\"name\\\":\\\"n\\\","
                                 "\\\"type\\\":\\\"long\\\"},{\\\"name\\\":\\\"s\\\",\\\"type\\\":"
                                 "\\\"string\\\",\\\"default\\\":\\\"\\\"}]}\"}",
                                 cfg.prefix, i);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                } else {
                        long span = cfg.last_id - cfg.first_id + 1;
                        long i = atomic_fetch_add(&cfg.next, 1);

                        if (now_s() >= cfg.deadline)
                                break;
                        snprintf(url, sizeof(url), "%s/schemas/ids/%ld", cfg.url,
                                 cfg.first_id + i % span);
                }
                curl_easy_setopt(h, CURLOPT_URL, url);
                start = now_s();
                res = curl_easy_perform(h);
                if (res == CURLE_OK)
                        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                if (res != CURLE_OK || status != 200) {
                        c->errors++;
                        snprintf(c->last_error, sizeof(c->last_error), "%s: %s (HTTP %ld)", url,
                                 res ? curl_easy_strerror(res) : "answer", status);
                        continue;
                }
                if (record(c, now_s() - start)) {
                        c->errors++;
                        break;
                }
        }

done:
        curl_slist_free_all(headers);
        if (h)
                curl_easy_cleanup(h);
        return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return x < y ? -1 : x > y;
}

static int usage(void)
{
        fprintf(stderr, "usage: loadgen register URL COUNT CLIENTS PREFIX\n"
                        "       loadgen get URL FIRST_ID LAST_ID CLIENTS SECONDS\n");
        return 2;
}

int main(int argc, char **argv)
{
        client_t *clients;
        uint32_t *all;
        size_t total = 0, off = 0;
        long errors = 0, nclients;
        double start, took;
        const char *last_error = "";

        if (argc == 6 && !strcmp(argv[1], "register")) {
                cfg.register_mode = 1;
                cfg.url = argv[2];
                cfg.count = atol(argv[3]);
                nclients = atol(argv[4]);
                cfg.prefix = argv[5];
        } else if (argc == 7 && !strcmp(argv[1], "get")) {
                cfg.url = argv[2];
                cfg.first_id = atol(argv[3]);
                cfg.last_id = atol(argv[4]);
                nclients = atol(argv[5]);
                cfg.seconds = atof(argv[6]);
                if (cfg.first_id < 1 || cfg.last_id < cfg.first_id || cfg.seconds <= 0)
                        return usage();
        } else {
                return usage();
        }
        if (nclients < 1 || nclients > 256)
                return usage();
        if (strncmp(cfg.url, "http://127.0.0.1:", 17) &&
            strncmp(cfg.url, "http://localhost:", 17)) {
                fprintf(stderr, "loadgen: only loopback URLs (http://127.0.0.1:PORT)\n");
                return 2;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) ||
            !(clients = calloc(nclients, sizeof(*clients))))
                return 1;

        start = now_s();
        cfg.deadline = start + cfg.seconds;
        for (long i = 0; i < nclients; i++) {
                clients[i].index = (int)i;
                if (pthread_create(&clients[i].thread, NULL, client_run, &clients[i]))
                        return 1;
        }
        for (long i = 0; i < nclients; i++) {
                pthread_join(clients[i].thread, NULL);
                total += clients[i].lat_cnt;
                errors += clients[i].errors;
                if (clients[i].errors)
                        last_error = clients[i].last_error;
        }
        took = now_s() - start;

        if (!(all = malloc((total ? total : 1) * sizeof(*all))))
                return 1;
        for (long i = 0; i < nclients; i++) {
                if (clients[i].lat_cnt)
                        memcpy(all + off, clients[i].lat_us, clients[i].lat_cnt * sizeof(*all));
                off += clients[i].lat_cnt;
                free(clients[i].lat_us);
        }
        qsort(all, total, sizeof(*all), cmp_u32);
        printf("requests=%zu errors=%ld seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f\n", total,
               errors, took, (double)total / took, total ? all[total / 2] / 1000.0 : 0.0,
               total ? all[(size_t)((double)(total - 1) * 0.99)] / 1000.0 : 0.0);
        if (errors)
                fprintf(stderr, "loadgen: %ld failed requests, e.g. %s\n", errors, last_error);
        free(all);
        free(clients);
        curl_global_cleanup();
        return errors ? 1 : 0;
}
