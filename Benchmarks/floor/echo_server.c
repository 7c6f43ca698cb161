/*
 * The floor: a length-prefixed Unix-socket "echo" server that does no work.
 *
 * It speaks Purser's framing (u32 big-endian payload length, then a payload whose first 10 bytes
 * are version, type and a u64 correlation id) and answers every request frame with one reply frame
 * of a FIXED size (-r, total bytes including the length prefix), carrying the request's correlation
 * id and type | 0x80, padded with one unknown TLV field. So the bytes on the wire have Purser's
 * sizes, and anything Purser costs beyond this server is Purser's own work.
 *
 * One thread, epoll (level-triggered), non-blocking sockets; every frame that a read() brought in
 * is answered with a single write(), as an event-loop server would.
 *
 *   echo_server -s SOCKET_PATH [-r REPLY_BYTES] [-w WORK_MICROSECONDS]
 *
 * -w makes the server spin for that long per request before answering: a server whose only cost
 * is a fixed service time. On our nested VMs a 1-connection round trip grows much faster than the
 * service time (an idle vCPU is descheduled by the host and slow to wake), and this measures by
 * how much, so that Purser's 1-connection latency can be read against a server doing the same
 * amount of work.
 *
 * Prints "ready" on stdout once listening; SIGTERM/SIGINT unlink the socket and exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define IN_CAP (256 * 1024)
#define OUT_CAP (1024 * 1024)
#define FRAME_MAX 65536

typedef struct {
    int fd;
    unsigned char *in;
    size_t in_len;
    unsigned char *out;
    size_t out_len, out_off;
    int want_out;
} conn_t;

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static size_t reply_bytes = 60;
static unsigned char reply_template[FRAME_MAX];

static void build_template(void) {
    size_t payload = reply_bytes - 4;
    memset(reply_template, 0, reply_bytes);
    reply_template[0] = (unsigned char)(payload >> 24);
    reply_template[1] = (unsigned char)(payload >> 16);
    reply_template[2] = (unsigned char)(payload >> 8);
    reply_template[3] = (unsigned char)payload;
    reply_template[4] = 1;    /* version */
    reply_template[5] = 0x84; /* overwritten per reply */
    if (payload >= 14) {      /* one unknown field (tag 0x7FFF) fills the rest */
        size_t value = payload - 14;
        reply_template[14] = 0x7F;
        reply_template[15] = 0xFF;
        reply_template[16] = (unsigned char)(value >> 8);
        reply_template[17] = (unsigned char)value;
        memset(reply_template + 18, 'x', value);
    }
}

static void conn_close(int ep, conn_t *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Writes what is pending; returns -1 when the connection failed. */
static int flush_out(int ep, conn_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    int want = c->out_len > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

static long work_microseconds = 0;

/* Busy-waits: sleeping would hand the vCPU back, which is exactly what -w must not do. */
static void spin(long microseconds) {
    struct timespec start, current;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &current);
    } while ((current.tv_sec - start.tv_sec) * 1000000L + (current.tv_nsec - start.tv_nsec) / 1000L < microseconds);
}

/* Reads once, answers every complete frame; returns -1 on EOF or error. */
static int on_readable(int ep, conn_t *c) {
    if (c->out_len + reply_bytes * 64 > OUT_CAP || c->in_len == IN_CAP) return flush_out(ep, c); /* backpressure */
    ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
    if (n == 0) return -1;
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    c->in_len += (size_t)n;
    size_t pos = 0;
    while (c->in_len - pos >= 4) {
        const unsigned char *p = c->in + pos;
        uint32_t len = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        if (len > FRAME_MAX || len < 10) return -1;
        if (c->in_len - pos < 4 + (size_t)len) break;
        if (c->out_len + reply_bytes > OUT_CAP) break;
        if (work_microseconds > 0) spin(work_microseconds);
        unsigned char *r = c->out + c->out_len;
        memcpy(r, reply_template, reply_bytes);
        r[5] = (unsigned char)(p[5] | 0x80);
        memcpy(r + 6, p + 6, 8); /* correlation id */
        c->out_len += reply_bytes;
        pos += 4 + (size_t)len;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    return flush_out(ep, c);
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "s:r:w:")) != -1) {
        if (opt == 's') path = optarg;
        else if (opt == 'r') reply_bytes = (size_t)strtoul(optarg, NULL, 10);
        else if (opt == 'w') work_microseconds = strtol(optarg, NULL, 10);
        else { fprintf(stderr, "usage: echo_server -s SOCKET [-r REPLY_BYTES] [-w WORK_MICROSECONDS]\n"); return 2; }
    }
    if (!path || reply_bytes < 14 || reply_bytes > FRAME_MAX || work_microseconds < 0 || work_microseconds > 1000000) {
        fprintf(stderr, "usage: echo_server -s SOCKET [-r REPLY_BYTES (14-%d)] [-w WORK_MICROSECONDS (0-1000000)]\n", FRAME_MAX);
        return 2;
    }
    build_template();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) { fprintf(stderr, "socket path too long\n"); return 2; }
    strcpy(addr.sun_path, path);
    unlink(path);
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1024) < 0) {
        perror("echo_server: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    printf("ready\n");
    fflush(stdout);

    struct epoll_event events[256];
    while (!stopping) {
        int n = epoll_wait(ep, events, 256, 200);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    conn_t *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    nc->in = malloc(IN_CAP);
                    nc->out = malloc(OUT_CAP);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            int failed = 0;
            if (events[i].events & EPOLLOUT) failed = flush_out(ep, c) < 0;
            if (!failed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) failed = on_readable(ep, c) < 0;
            if (failed) conn_close(ep, c);
        }
    }
    unlink(path);
    return 0;
}
