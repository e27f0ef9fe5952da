/* seerlog top: a live view of the fleet from a projector's API, refreshed in place. */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "views.h"

static int sl_top_run(sl_cli_t *cli);

static const sl_opt_t sl_top_opts[] = {
    {"url", 0, "URL", 0, "The projector's API (sets api.url; default http://127.0.0.1:8080)"},
    {"interval", 0, "S", 0, "Seconds between refreshes, 0.2 to 3600 (default 2)"},
    {0},
};

const sl_cmd_t sl_cmd_top = {
    .name = "top",
    .summary = "Show a live view of the fleet (a projector's API), refreshed in place",
    .usage = "[--url URL] [--interval S]",
    .description =
        "Every --interval seconds, reads the projector's API at --url (default api.url) and\n"
        "redraws the terminal (ANSI escapes; no curses):\n"
        "  - the totals of /v1/summary: nodes, by status, by liveness;\n"
        "  - a table of region x node type: NODES, UP, DOWN/DEG (down or degraded), ALIVE,\n"
        "    SUSPECT, DEAD;\n"
        "  - the nodes heard from most recently (/v1/nodes?sort=-last_seen), as many as fit\n"
        "    the terminal's height.\n"
        "Keys: q quits, space refreshes now; Ctrl-C quits too. The terminal's settings are\n"
        "restored on every way out (q, SIGINT, SIGTERM, SIGHUP; Ctrl-Z suspends cleanly).\n"
        "\n"
        "When stdout is not a terminal, prints one frame without escapes (every group, the 10\n"
        "nodes heard from last) and exits: 'seerlog top > file' is a snapshot.\n"
        "\n"
        "Exits 1 when the API cannot be reached or answers an error at the first frame (later\n"
        "errors are shown in the frame, and it keeps trying), 2 on bad options.\n",
    .opts = sl_top_opts,
    .run = sl_top_run,
};

#define SL_TOP_ROWS_DEFAULT 24

/* The terminal, as found and as changed: restored by the signal handlers too. */
static struct termios sl_top_saved;
static volatile sig_atomic_t sl_top_raw;    /* stdin in cbreak mode */
static volatile sig_atomic_t sl_top_screen; /* the alternate screen is shown */
static volatile sig_atomic_t sl_top_quit;
static volatile sig_atomic_t sl_top_redraw; /* SIGWINCH or SIGCONT */

/* Async-signal-safe: tcsetattr() and write() only. */
static void sl_top_term_restore(void)
{
        static const char leave[] = "\033[?25h\033[?1049l";

        if (sl_top_raw) {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &sl_top_saved);
                sl_top_raw = 0;
        }
        if (sl_top_screen) {
                if (write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0) {
                        /* nothing to do about it */
                }
                sl_top_screen = 0;
        }
}

