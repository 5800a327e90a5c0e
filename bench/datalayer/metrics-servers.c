/*
 * Metrics-server stand-ins for bench/datalayer, in C: the cheapest a harness can answer (one epoll loop, one
 * prepared answer, one write per request), so the bench's two cores go to the scraper being measured rather
 * than to the servers pretending to be model servers. The Node stand-ins (metrics-servers.ts) do the same job
 * at about twice the CPU per answer; run.ts compiles this with the system's `cc` and falls back to them.
 *
 * argv: body-file good hang dead. The body file holds one or more pages separated by NUL bytes: each connection
 * answers with the next page each time (cyclically; connections start at different pages), so pages whose load
 * gauges differ make every answer differ from the last, as a busy server's do. Prints the ports (good, then hung, then closed) as one line on stdout. Each
 * line read on stdin is answered with this process's CPU time in microseconds ("user system"); stdin's end
 * ends the process.
 * good: answers each request (a blank line ending a head) with a prepared answer, keep-alive: the whole page,
 * or, when the request target has `name[]` query parameters, the page restricted to those sample names as
 * Python's prometheus_client restricts it (each kept family with its HELP/TYPE lines; blank values ignored;
 * none left: the whole page). Restricted answers are built once per distinct query (for every page) and cached,
 * so an answer costs a write whichever page it is.
 * hang: accepts and never answers. dead: a port that was bound, then closed (connection refused).
 * An optional fifth argument `idle` moves this process to SCHED_IDLE (Linux): it then runs only on cycles nothing
 * else of its session wants, as servers on other machines would take none of the gateway's (stand-ins.ts says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_NONE, K_LISTEN_GOOD, K_LISTEN_HANG, K_GOOD, K_HANG, K_STDIN };

#define MAX_LINE 2048
#define MAX_CACHED 8
#define MAX_PAGES 64

struct answer {
  char *bytes;
  size_t len;
};

/* The answers to one request target, one per page. */
struct answers {
  char *query; /* NULL: the whole page */
  struct answer page[MAX_PAGES];
};

struct conn {
  unsigned char kind;
  /* Bytes of the answer still to write (a partial write waits for EPOLLOUT); answers owed after it. */
  size_t unsent;
  unsigned owed;
  /* How many bytes of "\r\n\r\n" the previous read ended with. */
  unsigned char matched;
  /* Collecting the request line (it ends at its first CR or LF). */
  unsigned char in_line;
  unsigned short line_len;
  /* What owed answers are: the answers to the last complete request (a scraper never pipelines), the next one
   * written being page[next % n_pages]; `writing` is the one being written. */
  const struct answers *ans;
  const struct answer *writing;
  unsigned next;
  char line[MAX_LINE];
};

static struct conn *conns;
static int max_fds;
static char *pages[MAX_PAGES];
static size_t page_len[MAX_PAGES];
static int n_pages;
static struct answers whole;
static struct answers cached[MAX_CACHED];
static int n_cached;
static int ep;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void watch(int fd, unsigned char kind, unsigned events) {
  if (fd >= max_fds) {
    fprintf(stderr, "fd %d over the limit %d\n", fd, max_fds);
    exit(1);
  }
  memset(&conns[fd], 0, offsetof(struct conn, line));
  conns[fd].kind = kind;
  conns[fd].in_line = 1;
  conns[fd].ans = &whole;
  conns[fd].next = (unsigned)fd; /* out of step with the other connections */
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

/* HTTP/1.1 200 with this body, keep-alive. */
static void make_answer(struct answer *a, const char *b, size_t len) {
  char head[256];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: %zu\r\n"
                   "keep-alive: timeout=60\r\n\r\n",
                   len);
  a->bytes = malloc((size_t)h + len);
  if (a->bytes == NULL) die("malloc");
  memcpy(a->bytes, head, (size_t)h);
  memcpy(a->bytes + h, b, len);
  a->len = (size_t)h + len;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent- and plus-decodes s[0..n) into out (at most n bytes); returns the decoded length. */
static size_t url_decode(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i] == '+' ? ' ' : s[i];
    }
  }
  return o;
}

