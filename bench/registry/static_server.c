/*
 * The reference of the registry benchmark (bench/registry/run builds and runs it): a trivial
 * libmicrohttpd server, threaded the way `seerlog registry` is (one thread per connection), that
 * answers every request with the same bytes. Against it, the load generator measures what HTTP
 * over loopback and the load generator itself cost on this machine, without any registry logic.
 *
 *   static_server PORT BODY_FILE     serves BODY_FILE on 127.0.0.1:PORT until SIGTERM/SIGINT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

static char *body;
static size_t body_len;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        stop = 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
        static int seen_headers;
        struct MHD_Response *resp;
        enum MHD_Result ret;

        /* Answer on the second call, as the registry does: libmicrohttpd closes the connection
         * of a response queued on the first call (before it knows there is no body). */
        if (!*con_cls) {
                *con_cls = &seen_headers;
                return MHD_YES;
        }
        if (*upload_data_size) { /* a POST body: ignore it */
                *upload_data_size = 0;
                return MHD_YES;
        }
        resp = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/vnd.schemaregistry.v1+json");
        ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

int main(int argc, char **argv)
{
        struct sockaddr_in addr = {.sin_family = AF_INET};
        struct MHD_Daemon *d;
        FILE *fp;
        long size;

        if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
                fprintf(stderr, "usage: static_server PORT BODY_FILE\n");
                return 2;
        }
        if (!(fp = fopen(argv[2], "rb")) || fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 ||
            fseek(fp, 0, SEEK_SET) || !(body = malloc((size_t)size + 1)) ||
            fread(body, 1, (size_t)size, fp) != (size_t)size) {
                perror(argv[2]);
                return 1;
        }
        fclose(fp);
        body_len = (size_t)size;

        addr.sin_port = htons((uint16_t)atoi(argv[1]));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_AUTO | MHD_USE_ERROR_LOG,
                             0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&addr, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "static_server: cannot listen on 127.0.0.1:%s\n", argv[1]);
                return 1;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        while (!stop)
                pause();
        MHD_stop_daemon(d);
        free(body);
        return 0;
}