static void sl_top_term_enter(int stdin_tty)
{
        static const char enter[] = "\033[?1049h\033[?25l\033[2J";
        struct termios t;

        if (stdin_tty && !tcgetattr(STDIN_FILENO, &sl_top_saved)) {
                t = sl_top_saved;
                t.c_lflag &= (tcflag_t) ~(ICANON | ECHO); /* keys one by one; ISIG kept */
                t.c_cc[VMIN] = 1;
                t.c_cc[VTIME] = 0;
                if (!tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
                        sl_top_raw = 1;
        }
        if (write(STDOUT_FILENO, enter, sizeof(enter) - 1) == (ssize_t)(sizeof(enter) - 1))
                sl_top_screen = 1;
}

static int sl_top_stdin_tty;

static void sl_top_on_signal(int sig)
{
        int saved_errno = errno;

        sl_top_term_restore();
        sl_top_quit = 1;
        sl_view_stop = 1;
        /* A second signal kills: the terminal is already restored. */
        signal(sig, SIG_DFL);
        errno = saved_errno;
}

static void sl_top_on_tstp(int sig)
{
        int saved_errno = errno;

        (void)sig;
        sl_top_term_restore();
        signal(SIGTSTP, SIG_DFL);
        raise(SIGTSTP); /* stops here until SIGCONT */
        signal(SIGTSTP, sl_top_on_tstp);
        sl_top_term_enter(sl_top_stdin_tty);
        sl_top_redraw = 1;
        errno = saved_errno;
}

static void sl_top_on_winch(int sig)
{
        (void)sig;
        sl_top_redraw = 1;
}

static void sl_top_signals(void)
{
        static const int quit_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = sl_top_on_signal;
        for (size_t i = 0; i < sizeof(quit_sigs) / sizeof(quit_sigs[0]); i++)
                sigaction(quit_sigs[i], &sa, NULL);
        sa.sa_handler = sl_top_on_winch;
        sigaction(SIGWINCH, &sa, NULL);
        sa.sa_handler = sl_top_on_tstp;
        sigaction(SIGTSTP, &sa, NULL);
}

static json_int_t sl_top_count(const json_t *counts, const char *key)
{
        return json_integer_value(json_object_get(counts, key));
}

/* "up 280  degraded 5  ..." for the counts in @p counts, in the order of @p keys. */
static void sl_top_counts(FILE *fp, const char *title, const json_t *counts,
                          const char *const *keys)
{
        fprintf(fp, "%-9s", title);
        for (size_t i = 0; keys[i]; i++)
                fprintf(fp, "  %s %" JSON_INTEGER_FORMAT, keys[i], sl_top_count(counts, keys[i]));
        fputc('\n', fp);
}

/* Nodes listed in a frame that is not for a terminal. */
#define SL_TOP_NODES_SNAPSHOT 10
/* Fewest nodes a terminal frame lists (the groups give way). */
#define SL_TOP_NODES_MIN 5

/*
 * How a frame of @p rows lines (0: not a terminal, no limit) is shared: the totals (4 lines),
 * the groups (a blank line, a header, *gshownp groups and a line for the ones left out), the
 * nodes (a blank line, a title, a header, *nodesp nodes) and a line for an error.
 */
static void sl_top_layout(int rows, size_t gcnt, size_t *gshownp, int *nodesp)
{
        int fixed = 4 + 2 + 3 + 1, room;

        *gshownp = gcnt;
        if (rows <= 0) {
                *nodesp = SL_TOP_NODES_SNAPSHOT;
                return;
        }
        room = rows - fixed - SL_TOP_NODES_MIN;
        if ((int)gcnt > room)
                *gshownp = room > 1 ? (size_t)room - 1 : 0; /* and the "more" line */
        *nodesp = rows - fixed - (int)*gshownp - (*gshownp < gcnt);
        if (*nodesp < 1)
                *nodesp = 1;
        if (*nodesp > 1000)
                *nodesp = 1000;
}

/*
 * Renders a frame of @p rows x @p cols (cols 0: no cut) into @p fp from the answers (NULL when
 * their request failed, with @p error set).
 */
static void sl_top_render(FILE *fp, const char *url, const json_t *summary, const json_t *nodes,
                          const char *error, int rows, int cols, int tty)
{
        static const char *const statuses[] = {"up",   "degraded",    "draining", "down",
                                               "left", "maintenance", "unknown",  NULL};
        static const char *const livenesses[] = {"alive",   "suspect", "dead", "left",
                                                 "missing", "unknown", NULL};
        static const char *const gheader[] = {"REGION",   "TYPE",  "NODES",   "UP",
                                              "DOWN/DEG", "ALIVE", "SUSPECT", "DEAD"};
        const json_t *groups = json_object_get(summary, "groups"), *g, *node;
        int64_t now = sl_cli_now_ms();
        size_t i, gcnt = json_array_size(groups), gshown;
        char t[40];
        sl_table_t gt, nt;
        int nodes_max;

        sl_view_time(t, sizeof(t), now);
        fprintf(fp, "seerlog top  %s  %s%s\n", url, t, tty ? "  (q: quit)" : "");
        if (summary) {
                fprintf(fp, "Nodes: %" JSON_INTEGER_FORMAT "\n",
                        json_integer_value(json_object_get(summary, "nodes")));
                sl_top_counts(fp, "Status:", json_object_get(summary, "status"), statuses);
                sl_top_counts(fp, "Liveness:", json_object_get(summary, "liveness"), livenesses);
        } else {
                fprintf(fp, "Nodes: ?\n\n\n");
        }
        sl_top_layout(rows, gcnt, &gshown, &nodes_max);
        sl_table_init(&gt, 8, gheader);
        for (i = 0; i < gshown && (g = json_array_get(groups, i)); i++) {
                const json_t *st = json_object_get(g, "status"),
                             *lv = json_object_get(g, "liveness");
                char n[6][24];
                const char *cells[8];

                snprintf(n[0], sizeof(n[0]), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(g, "nodes")));
                snprintf(n[1], sizeof(n[1]), "%" JSON_INTEGER_FORMAT, sl_top_count(st, "up"));
                snprintf(n[2], sizeof(n[2]), "%" JSON_INTEGER_FORMAT,
                         sl_top_count(st, "down") + sl_top_count(st, "degraded"));
                snprintf(n[3], sizeof(n[3]), "%" JSON_INTEGER_FORMAT, sl_top_count(lv, "alive"));
                snprintf(n[4], sizeof(n[4]), "%" JSON_INTEGER_FORMAT, sl_top_count(lv, "suspect"));
                snprintf(n[5], sizeof(n[5]), "%" JSON_INTEGER_FORMAT, sl_top_count(lv, "dead"));
                cells[0] = sl_view_str(g, "region");
                cells[1] = sl_view_str(g, "type");
                for (int k = 0; k < 6; k++)
                        cells[k + 2] = n[k];
                sl_table_add(&gt, cells);
        }
        fputc('\n', fp);
        sl_table_print(&gt, fp, cols);
        if (gshown < gcnt)
                fprintf(fp, "... and %zu more groups\n", gcnt - gshown);
        sl_table_free(&gt);

        fprintf(fp, "\nMost recently heard:\n");
        sl_table_init(&nt, SL_VIEW_NODE_COLS, sl_view_node_header);
        json_array_foreach(json_object_get(nodes, "nodes"), i, node)
        {
                if ((int)i >= nodes_max)
                        break;
                sl_view_node_row(&nt, node, 0, now);
        }
        sl_table_print(&nt, fp, cols);
        sl_table_free(&nt);
        if (error)
                fprintf(fp, "error: %s\n", error);
}

