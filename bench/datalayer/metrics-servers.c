/*
 * Metrics-server stand-ins for bench/datalayer, in C: the cheapest a harness can answer (one epoll loop, one
 * prepared answer, one write per request), so the bench's two cores go to the scraper being measured rather
 * than to the servers pretending to be model servers. The Node stand-ins (metrics-servers.ts) do the same job
 * at about twice the CPU per answer; run.ts compiles this with the system's `cc` and falls back to them.
 *
 * argv: answer-file good hang dead. Prints the ports (good, then hung, then closed) as one line on stdout. Each
 * line read on stdin is answered with this process's CPU time in microseconds ("user system"); stdin's end
 * ends the process.
 * good: answers each request (a blank line ending a head) with the whole prepared answer, keep-alive.
 * hang: accepts and never answers. dead: a port that was bound, then closed (connection refused).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind { K_NONE, K_LISTEN_GOOD, K_LISTEN_HANG, K_GOOD, K_HANG, K_STDIN };

struct conn {
  unsigned char kind;
  /* Bytes of the answer still to write (a partial write waits for EPOLLOUT); answers owed after it. */
  size_t unsent;
  unsigned owed;
  /* How many bytes of "\r\n\r\n" the previous read ended with. */
  unsigned char matched;
};

static struct conn *conns;
static int max_fds;
static char *answer;
static size_t answer_len;
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
  memset(&conns[fd], 0, sizeof conns[fd]);
  conns[fd].kind = kind;
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
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
      c->unsent = answer_len;
      c->owed--;
    }
    ssize_t w = write(fd, answer + (answer_len - c->unsent), c->unsent);
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
    m = buf[i] == end[m] ? m + 1 : (buf[i] == '\r' ? 1 : 0);
    if (m == 4) {
      owed++;
      m = 0;
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
    fprintf(stderr, "usage: %s answer-file good hang dead\n", argv[0]);
    return 2;
  }
  int good = atoi(argv[2]), hang = atoi(argv[3]), dead = atoi(argv[4]);
  signal(SIGPIPE, SIG_IGN); /* a scraper closing mid-answer is an error return, not the end of this process */
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) die("answer file");
  struct stat st;
  if (fstat(fileno(f), &st) < 0) die("stat");
  answer_len = (size_t)st.st_size;
  answer = malloc(answer_len);
  if (answer == NULL || fread(answer, 1, answer_len, f) != answer_len) die("read answer");
  fclose(f);

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
