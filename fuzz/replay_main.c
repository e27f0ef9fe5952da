/*
 * A main() for the fuzz targets in builds without libFuzzer (gcc, the sanitizer build): feeds
 * every file named on the command line, or every file in a directory named there, to
 * LLVMFuzzerTestOneInput() once. CTest runs it over each target's seed corpus and its
 * regressions (inputs that once crashed), so that every input ever found stays fixed in every
 * build.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        FILE *fp = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, n;

        if (!fp) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        do {
                if (len == cap) {
                        uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 4096);

                        if (!b) {
                                fprintf(stderr, "%s: out of memory\n", path);
                                free(buf);
                                fclose(fp);
                                return -1;
                        }
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len, fp);
                len += n;
        } while (n);
        fclose(fp);
        /* An exact-size copy, so that ASan sees a read past the input's end. */
        {
                uint8_t *exact = malloc(len ? len : 1);

                if (!exact) {
                        free(buf);
                        return -1;
                }
                memcpy(exact, buf, len);
                free(buf);
                LLVMFuzzerTestOneInput(exact, len);
                free(exact);
        }
        return 0;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @returns the number of inputs run, or -1. */
static int run_path(const char *path)
{
        struct stat st;
        struct dirent *de;
        char **names = NULL;
        size_t cnt = 0, cap = 0;
        int ran = 0;
        DIR *d;

        if (stat(path, &st)) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path) ? -1 : 1;
        if (!(d = opendir(path))) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !strcmp(de->d_name, "README.md"))
                        continue;
                if (cnt == cap) {
                        char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

                        if (!nn)
                                break;
                        names = nn;
                }
                if (asprintf(&names[cnt], "%s/%s", path, de->d_name) < 0)
                        break;
                cnt++;
        }
        closedir(d);
        qsort(names, cnt, sizeof(*names), cmp);
        for (size_t i = 0; i < cnt; i++) {
                if (ran >= 0 && run_file(names[i]) == 0)
                        ran++;
                else
                        ran = -1;
                free(names[i]);
        }
        free(names);
        return ran;
}

int main(int argc, char **argv)
{
        int total = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return 2;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                int n = run_path(argv[i]);

                if (n < 0)
                        return 1;
                total += n;
        }
        printf("%s: %d inputs, no crash\n", argv[0], total);
        return 0;
}
