/*
 * loadgen: a closed-loop load generator for Purser, its socket floor and a Redis peer.
 *
 * Each connection keeps DEPTH requests outstanding; a reply immediately frees its slot for the
 * next request. Connections are spread over THREADS threads; a thread owning one connection uses
 * blocking reads (2 syscalls per round trip, the cheapest), a thread owning several uses epoll.
 * Replies arriving together are answered with one write per connection.
 *
 * Modes:
 *   echo             raw frames of --request-bytes to Benchmarks/floor/echo_server
 *   ping             Purser ping (crosses Purser's socket and event loop, not its store writer)
 *   authorize        Purser authorize, allow path, keys drawn at random from --keys
 *   pair             Purser authorize, then settle of the reservation its reply carries
 *   redis-authorize  Redis EVALSHA --sha-authorize (key hash, estimate, request id)
 *   redis-pair       Redis EVALSHA authorize, then EVALSHA --sha-settle (reservation, cost)
 *
 * Latency of every completed request (for pairs: authorize sent -> settle answered, and each
 * half separately) goes into a histogram with HdrHistogram's buckets (3 significant figures, see
 * below). Only completions inside the measurement window (after --warmup) count.
 * Output: one JSON line on stdout.
 *
 * --keys FILE: one key a line, "SECRET SHA256HEX" (Purser modes send the secret, Redis modes the
 * hash: Redis has no SHA-256 in Lua, so the peer's client is credited with hashing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------- */
/* Latency histogram: HdrHistogram's layout, in nanoseconds.
 *
 * The buckets are exactly those of an HdrHistogram (Gil Tene's design; the reference Java, C and
 * Python implementations share them) with lowest discernible value 1 ns, highest trackable value
 * HDR_HIGHEST_NS and 3 significant figures: every value is kept to within 0.1 %. Percentiles are
 * computed the way HdrHistogram computes them (the highest value equivalent to the bucket holding
 * the target count). The output lists each populated bucket as [lowest equivalent value, count],
 * so that bench.py records them into the reference HdrHistogram (the `hdrhistogram` package from
 * PyPI) and lands every count in the same bucket: its percentiles must equal ours, and bench.py
 * checks that they do. The layout constants below are what HdrHistogram derives from (1,
 * HDR_HIGHEST_NS, 3); bench.py also checks them against the library. */

#define HDR_HIGHEST_NS 3600000000000ULL /* one hour: no round trip here comes near it */
#define HDR_SUB_BUCKET_COUNT 2048       /* 2 * 10^3 rounded up to a power of two */
#define HDR_SUB_BUCKET_HALF_COUNT 1024
#define HDR_SUB_BUCKET_HALF_COUNT_MAGNITUDE 10
#define HDR_SUB_BUCKET_MASK ((uint64_t)HDR_SUB_BUCKET_COUNT - 1) /* unit magnitude 0 */
#define HDR_BUCKET_COUNT 32 /* 2048 * 2^31 > HDR_HIGHEST_NS */
#define HDR_COUNTS_LENGTH ((HDR_BUCKET_COUNT + 1) * HDR_SUB_BUCKET_HALF_COUNT)

typedef struct {
    uint64_t counts[HDR_COUNTS_LENGTH];
    uint64_t total, max, min;
    double sum;
} hist_t;

static int hdr_bucket_index(uint64_t v) {
    int pow2ceiling = 64 - __builtin_clzll(v | HDR_SUB_BUCKET_MASK);
    return pow2ceiling - (HDR_SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);
}

static int hist_index(uint64_t v) {
    if (v > HDR_HIGHEST_NS) v = HDR_HIGHEST_NS;
    int bucket = hdr_bucket_index(v);
    int sub_bucket = (int)(v >> bucket);
    return ((bucket + 1) << HDR_SUB_BUCKET_HALF_COUNT_MAGNITUDE) + (sub_bucket - HDR_SUB_BUCKET_HALF_COUNT);
}