/* The page restricted to the sample names listed in names (each NUL-terminated, count n). */
static void restrict_page(const char *body, size_t body_len, char **names, int n, struct answer *a) {
  char *out = malloc(body_len + 1);
  if (out == NULL) die("malloc");
  size_t o = 0;
  const char *header = NULL; /* start of the current family's comment lines */
  size_t header_len = 0;
  int header_written = 0, after_sample = 0;
  for (size_t pos = 0; pos < body_len;) {
    const char *line = body + pos;
    const char *nl = memchr(line, '\n', body_len - pos);
    size_t len = nl == NULL ? body_len - pos : (size_t)(nl - line);
    pos += len + 1;
    if (len == 0) continue;
    if (line[0] == '#') {
      if (after_sample || header == NULL) {
        header = line;
        header_len = 0;
      }
      header_len = (size_t)(line - header) + len + 1;
      header_written = 0;
      after_sample = 0;
      continue;
    }
    after_sample = 1;
    size_t nlen = 0;
    while (nlen < len && line[nlen] != '{' && line[nlen] != ' ' && line[nlen] != '\t') nlen++;
    int wanted = 0;
    for (int i = 0; i < n && !wanted; i++) wanted = strlen(names[i]) == nlen && memcmp(names[i], line, nlen) == 0;
    if (!wanted) continue;
    if (!header_written && header != NULL) {
      memcpy(out + o, header, header_len);
      o += header_len;
      header_written = 1;
    }
    memcpy(out + o, line, len);
    o += len;
    out[o++] = '\n';
  }
  make_answer(a, out, o);
  free(out);
}

/* The answer to a request line "GET <target> HTTP/1.1". */
static const struct answers *answers_for(const char *line, size_t len) {
  const char *sp = memchr(line, ' ', len);
  if (sp == NULL) return &whole;
  const char *target = sp + 1;
  const char *end = memchr(target, ' ', len - (size_t)(target - line));
  size_t tlen = end == NULL ? len - (size_t)(target - line) : (size_t)(end - target);
  const char *q = memchr(target, '?', tlen);
  if (q == NULL) return &whole;
  size_t qlen = tlen - (size_t)(q + 1 - target);
  for (int i = 0; i < n_cached; i++) {
    if (strlen(cached[i].query) == qlen && memcmp(cached[i].query, q + 1, qlen) == 0) return &cached[i];
  }
  char *names[64];
  int n = 0;
  char decoded[MAX_LINE];
  const char *p = q + 1, *qend = q + 1 + qlen;
  while (p < qend && n < 64) {
    const char *amp = memchr(p, '&', (size_t)(qend - p));
    const char *pe = amp == NULL ? qend : amp;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    if (eq != NULL) {
      size_t k = url_decode(p, (size_t)(eq - p), decoded);
      if (k == 6 && memcmp(decoded, "name[]", 6) == 0) {
        size_t v = url_decode(eq + 1, (size_t)(pe - eq - 1), decoded);
        if (v > 0) names[n++] = strndup(decoded, v);
      }
    }
    p = pe + 1;
  }
  // A full cache answers the whole page, as a server ignoring the filter would: an answer is never freed, because a
  // connection may still be writing it.
  if (n == 0 || n_cached == MAX_CACHED) {
    for (int i = 0; i < n; i++) free(names[i]);
    return &whole;
  }
  struct answers *a = &cached[n_cached++];
  a->query = strndup(q + 1, qlen);
  for (int p = 0; p < n_pages; p++) restrict_page(pages[p], page_len[p], names, n, &a->page[p]);
  for (int i = 0; i < n; i++) free(names[i]);
  return a;
}

static void drop(int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  conns[fd].kind = K_NONE;
  close(fd);
}

static int listener(unsigned short *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 512) < 0) die("listen");
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) die("getsockname");
  *port = ntohs(a.sin_port);
  return fd;
}

