// upstream.c - the benchmark's "application": a tiny single-threaded epoll HTTP/1.1 server that
// answers every request with `200 ok` (Content-Length 2) and keeps connections alive.
//
// Why not nginx: the upstream must be identical on every machine and for every case (the baseline
// included), cost as little CPU as possible (it shares a core with proxy B) and need nothing
// installed. This is ~150 lines with no dependencies, built with the machine's gcc at run time.
//
// Usage: upstream [-a ADDR] [-p PORT[,PORT...]]
// Defaults come from the environment `weft up` gives a workload instance: WEFT_LISTEN_ADDR (else
// 127.0.0.1) and WEFT_PORTS (else PORT, else 18080). Port 0 binds an ephemeral port. Prints
// `listening ADDR:PORT` per bound port on stdout, then serves until SIGTERM/SIGINT.
// Handles pipelined requests and request bodies with Content-Length; `Connection: close` is honoured.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 65536
#define MAXLISTEN 16

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
static const char RESP_CLOSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

typedef struct {
  int fd;
  size_t len;
  size_t skip;  // body bytes still to discard
  char buf[BUFSZ];
} conn_t;

static volatile sig_atomic_t stop = 0;
static void on_sig(int s) {
  (void)s;
  stop = 1;
}

static int listeners[MAXLISTEN], nlisten = 0;

static int listen_on(const char *addr, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
    fprintf(stderr, "upstream: bad address %s\n", addr);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
    fprintf(stderr, "upstream: cannot listen on %s:%d: %s\n", addr, port, strerror(errno));
    exit(2);
  }
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  printf("listening %s:%d\n", addr, ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}

static void close_conn(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

// Consumes complete requests in c->buf; returns -1 when the connection must close.
static int serve(conn_t *c) {
  size_t off = 0;
  for (;;) {
    if (c->skip) {
      size_t take = c->len - off < c->skip ? c->len - off : c->skip;
      off += take;
      c->skip -= take;
      if (c->skip) break;
    }
    char *h = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
    if (!h) break;
    size_t hdrend = (size_t)(h - c->buf) + 4;
    long cl = 0;
    int close_after = 0;
    for (char *p = c->buf + off; p < h;) {
      char *e = memmem(p, (size_t)(h - p) + 2, "\r\n", 2);
      if (!e) break;
      size_t ll = (size_t)(e - p);
      if (ll > 15 && strncasecmp(p, "content-length:", 15) == 0) cl = atol(p + 15);
      if (ll > 11 && strncasecmp(p, "connection:", 11) == 0 && memmem(p, ll, "close", 5)) close_after = 1;
      if (ll > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0) close_after = 1;  // not used by the bench
      p = e + 2;
    }
    off = hdrend;
    if (cl > 0) c->skip = (size_t)cl;
    const char *r = close_after ? RESP_CLOSE : RESP;
    size_t rl = close_after ? sizeof RESP_CLOSE - 1 : sizeof RESP - 1;
    if (write(c->fd, r, rl) != (ssize_t)rl) return -1;
    if (close_after) return -1;
  }
  if (off > 0) {
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
  }
  if (c->len == BUFSZ) return -1;  // a header larger than the buffer: not a benchmark request
  return 0;
}

int main(int argc, char **argv) {
  const char *addr = getenv("WEFT_LISTEN_ADDR");
  const char *ports = getenv("WEFT_PORTS");
  if (!ports || !*ports) ports = getenv("PORT");
  if (!addr || !*addr) addr = "127.0.0.1";
  if (!ports || !*ports) ports = "18080";
  int o;
  while ((o = getopt(argc, argv, "a:p:")) != -1) {
    if (o == 'a') addr = optarg;
    else if (o == 'p') ports = optarg;
    else {
      fprintf(stderr, "usage: upstream [-a ADDR] [-p PORT[,PORT...]]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_sig};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int ep = epoll_create1(0);
  char *list = strdup(ports);
  for (char *tok = strtok(list, ","); tok && nlisten < MAXLISTEN; tok = strtok(NULL, ",")) {
    int port = atoi(tok);
    int dup = 0;
    if (port < 0 || port > 65535) continue;
    for (int i = 0; i < nlisten; i++) {
      struct sockaddr_in a;
      socklen_t al = sizeof a;
      getsockname(listeners[i], (struct sockaddr *)&a, &al);
      if (port != 0 && ntohs(a.sin_port) == port) dup = 1;
    }
    if (dup) continue;
    int fd = listen_on(addr, port);
    listeners[nlisten++] = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    ev.data.u64 = (uint64_t)fd;  // listeners are tagged by a small integer, connections by a pointer
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  free(list);
  if (nlisten == 0) {
    fprintf(stderr, "upstream: no port to listen on\n");
    return 2;
  }
  struct epoll_event evs[256];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, 500);
    for (int k = 0; k < n; k++) {
      uint64_t tag = evs[k].data.u64;
      if (tag < 65536) {  // a listener
        for (int j = 0; j < 256; j++) {
          int cfd = accept4((int)tag, NULL, NULL, SOCK_NONBLOCK);
          if (cfd < 0) break;
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *c = calloc(1, sizeof *c);
          if (!c) {
            close(cfd);
            continue;
          }
          c->fd = cfd;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
        }
        continue;
      }
      conn_t *c = evs[k].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
      if (r > 0) {
        c->len += (size_t)r;
        if (serve(c) < 0) close_conn(ep, c);
      } else if (r == 0 || errno != EAGAIN) {
        close_conn(ep, c);
      }
    }
  }
  return 0;
}