/* Fetches and draws one frame. @returns 0, or the exit code of a failed fetch (printed when
 * @p fail_hard, else shown in the frame). */
static int sl_top_frame(sl_cli_t *cli, sl_apic_t *c, int tty, int fail_hard)
{
        char errstr[512] = "", path[64], *text = NULL;
        json_t *summary = NULL, *nodes = NULL;
        int rows = SL_TOP_ROWS_DEFAULT, cols = 0, ret = 0;
        struct winsize ws;
        size_t len = 0;
        sl_err_t err;
        FILE *fp;

        if (tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > 0) {
                rows = ws.ws_row;
                cols = ws.ws_col;
        }
        if (!(err = sl_apic_get_json(c, "/v1/summary", &summary, NULL, errstr, sizeof(errstr)))) {
                size_t gshown;
                int nodes_max;

                sl_top_layout(tty ? rows : 0, json_array_size(json_object_get(summary, "groups")),
                              &gshown, &nodes_max);
                snprintf(path, sizeof(path), "/v1/nodes?sort=-last_seen&limit=%d", nodes_max);
                err = sl_apic_get_json(c, path, &nodes, NULL, errstr, sizeof(errstr));
        }
        if (err && (fail_hard || sl_view_stop || sl_cli_interrupted())) {
                ret = sl_top_quit ? 0 : sl_view_api_fail(cli, err, errstr);
                goto done;
        }
        if (!(fp = open_memstream(&text, &len))) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        sl_top_render(fp, sl_apic_url(c), summary, nodes, err ? errstr : NULL, tty ? rows : 0, cols,
                      tty);
        if (fclose(fp)) {
                ret = sl_cli_fail(cli, "out of memory");
                goto done;
        }
        if (!tty) {
                fputs(text, stdout);
        } else {
                /* Home, then each line cleared to its end, then the rest of the screen. */
                fputs("\033[H", stdout);
                for (char *line = text; *line;) {
                        size_t n = strcspn(line, "\n");

                        /* A line wider than the terminal would wrap and push the frame down. */
                        fwrite(line, 1, cols > 0 && n > (size_t)cols ? (size_t)cols : n, stdout);
                        line += n;
                        if (*line)
                                line++;
                        /* No newline after the last line: the screen must not scroll. */
                        fputs(*line ? "\033[K\n" : "\033[K", stdout);
                }
                fputs("\033[J", stdout);
        }
        if (fflush(stdout))
                ret = sl_cli_fail(cli, "writing to stdout failed");
done:
        free(text);
        json_decref(summary);
        json_decref(nodes);
        return ret;
}

