/*
 * The disk floor: what making random pages durable costs on this machine.
 *
 * A durable settle is answered after an fsync of every LMDB page dirtied since the last one, and
 * those pages are scattered over the data file (B-tree leaves of random keys). So the throughput
 * of durable pairs is bounded by how many random 4 KiB pages the disk makes durable per second,
 * divided by the pages a pair dirties. This measures the first number in the way the daemon
 * incurs it: PAGES random 4 KiB pwrite()s into a file that already exists on disk, then one
 * fdatasync(), repeated ROUNDS times.
 *
 *   fsync_floor -f FILE [-p PAGES] [-r ROUNDS] [-m FILE_MIB]
 *
 * Prints one JSON line: the median and p90 fdatasync time and the pages made durable per second.
 * The file is created (written once in full and synced, so that later writes overwrite allocated
 * blocks, as LMDB's do) and removed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096
#define ROUNDS_MAX 1000
#define PAGES_MAX 100000
#define FILE_MIB_MAX 4096

static double now_microseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* xorshift64*: reproducible page choices without libc's rand() state. */
static uint64_t next_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static int fail(const char *what) {
    fprintf(stderr, "fsync_floor: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    long pages = 400, rounds = 30, file_mib = 256;
    int opt;
    while ((opt = getopt(argc, argv, "f:p:r:m:")) != -1) {
        if (opt == 'f') path = optarg;
        else if (opt == 'p') pages = strtol(optarg, NULL, 10);
        else if (opt == 'r') rounds = strtol(optarg, NULL, 10);
        else if (opt == 'm') file_mib = strtol(optarg, NULL, 10);
        else path = NULL, pages = 0;
    }
    if (!path || pages < 1 || pages > PAGES_MAX || rounds < 1 || rounds > ROUNDS_MAX || file_mib < 1 || file_mib > FILE_MIB_MAX) {
        fprintf(stderr, "usage: fsync_floor -f FILE [-p PAGES (1-%d)] [-r ROUNDS (1-%d)] [-m FILE_MIB (1-%d)]\n",
                PAGES_MAX, ROUNDS_MAX, FILE_MIB_MAX);
        return 2;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return fail("open");
    static char chunk[1 << 20];
    memset(chunk, 0x5A, sizeof chunk);
    for (long offset = 0; offset < file_mib; offset++) {
        if (pwrite(fd, chunk, sizeof chunk, (off_t)offset << 20) != (ssize_t)sizeof chunk) return fail("pwrite (fill)");
    }
    if (fsync(fd) != 0) return fail("fsync (fill)");

    double *times = calloc((size_t)rounds, sizeof *times);
    if (!times) return fail("calloc");
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    const uint64_t file_pages = (uint64_t)file_mib * (1 << 20) / PAGE_BYTES;
    for (long round = 0; round < rounds; round++) {
        for (long page = 0; page < pages; page++) {
            off_t offset = (off_t)(next_random(&state) % file_pages) * PAGE_BYTES;
            chunk[0] = (char)round;
            if (pwrite(fd, chunk, PAGE_BYTES, offset) != PAGE_BYTES) return fail("pwrite");
        }
        double started = now_microseconds();
        if (fdatasync(fd) != 0) return fail("fdatasync");
        times[round] = now_microseconds() - started;
    }
    close(fd);
    unlink(path);
    qsort(times, (size_t)rounds, sizeof *times, compare_doubles);
    double p50 = times[rounds / 2], p90 = times[rounds * 9 / 10];
    printf("{\"pages_per_fsync\":%ld,\"rounds\":%ld,\"file_mib\":%ld,\"fsync_p50_us\":%.1f,\"fsync_p90_us\":%.1f,"
           "\"pages_per_second\":%.0f}\n", pages, rounds, file_mib, p50, p90, (double)pages * 1e6 / p50);
    free(times);
    return 0;
}
