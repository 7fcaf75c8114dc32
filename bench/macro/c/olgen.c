// olgen.c - open-loop (and closed-loop) HTTP/1.1 load generator for the loopback data-path benchmark.
//
// Why it exists: wrk is closed loop; `hey -q` is a per-worker rate limit (coordinated omission);
// `h2load --rate` paces connections, not requests; wrk2 is not packaged. This sends request i at
// t0 + i/rate whatever the responses do, over a fixed pool of keep-alive connections; when every
// connection is busy the request waits in a FIFO and its latency still counts from its intended
// send time (no coordinated omission, as wrk2/HdrHistogram define it). With -m it runs closed loop
// instead (every connection sends its next request as soon as the previous answer is complete) to
// find the maximum throughput, so wrk is not needed.
//
// Derived from the team's peer-bench tools/olgen.c; adds a target host, an HDR-style log-linear
// histogram (128 sub-buckets per power of two: <= 0.8 % relative error, bounded memory whatever the
// run length; the buckets are printed so the harness can merge and recompute percentiles), the
// closed-loop mode and the generator's own CPU time (to show when the generator is the ceiling).
//
// Usage: olgen [-h HOST] -p PORT (-r RATE | -m) [-c CONNS] [-d SECONDS] [-w WARMUP_S] [-P PATH]
//              [-A AUTHORITY] [-L FILE]
// -L FILE writes one line per recorded request, "<intended send µs from the start of recording>
// <latency µs> <round trip µs>", to find out whether a tail is a few stalls or spread evenly; its
// first line, "# start <CLOCK_MONOTONIC µs>", lines it up with other traces (V8's --cpu-prof uses the
// same clock).
// HOST must be an IPv4 address; the harness only ever passes loopback addresses.
// Prints one JSON object on stdout. Latencies in microseconds.
//   lat_* : from the intended send time to the last byte of the response (open loop: the headline)
//   svc_* : from the actual write() to the last byte (pure round trip; equal to lat_* with -m)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 16384
// Log-linear histogram over nanoseconds: values < 2^(S+1) are exact; above, each power of two is
// split into 2^S buckets. Index i < 2^(S+1) holds value i; otherwise e = i/2^S - 1, m = i - e*2^S,
// bucket = [m << e, ((m + 1) << e) - 1]. Mirrored by bench/macro/histogram.ts.
#define SUB_BITS 7
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((int)((64 - SUB_BITS) * SUB + SUB))