/* The smallest value that lands in bucket `index` (HdrHistogram's valueFromIndex). */
static uint64_t hist_lowest_value(int index) {
    int bucket = (index >> HDR_SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
    int sub_bucket = (index & (HDR_SUB_BUCKET_HALF_COUNT - 1)) + HDR_SUB_BUCKET_HALF_COUNT;
    if (bucket < 0) {
        sub_bucket -= HDR_SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    return (uint64_t)sub_bucket << bucket;
}

/* The largest value that lands in the same bucket as `v` (HdrHistogram's highestEquivalentValue). */
static uint64_t hist_highest_equivalent(uint64_t v) {
    int bucket = hdr_bucket_index(v);
    uint64_t sub_bucket = v >> bucket;
    uint64_t lowest = sub_bucket << bucket;
    if (sub_bucket >= HDR_SUB_BUCKET_COUNT) bucket++;
    return lowest + (1ULL << bucket) - 1;
}

static void hist_record(hist_t *h, uint64_t v) {
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (h->min == 0 || v < h->min) h->min = v;
}

static void hist_merge(hist_t *into, const hist_t *from) {
    for (int i = 0; i < HDR_COUNTS_LENGTH; i++) into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
    if (from->min && (!into->min || from->min < into->min)) into->min = from->min;
}

/* HdrHistogram's getValueAtPercentile, `percentile` in [0, 100]. */
static double hist_percentile(const hist_t *h, double percentile) {
    if (h->total == 0) return 0;
    uint64_t target = (uint64_t)(percentile * (double)h->total / 100.0 + 0.5);
    if (target < 1) target = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HDR_COUNTS_LENGTH; i++) {
        seen += h->counts[i];
        if (seen >= target) return (double)hist_highest_equivalent(hist_lowest_value(i));
    }
    return 0;
}

/* "hdr_ns":[[lowest equivalent value, count],...], the populated buckets in order. */
static void hist_buckets_json(FILE *f, const hist_t *h) {
    fprintf(f, "\"hdr_ns\":[");
    int first = 1;
    for (int i = 0; i < HDR_COUNTS_LENGTH; i++) {
        if (!h->counts[i]) continue;
        fprintf(f, "%s[%llu,%llu]", first ? "" : ",", (unsigned long long)hist_lowest_value(i),
                (unsigned long long)h->counts[i]);
        first = 0;
    }
    fprintf(f, "]");
}

/* The histogram's figures as JSON members, without braces: count, throughput, percentiles in
 * microseconds, and the buckets. */
static void hist_members_json(FILE *f, const hist_t *h, double seconds) {
    fprintf(f, "\"count\":%llu,\"throughput\":%.1f,\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,"
               "\"p999_us\":%.3f,\"max_us\":%.3f,\"min_us\":%.3f,\"mean_us\":%.3f,",
            (unsigned long long)h->total, seconds > 0 ? (double)h->total / seconds : 0.0,
            hist_percentile(h, 50) / 1e3, hist_percentile(h, 90) / 1e3, hist_percentile(h, 99) / 1e3,
            hist_percentile(h, 99.9) / 1e3, (double)h->max / 1e3, (double)h->min / 1e3,
            h->total ? h->sum / (double)h->total / 1e3 : 0.0);
    hist_buckets_json(f, h);
}

/* ---------------------------------------------------------------------------------------------- */
/* Configuration and shared state */

enum mode { M_ECHO, M_PING, M_AUTH, M_PAIR, M_RAUTH, M_RPAIR };
static const char *mode_names[] = {"echo", "ping", "authorize", "pair", "redis-authorize", "redis-pair"};

static struct {
    const char *socket_path;
    enum mode mode;
    int connections, depth, threads;
    double seconds, warmup, drain;
    const char *keys_path;
    int request_bytes;
    const char *model;
    long long estimate, cost;
    const char *rid_prefix;
    const char *sha_authorize, *sha_settle;
    const char *label;
    unsigned long long seed;
} cfg = {
    .mode = M_ECHO, .connections = 1, .depth = 1, .threads = 1, .seconds = 5, .warmup = 1, .drain = 5,
    .request_bytes = 100, .model = "gpt-5.4-mini", .estimate = 1000, .cost = 800, .rid_prefix = "r", .label = "",
    .seed = 0,
};

static char **key_secret, **key_hash;
static size_t key_count;

enum { PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_STOP };
static atomic_int phase = PH_WARMUP;
static atomic_int workers_done = 0;

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int is_redis(void) { return cfg.mode == M_RAUTH || cfg.mode == M_RPAIR; }
static int is_pair(void) { return cfg.mode == M_PAIR || cfg.mode == M_RPAIR; }

/* ---------------------------------------------------------------------------------------------- */
/* Connections */

#define IN_CAP (512 * 1024)
#define OUT_CAP (512 * 1024)

typedef struct {
    uint64_t sent_ns;  /* when the request now outstanding was written */
    uint64_t first_ns; /* pairs: when the authorize was written */
    uint32_t gen;
    uint8_t state; /* 0 idle, 1 waiting for a reply to the first request, 2 waiting for a settle reply */
    uint8_t rsv_len;
    char rsv[96];
} slot_t;

typedef struct {
    int fd, dead, want_out, index;
    unsigned char *in, *out;
    size_t in_len, out_len, out_off;
    slot_t *slots;
    int outstanding;
    int *fifo; /* Redis answers in order: slot indices of outstanding requests */
    int fifo_head, fifo_count;
} conn_t;

typedef struct {
    int id;
    conn_t **conns;
    int nconns;
    hist_t *lat, *auth, *settle;
    uint64_t errors, denied, requests, replies, bytes_out, bytes_in;
    uint64_t rng, rid_counter;
    char first_error[256];
    slot_t **stamp; /* slots whose request was queued in this batch; stamped just before the write */
    int stamp_count;
    pthread_t thread;
} worker_t;

static uint64_t rng_next(worker_t *w) {
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void note_error(worker_t *w, const char *what, const unsigned char *detail, size_t detail_len) {
    w->errors++;
    if (!w->first_error[0]) {
        if (detail_len > 150) detail_len = 150;
        snprintf(w->first_error, sizeof w->first_error, "%s%s%.*s", what, detail_len ? ": " : "", (int)detail_len,
                 detail ? (const char *)detail : "");
        for (char *p = w->first_error; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '?';
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Encoding */

static unsigned char *put_u16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; return p + 2; }
static unsigned char *put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
    return p + 4;
}
static unsigned char *put_u64(unsigned char *p, uint64_t v) { p = put_u32(p, (uint32_t)(v >> 32)); return put_u32(p, (uint32_t)v); }
static unsigned char *put_str(unsigned char *p, unsigned tag, const char *s, size_t n) {
    p = put_u16(p, tag); p = put_u16(p, (unsigned)n); memcpy(p, s, n); return p + n;
}
static unsigned char *put_i64(unsigned char *p, unsigned tag, long long v) {
    p = put_u16(p, tag); p = put_u16(p, 8); return put_u64(p, (uint64_t)v);
}

/* Starts a Purser frame; returns the payload start (the length is patched by end_frame). */
static unsigned char *begin_frame(conn_t *c, unsigned char type, uint64_t cid) {
    unsigned char *p = c->out + c->out_len + 4;
    p[0] = 1;
    p[1] = type;
    put_u64(p + 2, cid);
    return p + 10;
}
static void end_frame(worker_t *w, conn_t *c, unsigned char *end) {
    unsigned char *start = c->out + c->out_len;
    size_t total = (size_t)(end - start);
    put_u32(start, (uint32_t)(total - 4));
    c->out_len += total;
    w->bytes_out += total;
    w->requests++;
}

static unsigned char *resp_bulk(unsigned char *p, const char *s, size_t n) {
    p += sprintf((char *)p, "$%zu\r\n", n);
    memcpy(p, s, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static void queue_first(worker_t *w, conn_t *c, int si) {
    slot_t *s = &c->slots[si];
    s->gen++;
    s->state = 1;
    uint64_t cid = ((uint64_t)s->gen << 16) | (uint64_t)si;
    if (cfg.mode == M_ECHO) {
        unsigned char *p = begin_frame(c, 0x01, cid);
        size_t filler = (size_t)cfg.request_bytes - 18;
        p = put_u16(p, 0x7FFE);
        p = put_u16(p, (unsigned)filler);
        memset(p, 'k', filler);
        end_frame(w, c, p + filler);
    } else if (cfg.mode == M_PING) {
        end_frame(w, c, begin_frame(c, 0x04, cid));
    } else {
        size_t k = (size_t)(rng_next(w) % key_count);
        char rid[128];
        int rid_len = snprintf(rid, sizeof rid, "%s-%x-%llx", cfg.rid_prefix, (unsigned)(w->id * 4096 + c->index),
                               (unsigned long long)++w->rid_counter);
        if (is_redis()) {
            char est[32];
            int est_len = snprintf(est, sizeof est, "%lld", cfg.estimate);
            unsigned char *start = c->out + c->out_len, *p = start;
            p += sprintf((char *)p, "*6\r\n");
            p = resp_bulk(p, "EVALSHA", 7);
            p = resp_bulk(p, cfg.sha_authorize, strlen(cfg.sha_authorize));
            p = resp_bulk(p, "0", 1);
            p = resp_bulk(p, key_hash[k], strlen(key_hash[k]));
            p = resp_bulk(p, est, (size_t)est_len);
            p = resp_bulk(p, rid, (size_t)rid_len);
            c->out_len += (size_t)(p - start);
            w->bytes_out += (size_t)(p - start);
            w->requests++;
            c->fifo[(c->fifo_head + c->fifo_count++) % cfg.depth] = si;
        } else {
            unsigned char *p = begin_frame(c, 0x01, cid);
            p = put_str(p, 1, key_secret[k], strlen(key_secret[k]));
            p = put_str(p, 2, cfg.model, strlen(cfg.model));
            p = put_i64(p, 4, cfg.estimate);
            p = put_str(p, 7, rid, (size_t)rid_len);
            end_frame(w, c, p);
        }
    }
    c->outstanding++;
    w->stamp[w->stamp_count++] = s;
}

static void queue_settle(worker_t *w, conn_t *c, int si) {
    slot_t *s = &c->slots[si];
    s->gen++;
    s->state = 2;
    uint64_t cid = ((uint64_t)s->gen << 16) | (uint64_t)si;
    if (is_redis()) {
        char cost[32];
        int cost_len = snprintf(cost, sizeof cost, "%lld", cfg.cost);
        unsigned char *start = c->out + c->out_len, *p = start;
        p += sprintf((char *)p, "*5\r\n");
        p = resp_bulk(p, "EVALSHA", 7);
        p = resp_bulk(p, cfg.sha_settle, strlen(cfg.sha_settle));
        p = resp_bulk(p, "0", 1);
        p = resp_bulk(p, s->rsv, s->rsv_len);
        p = resp_bulk(p, cost, (size_t)cost_len);
        c->out_len += (size_t)(p - start);
        w->bytes_out += (size_t)(p - start);
        w->requests++;
        c->fifo[(c->fifo_head + c->fifo_count++) % cfg.depth] = si;
    } else {
        unsigned char *p = begin_frame(c, 0x02, cid);
        p = put_str(p, 1, s->rsv, s->rsv_len);
        p = put_i64(p, 2, cfg.cost);
        end_frame(w, c, p);
    }
    c->outstanding++;
    w->stamp[w->stamp_count++] = s;
}

/* ---------------------------------------------------------------------------------------------- */
/* Completion */

static void complete(worker_t *w, conn_t *c, int si, uint64_t t, int ok_first, const char *rsv, size_t rsv_len) {
    slot_t *s = &c->slots[si];
    int measuring = atomic_load_explicit(&phase, memory_order_relaxed) == PH_MEASURE;
    int issuing = atomic_load_explicit(&phase, memory_order_relaxed) < PH_DRAIN;
    c->outstanding--;
    uint64_t latency = t - s->sent_ns;
    if (s->state == 1 && is_pair()) {
        if (ok_first) {
            if (measuring) hist_record(w->auth, latency);
            if (rsv_len >= sizeof s->rsv) rsv_len = sizeof s->rsv - 1;
            memcpy(s->rsv, rsv, rsv_len);
            s->rsv_len = (uint8_t)rsv_len;
            s->first_ns = s->sent_ns;
            /* A pair in flight is finished even while draining, so no reservation is left open. */
            queue_settle(w, c, si);
            return;
        }
    } else if (s->state == 2) {
        if (measuring && ok_first) {
            hist_record(w->settle, latency);
            hist_record(w->lat, t - s->first_ns);
        }
    } else if (measuring && ok_first) {
        hist_record(w->lat, latency);
    }
    s->state = 0;
    if (issuing) queue_first(w, c, si);
}

static uint64_t get_u64(const unsigned char *p) {
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | p[7];
}

/* One Purser (or echo) reply payload. */
static void on_frame(worker_t *w, conn_t *c, const unsigned char *p, size_t len, uint64_t t) {
    if (len < 10 || p[0] != 1) { note_error(w, "malformed reply", NULL, 0); c->dead = 1; return; }
    unsigned char type = p[1];
    uint64_t cid = get_u64(p + 2);
    int si = (int)(cid & 0xFFFF);
    uint32_t gen = (uint32_t)(cid >> 16);
    /* Fields */
    const unsigned char *allowed = NULL, *rsv = NULL, *reason = NULL;
    size_t rsv_len = 0, reason_len = 0;
    for (size_t pos = 10; pos + 4 <= len;) {
        unsigned tag = ((unsigned)p[pos] << 8) | p[pos + 1];
        size_t n = ((size_t)p[pos + 2] << 8) | p[pos + 3];
        if (pos + 4 + n > len) { note_error(w, "field overruns reply", NULL, 0); break; }
        const unsigned char *v = p + pos + 4;
        if (type == 0x7F && tag == 1) { reason = v; reason_len = n; }
        if (type == 0x81) {
            if (tag == 1 && n == 1) allowed = v;
            if (tag == 4) { rsv = v; rsv_len = n; }
            if (tag == 2) { reason = v; reason_len = n; }
        }
        pos += 4 + n;
    }
    if (si >= cfg.depth || c->slots[si].state == 0 || c->slots[si].gen != gen) {
        note_error(w, type == 0x7F ? "connection error" : "unexpected correlation id", reason, reason_len);
        if (type == 0x7F) c->dead = 1;
        return;
    }
    slot_t *s = &c->slots[si];
    int ok = 0;
    if (type == 0x7F) {
        note_error(w, "error reply", reason, reason_len);
    } else if (cfg.mode == M_ECHO) {
        ok = 1;
    } else if (s->state == 1 && cfg.mode == M_PING) {
        ok = type == 0x84;
        if (!ok) note_error(w, "unexpected reply type to ping", NULL, 0);
    } else if (s->state == 1) {
        if (type != 0x81) note_error(w, "unexpected reply type to authorize", NULL, 0);
        else if (!allowed || allowed[0] != 1) {
            w->denied++;
            if (!w->first_error[0]) note_error(w, "denied", reason, reason_len), w->errors--;
        } else if (!rsv || rsv_len == 0) note_error(w, "allowed without a reservation", NULL, 0);
        else ok = 1;
    } else {
        ok = type == 0x82;
        if (!ok) note_error(w, "unexpected reply type to settle", NULL, 0);
    }
    complete(w, c, si, t, ok, (const char *)rsv, rsv_len);
}

/* Parses one RESP value at p; returns its length, 0 when incomplete, -1 when malformed. For a
 * top-level bulk or simple string or error, s and n point at its text. */
static long resp_parse(const unsigned char *p, size_t len, const unsigned char **s, size_t *n) {
    if (len < 3) return 0;
    const unsigned char *crlf = memchr(p, '\r', len);
    if (!crlf || (size_t)(crlf - p) + 2 > len) return 0;
    size_t head = (size_t)(crlf - p) + 2;
    switch (p[0]) {
    case '+': case '-': case ':':
        *s = p + 1;
        *n = (size_t)(crlf - p) - 1;
        return (long)head;
    case '$': {
        long bl = strtol((const char *)p + 1, NULL, 10);
        if (bl < 0) { *s = p; *n = 0; return (long)head; }
        if (head + (size_t)bl + 2 > len) return 0;
        *s = p + head;
        *n = (size_t)bl;
        return (long)(head + (size_t)bl + 2);
    }
    case '*': {
        long count = strtol((const char *)p + 1, NULL, 10);
        size_t pos = head;
        for (long i = 0; i < count; i++) {
            const unsigned char *ss;
            size_t nn;
            long used = resp_parse(p + pos, len - pos, &ss, &nn);
            if (used <= 0) return used;
            pos += (size_t)used;
        }
        *s = p;
        *n = 0;
        return (long)pos;
    }
    default:
        return -1;
    }
}

static void on_resp(worker_t *w, conn_t *c, unsigned char kind, const unsigned char *s, size_t n, uint64_t t) {
    if (c->fifo_count == 0) { note_error(w, "unexpected Redis reply", s, n); c->dead = 1; return; }
    int si = c->fifo[c->fifo_head];
    c->fifo_head = (c->fifo_head + 1) % cfg.depth;
    c->fifo_count--;
    slot_t *slot = &c->slots[si];
    int ok = 0;
    const char *rsv = NULL;
    size_t rsv_len = 0;
    if (kind == '-') note_error(w, "Redis error", s, n);
    else if (kind != '$' || n < 2) note_error(w, "unexpected Redis reply", s, n);
    else if (slot->state == 1) {
        if (s[0] == 'A' || s[0] == 'R') { ok = 1; rsv = (const char *)s + 2; rsv_len = n - 2; }
        else { w->denied++; if (!w->first_error[0]) note_error(w, "denied", s, n), w->errors--; }
    } else {
        ok = s[0] == 'S' || s[0] == 'R';
        if (!ok) note_error(w, "unexpected settle reply", s, n);
    }
    complete(w, c, si, t, ok, rsv, rsv_len);
}

/* Consumes every complete reply in c->in. */
static void parse_input(worker_t *w, conn_t *c, uint64_t t) {
    size_t pos = 0;
    while (!c->dead && pos < c->in_len) {
        if (is_redis()) {
            const unsigned char *s = NULL;
            size_t n = 0;
            long used = resp_parse(c->in + pos, c->in_len - pos, &s, &n);
            if (used == 0) break;
            if (used < 0) { note_error(w, "malformed Redis reply", NULL, 0); c->dead = 1; break; }
            w->replies++;
            on_resp(w, c, c->in[pos], s, n, t);
            pos += (size_t)used;
        } else {
            if (c->in_len - pos < 4) break;
            const unsigned char *p = c->in + pos;
            size_t len = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
            if (len + 4 > IN_CAP) { note_error(w, "reply too large", NULL, 0); c->dead = 1; break; }
            if (c->in_len - pos < 4 + len) break;
            w->replies++;
            on_frame(w, c, p + 4, len, t);
            pos += 4 + len;
        }
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

/* Stamps the requests queued in this batch and writes them. Returns -1 if the connection failed. */
static int flush(worker_t *w, conn_t *c, int ep) {
    if (w->stamp_count) {
        uint64_t t = now_ns();
        for (int i = 0; i < w->stamp_count; i++) w->stamp[i]->sent_ns = t;
        w->stamp_count = 0;
    }
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (ep < 0) { if (atomic_load(&phase) == PH_STOP) return -1; continue; }
            break;
        }
        return -1;
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (ep >= 0) {
        int want = c->out_len > 0;
        if (want != c->want_out) {
            struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            c->want_out = want;
        }
    }
    return 0;
}

static void mark_dead(worker_t *w, conn_t *c, const char *why) {
    if (c->dead == 2) return;
    if (atomic_load(&phase) < PH_STOP) note_error(w, why, NULL, 0);
    c->dead = 2;
    c->outstanding = 0;
}

static int on_readable(worker_t *w, conn_t *c, int ep) {
    if (c->in_len == IN_CAP) { note_error(w, "input buffer full", NULL, 0); return -1; }
    ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
    if (n == 0) return -1;
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    uint64_t t = now_ns();
    c->in_len += (size_t)n;
    w->bytes_in += (uint64_t)n;
    parse_input(w, c, t);
    if (c->dead) return -1;
    return flush(w, c, ep);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    int ep = -1;
    if (w->nconns > 1) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < w->nconns; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w->conns[i]};
            fcntl(w->conns[i]->fd, F_SETFL, fcntl(w->conns[i]->fd, F_GETFL) | O_NONBLOCK);
            epoll_ctl(ep, EPOLL_CTL_ADD, w->conns[i]->fd, &ev);
        }
    } else if (w->nconns == 1) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
        setsockopt(w->conns[0]->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(w->conns[0]->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    for (int i = 0; i < w->nconns; i++) {
        conn_t *c = w->conns[i];
        for (int si = 0; si < cfg.depth; si++) queue_first(w, c, si);
        if (flush(w, c, ep) < 0) mark_dead(w, c, "write failed");
    }
    struct epoll_event events[256];
    for (;;) {
        int ph = atomic_load(&phase);
        if (ph == PH_STOP) break;
        int outstanding = 0, alive = 0;
        for (int i = 0; i < w->nconns; i++) {
            if (w->conns[i]->dead) continue;
            alive++;
            outstanding += w->conns[i]->outstanding;
        }
        if (!alive || (ph >= PH_DRAIN && outstanding == 0)) break;
        if (ep < 0) {
            conn_t *c = w->conns[0];
            if (on_readable(w, c, ep) < 0) mark_dead(w, c, "connection closed or failed");
        } else {
            int n = epoll_wait(ep, events, 256, 100);
            for (int i = 0; i < n; i++) {
                conn_t *c = events[i].data.ptr;
                if (c->dead) continue;
                int failed = 0;
                if (events[i].events & EPOLLOUT) failed = flush(w, c, ep) < 0;
                if (!failed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) failed = on_readable(w, c, ep) < 0;
                if (failed) {
                    mark_dead(w, c, "connection closed or failed");
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                }
            }
        }
    }
    if (ep >= 0) close(ep);
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */

static void load_keys(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(2); }
    size_t cap = 1024;
    key_secret = malloc(cap * sizeof *key_secret);
    key_hash = malloc(cap * sizeof *key_hash);
    char line[2200];
    while (fgets(line, sizeof line, f)) {
        char *secret = strtok(line, " \t\r\n");
        char *hash = strtok(NULL, " \t\r\n");
        if (!secret) continue;
        if (key_count == cap) {
            cap *= 2;
            key_secret = realloc(key_secret, cap * sizeof *key_secret);
            key_hash = realloc(key_hash, cap * sizeof *key_hash);
        }
        key_secret[key_count] = strdup(secret);
        key_hash[key_count] = strdup(hash ? hash : "");
        key_count++;
    }
    fclose(f);
    if (!key_count) { fprintf(stderr, "loadgen: no keys in %s\n", path); exit(2); }
}

static void sleep_seconds(double s) {
    if (s <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static double cpu_seconds(struct rusage *r, int user) {
    struct timeval *tv = user ? &r->ru_utime : &r->ru_stime;
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --socket PATH --mode echo|ping|authorize|pair|redis-authorize|redis-pair\n"
            "  [--connections N] [--depth D] [--threads T] [--seconds S] [--warmup S] [--drain S]\n"
            "  [--keys FILE] [--request-bytes B] [--model M] [--estimate MICROS] [--cost MICROS]\n"
            "  [--rid-prefix P] [--sha-authorize SHA] [--sha-settle SHA] [--label L] [--seed N]\n"
            "       loadgen --record-stdin   (records nanosecond values read from stdin, prints the\n"
            "                                 histogram: how the tests check its buckets)\n");
    exit(2);
}

/* --record-stdin: the histogram alone, for the tests that compare it with HdrHistogram's. */
static int record_stdin(void) {
    hist_t *h = calloc(1, sizeof(hist_t));
    unsigned long long value;
    while (scanf("%llu", &value) == 1) hist_record(h, value);
    printf("{");
    hist_members_json(stdout, h, 0);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--record-stdin") == 0) return record_stdin();
    static struct option options[] = {
        {"socket", required_argument, 0, 's'},        {"mode", required_argument, 0, 'm'},
        {"connections", required_argument, 0, 'c'},   {"depth", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'},       {"seconds", required_argument, 0, 'S'},
        {"warmup", required_argument, 0, 'w'},        {"drain", required_argument, 0, 'D'},
        {"keys", required_argument, 0, 'k'},          {"request-bytes", required_argument, 0, 'b'},
        {"model", required_argument, 0, 'M'},         {"estimate", required_argument, 0, 'e'},
        {"cost", required_argument, 0, 'C'},          {"rid-prefix", required_argument, 0, 'r'},
        {"sha-authorize", required_argument, 0, 'A'}, {"sha-settle", required_argument, 0, 'B'},
        {"label", required_argument, 0, 'l'},         {"seed", required_argument, 0, 'x'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': cfg.socket_path = optarg; break;
        case 'm': {
            int found = 0;
            for (int i = 0; i < 6; i++)
                if (!strcmp(optarg, mode_names[i])) { cfg.mode = (enum mode)i; found = 1; }
            if (!found) usage();
            break;
        }
        case 'c': cfg.connections = atoi(optarg); break;
        case 'd': cfg.depth = atoi(optarg); break;
        case 't': cfg.threads = atoi(optarg); break;
        case 'S': cfg.seconds = atof(optarg); break;
        case 'w': cfg.warmup = atof(optarg); break;
        case 'D': cfg.drain = atof(optarg); break;
        case 'k': cfg.keys_path = optarg; break;
        case 'b': cfg.request_bytes = atoi(optarg); break;
        case 'M': cfg.model = optarg; break;
        case 'e': cfg.estimate = atoll(optarg); break;
        case 'C': cfg.cost = atoll(optarg); break;
        case 'r': cfg.rid_prefix = optarg; break;
        case 'A': cfg.sha_authorize = optarg; break;
        case 'B': cfg.sha_settle = optarg; break;
        case 'l': cfg.label = optarg; break;
        case 'x': cfg.seed = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!cfg.socket_path || cfg.connections < 1 || cfg.depth < 1 || cfg.depth > 4096 || cfg.threads < 1 ||
        cfg.seconds <= 0 || cfg.request_bytes < 18 || cfg.request_bytes > 60000)
        usage();
    if (cfg.mode >= M_AUTH && !cfg.keys_path) { fprintf(stderr, "loadgen: --keys is required for %s\n", mode_names[cfg.mode]); return 2; }
    if (is_redis() && (!cfg.sha_authorize || (cfg.mode == M_RPAIR && !cfg.sha_settle))) {
        fprintf(stderr, "loadgen: --sha-authorize (and --sha-settle for redis-pair) are required\n");
        return 2;
    }
    if (cfg.threads > cfg.connections) cfg.threads = cfg.connections;
    if (cfg.keys_path) load_keys(cfg.keys_path);
    signal(SIGPIPE, SIG_IGN);

    /* Connect everything before the clock starts. */
    conn_t *conns = calloc((size_t)cfg.connections, sizeof *conns);
    for (int i = 0; i < cfg.connections; i++) {
        conn_t *c = &conns[i];
        c->index = i;
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s", cfg.socket_path);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            fprintf(stderr, "loadgen: connect %s: %s\n", cfg.socket_path, strerror(errno));
            return 1;
        }
        c->in = malloc(IN_CAP);
        c->out = malloc(OUT_CAP);
        c->slots = calloc((size_t)cfg.depth, sizeof *c->slots);
        c->fifo = calloc((size_t)cfg.depth, sizeof *c->fifo);
    }
    worker_t *workers = calloc((size_t)cfg.threads, sizeof *workers);
    for (int t = 0; t < cfg.threads; t++) {
        worker_t *w = &workers[t];
        w->id = t;
        w->conns = calloc((size_t)cfg.connections, sizeof *w->conns);
        w->lat = calloc(1, sizeof(hist_t));
        w->auth = calloc(1, sizeof(hist_t));
        w->settle = calloc(1, sizeof(hist_t));
        w->stamp = calloc((size_t)cfg.depth * 2 * (size_t)cfg.connections + 8, sizeof *w->stamp);
        w->rng = (cfg.seed ? cfg.seed : (uint64_t)now_ns() ^ (uint64_t)getpid()) * 0x9E3779B97F4A7C15ULL + (uint64_t)t * 7919 + 1;
    }
    for (int i = 0; i < cfg.connections; i++) {
        worker_t *w = &workers[i % cfg.threads];
        w->conns[w->nconns++] = &conns[i];
    }
    for (int t = 0; t < cfg.threads; t++) pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);

    sleep_seconds(cfg.warmup);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = now_ns();
    atomic_store(&phase, PH_MEASURE);
    sleep_seconds(cfg.seconds);
    atomic_store(&phase, PH_DRAIN);
    uint64_t t1 = now_ns();
    getrusage(RUSAGE_SELF, &r1);
    uint64_t drain_deadline = t1 + (uint64_t)(cfg.drain * 1e9);
    while (atomic_load(&workers_done) < cfg.threads && now_ns() < drain_deadline) sleep_seconds(0.005);
    int drained = atomic_load(&workers_done) == cfg.threads;
    atomic_store(&phase, PH_STOP);
    for (int t = 0; t < cfg.threads; t++) pthread_join(workers[t].thread, NULL);

    hist_t *lat = calloc(1, sizeof(hist_t)), *auth = calloc(1, sizeof(hist_t)), *settle = calloc(1, sizeof(hist_t));
    uint64_t errors = 0, denied = 0, requests = 0, replies = 0, bytes_out = 0, bytes_in = 0;
    const char *first_error = "";
    for (int t = 0; t < cfg.threads; t++) {
        worker_t *w = &workers[t];
        hist_merge(lat, w->lat);
        hist_merge(auth, w->auth);
        hist_merge(settle, w->settle);
        errors += w->errors;
        denied += w->denied;
        requests += w->requests;
        replies += w->replies;
        bytes_out += w->bytes_out;
        bytes_in += w->bytes_in;
        if (!first_error[0] && w->first_error[0]) first_error = w->first_error;
    }
    double seconds = (double)(t1 - t0) / 1e9;
    double cpu_user = cpu_seconds(&r1, 1) - cpu_seconds(&r0, 1), cpu_sys = cpu_seconds(&r1, 0) - cpu_seconds(&r0, 0);
    int dead = 0;
    for (int i = 0; i < cfg.connections; i++) dead += conns[i].dead != 0;

    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"connections\":%d,\"depth\":%d,\"threads\":%d,\"seconds\":%.4f,"
           "\"warmup\":%.3f,\"completed\":%llu,",
           cfg.label, mode_names[cfg.mode], cfg.connections, cfg.depth, cfg.threads, seconds, cfg.warmup,
           (unsigned long long)lat->total);
    /* The whole request (for pairs: authorize sent -> settle answered) at the top level, each half
     * of a pair in its own object. */
    hist_members_json(stdout, lat, seconds);
    printf(",");
    if (is_pair()) {
        printf("\"authorize\":{");
        hist_members_json(stdout, auth, seconds);
        printf("},\"settle\":{");
        hist_members_json(stdout, settle, seconds);
        printf("},");
    }
    printf("\"errors\":%llu,\"denied\":%llu,\"dead_connections\":%d,\"drained\":%s,\"first_error\":\"%s\","
           "\"request_bytes_mean\":%.1f,\"reply_bytes_mean\":%.1f,\"keys\":%zu,"
           "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_pct\":%.1f}\n",
           (unsigned long long)errors, (unsigned long long)denied, dead, drained ? "true" : "false", first_error,
           requests ? (double)bytes_out / (double)requests : 0.0, replies ? (double)bytes_in / (double)replies : 0.0,
           key_count, cpu_user, cpu_sys, 100.0 * (cpu_user + cpu_sys) / seconds);
    fflush(stdout);
    return (errors || dead) ? 3 : 0;
}