/* Waits up to @p ms for a key, a signal or a resize. @returns 'q' to quit, 1 to redraw now. */
static int sl_top_wait(int64_t ms, int *stdin_open)
{
        int64_t until = sl_cli_now_mono_ms() + ms;

        while (!sl_top_quit && !sl_top_redraw) {
                int64_t left = until - sl_cli_now_mono_ms();
                struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
                char ch;

                if (left <= 0)
                        return 0;
                if (!*stdin_open) {
                        struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000};

                        nanosleep(&ts, NULL);
                        continue;
                }
                if (poll(&pfd, 1, left > 100 ? 100 : (int)left) <= 0)
                        continue;
                if (read(STDIN_FILENO, &ch, 1) != 1) {
                        *stdin_open = 0; /* EOF or error: no more keys */
                        continue;
                }
                if (ch == 'q' || ch == 'Q')
                        return 'q';
                if (ch == ' ' || ch == '\f')
                        return 1;
        }
        sl_top_redraw = 0;
        return sl_top_quit ? 'q' : 1;
}

static int sl_top_run(sl_cli_t *cli)
{
        const char *interval_s = sl_cli_str(cli, "interval");
        int tty = isatty(STDOUT_FILENO), stdin_open, ret;
        double interval = 2;
        sl_apic_t *c = NULL;

        if (interval_s) {
                char *end;

                errno = 0;
                interval = strtod(interval_s, &end);
                if (errno || end == interval_s || *end || !(interval >= 0.2 && interval <= 3600))
                        return sl_cli_usage_error(
                            cli, "--interval %s: expected seconds from 0.2 to 3600", interval_s);
        }
        if ((ret = sl_view_client(cli, &c)))
                return ret;
        if (!tty) {
                ret = sl_top_frame(cli, c, 0, 1);
                sl_apic_destroy(c);
                return ret;
        }
        sl_top_stdin_tty = isatty(STDIN_FILENO);
        stdin_open = sl_top_stdin_tty;
        sl_top_signals();
        /* The first frame decides whether the API is there at all, before the screen changes. */
        {
                char errstr[512];
                json_t *probe = NULL;
                sl_err_t err =
                    sl_apic_get_json(c, "/v1/summary", &probe, NULL, errstr, sizeof(errstr));

                json_decref(probe);
                if (err) {
                        ret = sl_top_quit ? SL_EXIT_OK : sl_view_api_fail(cli, err, errstr);
                        goto done;
                }
        }
        sl_top_term_enter(sl_top_stdin_tty);
        while (!sl_top_quit) {
                if ((ret = sl_top_frame(cli, c, 1, 0)))
                        break;
                if (sl_top_wait((int64_t)(interval * 1000), &stdin_open) == 'q')
                        break;
        }
done:
        sl_top_term_restore();
        sl_apic_destroy(c);
        return ret;
}