typedef struct {
  uint64_t counts[NBUCKETS];
  uint64_t n, min, max;
  double sum;
} hist_t;

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int e = 63 - __builtin_clzll(v) - SUB_BITS;
  uint64_t m = v >> e;
  return e * (int)SUB + (int)m;
}
static uint64_t bucket_high(int i) {
  if (i < (int)(2 * SUB)) return (uint64_t)i;
  int e = i / (int)SUB - 1;
  uint64_t m = (uint64_t)(i - e * (int)SUB);
  return ((m + 1) << e) - 1;
}
static void hist_add(hist_t *h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  if (h->n == 0 || v < h->min) h->min = v;
  if (v > h->max) h->max = v;
  h->n++;
  h->sum += (double)v;
}
// HdrHistogram's getValueAtPercentile: the highest value equivalent to the bucket holding the
// ceil(p/100 * n)-th value, capped at the exact maximum.
static uint64_t hist_pct(const hist_t *h, double p) {
  if (!h->n) return 0;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)h->n + 0.999999999);
  if (rank < 1) rank = 1;
  uint64_t acc = 0;
  for (int i = 0; i < NBUCKETS; i++) {
    acc += h->counts[i];
    if (acc >= rank) {
      uint64_t v = bucket_high(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}
static void hist_print(const char *name, const hist_t *h) {
  printf("\"%s\":{\"unit\":\"ns\",\"subBucketBits\":%d,\"count\":%llu,\"min\":%llu,\"max\":%llu,\"mean\":%.0f,"
         "\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"buckets\":[",
         name, SUB_BITS, (unsigned long long)h->n, (unsigned long long)h->min, (unsigned long long)h->max,
         h->n ? h->sum / (double)h->n : 0.0, (unsigned long long)hist_pct(h, 50),
         (unsigned long long)hist_pct(h, 90), (unsigned long long)hist_pct(h, 99),
         (unsigned long long)hist_pct(h, 99.9));
  int first = 1;
  for (int i = 0; i < NBUCKETS; i++) {
    if (!h->counts[i]) continue;
    printf("%s[%d,%llu]", first ? "" : ",", i, (unsigned long long)h->counts[i]);
    first = 0;
  }
  printf("]}");
}

typedef struct {
  int fd, connected, busy;
  uint64_t intended, sent;
  size_t len;
  char buf[BUFSZ];
} conn_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *host = "127.0.0.1";
static const char *authority = "upstream.mesh.local";
static int port = 0, conns = 16, closed_loop = 0;
static double rate = 0, dur = 10, warm = 0;
static const char *path = "/";
static char req[1024];
static size_t reqlen;
static int ep;
static conn_t *cs;
static int *freestk, nfree;
static uint64_t *q;  // FIFO of intended send times (open loop)
static size_t qcap, qh, qt;
static hist_t lat, svc;
static uint64_t record_from, record_until, errors, non2xx, completed_total, sent_total, reconnects,
    queued_ever, max_late;
static struct sockaddr_in target;
static FILE *reqlog;

static void die(const char *m) {
  perror(m);
  exit(2);
}

static void open_conn(int i) {
  conn_t *c = &cs[i];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) die("connect");
  c->fd = fd;
  c->connected = 0;
  c->busy = 0;
  c->len = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void reconnect(int i) {
  epoll_ctl(ep, EPOLL_CTL_DEL, cs[i].fd, NULL);
  close(cs[i].fd);
  reconnects++;
  open_conn(i);
}

static void send_on(int i, uint64_t intended) {
  conn_t *c = &cs[i];
  c->intended = intended;
  c->sent = now_ns();
  c->busy = 1;
  c->len = 0;
  ssize_t w = write(c->fd, req, reqlen);
  if (w != (ssize_t)reqlen) {
    errors++;
    c->busy = 0;
    reconnect(i);
    return;
  }
  sent_total++;
}

static void dispatch(uint64_t now, uint64_t end) {
  if (closed_loop) {
    while (nfree > 0 && now < end) send_on(freestk[--nfree], now_ns());
    return;
  }
  while (qh != qt && nfree > 0) {
    int i = freestk[--nfree];
    uint64_t t = q[qh];
    qh = (qh + 1) % qcap;
    send_on(i, t);
  }
}

static void record(conn_t *c, uint64_t done) {
  completed_total++;
  if (c->intended < record_from || c->intended >= record_until) return;
  hist_add(&lat, done - c->intended);
  hist_add(&svc, done - c->sent);
  if (reqlog)
    fprintf(reqlog, "%llu %llu %llu\n", (unsigned long long)((c->intended - record_from) / 1000),
            (unsigned long long)((done - c->intended) / 1000), (unsigned long long)((done - c->sent) / 1000));
}

// Returns 1 when a complete response is in the buffer (Content-Length, chunked or no body).
static int parse_done(conn_t *c) {
  char *h = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!h) return 0;
  size_t hdrlen = (size_t)(h - c->buf) + 4;
  long cl = -1;
  int chunked = 0;
  for (char *p = c->buf; p < h;) {
    char *e = memmem(p, (size_t)(h - p) + 2, "\r\n", 2);
    if (!e) break;
    if ((size_t)(e - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) cl = atol(p + 15);
    if ((size_t)(e - p) > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0 &&
        memmem(p, (size_t)(e - p), "chunked", 7))
      chunked = 1;
    p = e + 2;
  }
  int done;
  if (cl >= 0)
    done = c->len >= hdrlen + (size_t)cl;
  else if (chunked)
    done = memmem(c->buf + hdrlen - 2, c->len - hdrlen + 2, "\r\n0\r\n\r\n", 7) != NULL;
  else
    done = 1;
  if (done && c->len >= 12) {
    int code = atoi(c->buf + 9);
    if (code < 200 || code > 299) non2xx++;
  }
  return done;
}

int main(int argc, char **argv) {
  int o;
  while ((o = getopt(argc, argv, "h:p:r:mc:d:w:P:A:L:")) != -1) {
    switch (o) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'm': closed_loop = 1; break;
      case 'c': conns = atoi(optarg); break;
      case 'd': dur = atof(optarg); break;
      case 'w': warm = atof(optarg); break;
      case 'P': path = optarg; break;
      case 'A': authority = optarg; break;
      case 'L':
        reqlog = fopen(optarg, "w");
        if (!reqlog) die(optarg);
        break;
      default:
        fprintf(stderr, "usage: olgen [-h HOST] -p PORT (-r RATE | -m) [-c CONNS] [-d S] [-w S] [-P PATH] [-A HOST]\n");
        return 2;
    }
  }
  if (port <= 0 || port > 65535 || conns <= 0 || conns > 100000 || dur <= 0 || dur > 86400 || warm < 0 ||
      (!closed_loop && (rate <= 0 || rate > 10000000))) {
    fprintf(stderr, "olgen: bad arguments (need -p PORT and -r RATE or -m)\n");
    return 2;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
    fprintf(stderr, "olgen: -h must be an IPv4 address, got %s\n", host);
    return 2;
  }
  reqlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: olgen\r\n\r\n", path,
                            authority);

  ep = epoll_create1(0);
  cs = calloc((size_t)conns, sizeof *cs);
  freestk = calloc((size_t)conns, sizeof *freestk);
  qcap = closed_loop ? 16 : (size_t)(rate * (dur + warm)) + 16;
  q = calloc(qcap, sizeof *q);
  if (!cs || !freestk || !q) die("calloc");
  for (int i = 0; i < conns; i++) open_conn(i);

  // Wait (max 3 s) for every connection before starting the clock.
  uint64_t cdl = now_ns() + 3000000000ull;
  struct epoll_event evs[256];
  int up = 0;
  while (up < conns && now_ns() < cdl) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int k = 0; k < n; k++) {
      conn_t *c = &cs[evs[k].data.u32];
      if (!c->connected && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
          fprintf(stderr, "olgen: connect to %s:%d failed: %s\n", host, port, strerror(err));
          return 3;
        }
        c->connected = 1;
        up++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[k].data.u32};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        freestk[nfree++] = (int)evs[k].data.u32;
      }
    }
  }
  if (up < conns) {
    fprintf(stderr, "olgen: only %d/%d connections up to %s:%d\n", up, conns, host, port);
    return 3;
  }

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  const double period = closed_loop ? 0 : 1e9 / rate;
  const uint64_t t0 = now_ns() + 1000000ull;
  record_from = t0 + (uint64_t)(warm * 1e9);
  if (reqlog) fprintf(reqlog, "# start %llu\n", (unsigned long long)(record_from / 1000));
  const uint64_t end = t0 + (uint64_t)((warm + dur) * 1e9);
  record_until = end;
  const uint64_t hard_end = end + 3000000000ull;  // stragglers are given up after 3 s
  uint64_t next_i = 0;
  uint64_t loop_guard = 0;

  for (;;) {
    if (++loop_guard == 0) break;  // unreachable in practice; keeps the loop formally bounded
    if (!closed_loop) {
      uint64_t nt = t0 + (uint64_t)((double)next_i * period);
      if (nt < end) {
        struct itimerspec its = {0};
        its.it_value.tv_sec = (time_t)(nt / 1000000000ull);
        its.it_value.tv_nsec = (long)(nt % 1000000000ull);
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      }
    }
    int n = epoll_wait(ep, evs, 256, closed_loop ? 10 : 50);
    for (int k = 0; k < n; k++) {
      uint32_t id = evs[k].data.u32;
      if (id == 0xffffffffu) {
        uint64_t x;
        (void)!read(tfd, &x, sizeof x);
        continue;
      }
      conn_t *c = &cs[id];
      if (!c->connected) {  // reconnect in progress
        if (evs[k].events & (EPOLLERR | EPOLLHUP)) {
          if (now_ns() < hard_end) reconnect((int)id);
          continue;
        }
        if (evs[k].events & EPOLLOUT) {
          c->connected = 1;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = id};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          freestk[nfree++] = (int)id;
        }
        continue;
      }
      ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
      if (r > 0) {
        c->len += (size_t)r;
        if (c->busy && parse_done(c)) {
          record(c, now_ns());
          c->busy = 0;
          c->len = 0;
          freestk[nfree++] = (int)id;
        } else if (c->len >= BUFSZ) {
          errors++;
          c->busy = 0;
          reconnect((int)id);
        }
      } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
        if (c->busy) errors++;
        reconnect((int)id);
      }
    }
    uint64_t now = now_ns();
    if (!closed_loop) {
      for (;;) {
        uint64_t t = t0 + (uint64_t)((double)next_i * period);
        if (t > now || t >= end) break;
        if (now - t > max_late) max_late = now - t;
        if (nfree == 0) queued_ever++;
        q[qt] = t;
        qt = (qt + 1) % qcap;
        next_i++;
      }
    }
    if (closed_loop && now < t0) continue;
    dispatch(now, end);
    if (now >= end) {
      int busy = 0;
      for (int i = 0; i < conns; i++) busy += cs[i].busy;
      if ((busy == 0 && qh == qt) || now >= hard_end) break;
    }
  }
  getrusage(RUSAGE_SELF, &ru1);
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  size_t backlog = (qt + qcap - qh) % qcap;
  int inflight = 0;
  for (int i = 0; i < conns; i++) inflight += cs[i].busy;
  printf("{\"mode\":\"%s\",\"host\":\"%s\",\"port\":%d,\"target_rate\":%.0f,\"conns\":%d,\"duration_s\":%.3f,"
         "\"warmup_s\":%.3f,\"scheduled\":%llu,\"sent\":%llu,\"completed\":%llu,\"recorded\":%llu,"
         "\"achieved_rps\":%.1f,\"errors\":%llu,\"non2xx\":%llu,\"reconnects\":%llu,\"unfinished\":%zu,"
         "\"queued_events\":%llu,\"max_timer_late_us\":%llu,\"gen_cpu_s\":%.3f,",
         closed_loop ? "closed" : "open", host, port, closed_loop ? 0.0 : rate, conns, dur, warm,
         (unsigned long long)(closed_loop ? sent_total : next_i), (unsigned long long)sent_total,
         (unsigned long long)completed_total, (unsigned long long)lat.n, (double)lat.n / dur,
         (unsigned long long)errors, (unsigned long long)non2xx, (unsigned long long)reconnects,
         backlog + (size_t)inflight, (unsigned long long)queued_ever, (unsigned long long)(max_late / 1000), cpu);
  hist_print("lat", &lat);
  printf(",");
  hist_print("svc", &svc);
  printf("}\n");
  if (reqlog) fclose(reqlog);
  return 0;
}