/* Writes what is owed; on a full socket buffer waits for EPOLLOUT. */
static void flush(int fd) {
  struct conn *c = &conns[fd];
  while (c->unsent > 0 || c->owed > 0) {
    if (c->unsent == 0) {
      c->writing = &c->ans->page[c->next++ % (unsigned)n_pages];
      c->unsent = c->writing->len;
      c->owed--;
    }
    ssize_t w = write(fd, c->writing->bytes + (c->writing->len - c->unsent), c->unsent);
    if (w < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        return;
      }
      drop(fd);
      return;
    }
    c->unsent -= (size_t)w;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void readable(int fd) {
  static char buf[16384];
  static const char end[4] = {'\r', '\n', '\r', '\n'};
  struct conn *c = &conns[fd];
  ssize_t r = read(fd, buf, sizeof buf);
  if (r == 0 || (r < 0 && errno != EAGAIN)) {
    drop(fd);
    return;
  }
  if (r < 0 || c->kind == K_HANG) return;
  unsigned owed = 0;
  unsigned char m = c->matched;
  for (ssize_t i = 0; i < r; i++) {
    if (c->in_line) {
      if (buf[i] == '\r' || buf[i] == '\n') c->in_line = 0;
      else if (c->line_len < MAX_LINE) c->line[c->line_len++] = buf[i];
    }
    m = buf[i] == end[m] ? m + 1 : (buf[i] == '\r' ? 1 : 0);
    if (m == 4) {
      owed++;
      m = 0;
      /* An answer half written stays `writing`; owed ones are answers to this request. */
      c->ans = answers_for(c->line, c->line_len);
      c->line_len = 0;
      c->in_line = 1;
    }
  }
  c->matched = m;
  if (owed == 0) return;
  int was_idle = c->unsent == 0 && c->owed == 0;
  c->owed += owed;
  if (was_idle) flush(fd);
}

static void report_cpu(void) {
  char line[256];
  ssize_t r = read(0, line, sizeof line);
  if (r <= 0) exit(0);
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  printf("%lld %lld\n", (long long)u.ru_utime.tv_sec * 1000000 + u.ru_utime.tv_usec,
         (long long)u.ru_stime.tv_sec * 1000000 + u.ru_stime.tv_usec);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s body-file good hang dead [idle]\n", argv[0]);
    return 2;
  }
  int good = atoi(argv[2]), hang = atoi(argv[3]), dead = atoi(argv[4]);
  if (argc > 5 && strcmp(argv[5], "idle") == 0) {
    struct sched_param none = {0};
    /* Lowering one's own policy needs no privilege; if it fails anyway, the run goes on at the usual priority. */
    if (sched_setscheduler(0, SCHED_IDLE, &none) != 0) perror("metrics-servers: SCHED_IDLE");
  }
  signal(SIGPIPE, SIG_IGN); /* a scraper closing mid-answer is an error return, not the end of this process */
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) die("body file");
  struct stat st;
  if (fstat(fileno(f), &st) < 0) die("stat");
  size_t body_len = (size_t)st.st_size;
  char *body = malloc(body_len + 1);
  if (body == NULL || fread(body, 1, body_len, f) != body_len) die("read body");
  fclose(f);
  body[body_len] = '\0';
  for (char *p = body; n_pages < MAX_PAGES;) {
    size_t len = strlen(p); /* up to the next NUL: a page's end */
    pages[n_pages] = p;
    page_len[n_pages] = len;
    make_answer(&whole.page[n_pages++], p, len);
    if (p + len >= body + body_len) break;
    p += len + 1;
  }

  /* Two sockets per endpoint (listener and connection) and a few spare. */
  struct rlimit lim = {.rlim_cur = (rlim_t)(3 * (good + hang + dead) + 64), .rlim_max = (rlim_t)(3 * (good + hang + dead) + 64)};
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  max_fds = (int)lim.rlim_cur;
  conns = calloc((size_t)max_fds, sizeof *conns);
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  watch(0, K_STDIN, EPOLLIN);

  unsigned short port;
  for (int i = 0; i < good; i++) {
    int fd = listener(&port);
    watch(fd, K_LISTEN_GOOD, EPOLLIN);
    printf("%s%u", i == 0 ? "" : " ", port);
  }
  for (int i = 0; i < hang; i++) {
    int fd = listener(&port);
    watch(fd, K_LISTEN_HANG, EPOLLIN);
    printf("%s%u", good + i == 0 ? "" : " ", port);
  }
  /* Closed only once all are bound, so no later bind here is handed a port meant to be dead. */
  int *closing = calloc((size_t)dead + 1, sizeof *closing);
  for (int i = 0; i < dead; i++) {
    closing[i] = listener(&port);
    printf("%s%u", good + hang + i == 0 ? "" : " ", port);
  }
  for (int i = 0; i < dead; i++) close(closing[i]);
  printf("\n");
  fflush(stdout);

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      switch (conns[fd].kind) {
        case K_STDIN:
          report_cpu();
          break;
        case K_LISTEN_GOOD:
        case K_LISTEN_HANG: {
          int c;
          while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            watch(c, conns[fd].kind == K_LISTEN_GOOD ? K_GOOD : K_HANG, EPOLLIN);
          }
          break;
        }
        case K_GOOD:
        case K_HANG:
          if (events[i].events & EPOLLOUT) flush(fd);
          if (conns[fd].kind != K_NONE && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(fd);
          break;
        default:
          break;
      }
    }
  }
}
