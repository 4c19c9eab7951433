/*
 * A main() for the libFuzzer targets, without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named on the command line
 * (for a directory, on every file in it).  tests/test_sanitizer.py builds
 * each target with it under gcc -fsanitize=address,undefined and replays
 * the seeds and fuzz/regressions/; it also reproduces a finding without
 * clang:
 *
 *   gcc -g -fsanitize=address,undefined -Icsrc -Ifuzz/c fuzz/c/fuzz_msg_open.c \
 *       fuzz/c/replay_main.c $(ls csrc/[a-z]*.c) -pthread -o replay && ./replay crash-...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) abort();
    }
    fclose(f);
    /* An exactly sized copy, as libFuzzer passes it. */
    uint8_t *data = malloc(n ? n : 1);
    if (!data) abort();
    memcpy(data, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int errors = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += run_file(argv[i]);
            count++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        if (!dir) {
            perror(argv[i]);
            errors++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue;
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *path = malloc(len);
            if (!path) abort();
            snprintf(path, len, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                errors += run_file(path);
                count++;
            }
            free(path);
        }
        closedir(dir);
    }
    fprintf(stderr, "replayed %d inputs\n", count);
    return errors ? 1 : 0;
}
