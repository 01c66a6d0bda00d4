/* bench/roundtrip.c: the ceiling of isolated batch on this machine.

   An event through a container costs at least one loopback TCP round
   trip between two processes (the supervisor's answer to `next', the
   runtime's response pipelined with its next `next'), and the work of
   the event itself.  This times N such round trips of messages the size
   of the bench's, between a server and runtimes that do nothing else
   but, optionally, spin for WORK microseconds per event in place of
   running a handler:

     blocking   one runtime, no work, both sides blocking in read(2)
     polling    one runtime, no work, both sides polling for up to 50 us
                first, as guile-lambda's two sides do (src/core/spin.h)
     one        one runtime doing WORK per event
     two        two runtimes doing WORK per event, served by one server
                through epoll, as `batch --concurrency 2' is

   "one" and "two" are the fastest of every way of waiting tried: block,
   poll, or poll and give the CPU away between tries (sched_yield), on
   each side.  With WORK the least a runtime must do per event, no
   supervisor and runtimes over the Runtime API can run more events per
   second through one or two containers than these print.

     bench/roundtrip [N [WORK]]   N round trips in all (default 20000),
                                  WORK microseconds (default 0)

   It prints four lines, "blocking US", "polling US", "one US" and "two
   US": microseconds per round trip, that is per event. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ASK 265                 /* a response and a `next', pipelined */
#define ANSWER 380              /* a 202 and the next event */
#define POLL_NS 50000

/* How a side waits for the other. */
enum wait { WAIT_BLOCK, WAIT_POLL, WAIT_YIELD };

static double
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
die (const char *what)
{
  fprintf (stderr, "roundtrip: %s: %s\n", what, strerror (errno));
  exit (1);
}

/* Read LEN bytes from FD, waiting as WAIT says. */
static void
read_all (int fd, char *buf, size_t len, enum wait wait)
{
  double until = now_ns () + POLL_NS;
  size_t got = 0;
  ssize_t n;

  while (got < len)
    {
      int flags = wait != WAIT_BLOCK && now_ns () < until ? MSG_DONTWAIT : 0;

      n = recv (fd, buf + got, len - got, flags);
      if (n > 0)
        got += (size_t) n;
      else if (n == 0)
        die ("the peer closed");
      else if (errno != EAGAIN && errno != EINTR)
        die ("recv");
      else if (wait == WAIT_YIELD)
        sched_yield ();
    }
}

static void
write_all (int fd, const char *buf, size_t len)
{
  if (send (fd, buf, len, 0) != (ssize_t) len)
    die ("send");
}

static void
nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The handler's part of an event: the CPU busy for NS. */
static void
work (double ns)
{
  double until;

  if (ns <= 0)
    return;
  until = now_ns () + ns;
  while (now_ns () < until)
    ;
}

static int
listener_open (struct sockaddr_in *addr)
{
  socklen_t len = sizeof *addr;
  int listener = socket (AF_INET, SOCK_STREAM, 0);

  memset (addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (listener < 0 || bind (listener, (struct sockaddr *) addr, len) != 0
      || listen (listener, 2) != 0
      || getsockname (listener, (struct sockaddr *) addr, &len) != 0)
    die ("listen on loopback");
  return listener;
}

static int
listener_accept (int listener)
{
  int fd = accept (listener, NULL, NULL);

  if (fd < 0)
    die ("accept");
  nodelay (fd);
  return fd;
}

/* A runtime in a child process: asks, reads the answer, works WORK_NS,
   asks again, N times. */
static pid_t
runtime_start (const struct sockaddr_in *addr, long n, enum wait wait,
               double work_ns)
{
  char buf[ANSWER] = { 0 };
  pid_t pid;
  int fd;
  long i;

  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    die ("fork");
  if (pid > 0)
    return pid;
  fd = socket (AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect (fd, (const struct sockaddr *) addr,
                         sizeof *addr) != 0)
    die ("connect");
  nodelay (fd);
  for (i = 0; i < n; i++)
    {
      write_all (fd, buf, ASK);
      read_all (fd, buf, ANSWER, wait);
      work (work_ns);
    }
  _exit (0);
}

static void
runtime_wait (pid_t pid)
{
  int status;

  if (waitpid (pid, &status, 0) != pid || status != 0)
    die ("the runtime side failed");
}

/* Microseconds per round trip over N round trips with one runtime. */
static double
measure_one (long n, enum wait wait, double work_ns)
{
  struct sockaddr_in addr;
  char buf[ANSWER] = { 0 };
  int listener, server;
  double t0, t1;
  pid_t pid;
  long i;

  listener = listener_open (&addr);
  pid = runtime_start (&addr, n, wait, work_ns);
  server = listener_accept (listener);
  t0 = now_ns ();
  for (i = 0; i < n; i++)
    {
      read_all (server, buf, ASK, wait);
      write_all (server, buf, ANSWER);
    }
  runtime_wait (pid);
  t1 = now_ns ();
  close (server);
  close (listener);
  return (t1 - t0) / 1e3 / (double) n;
}

/* Wait for a runtime's question, as WAIT says. */
static int
questions_wait (int ep, struct epoll_event *ev, int max, enum wait wait)
{
  double until = now_ns () + POLL_NS;
  int m = 0;

  if (wait != WAIT_BLOCK)
    while ((m = epoll_wait (ep, ev, max, 0)) == 0 && now_ns () < until)
      if (wait == WAIT_YIELD)
        sched_yield ();
  while (m <= 0)
    {
      m = epoll_wait (ep, ev, max, -1);
      if (m < 0 && errno != EINTR)
        die ("epoll_wait");
    }
  return m;
}

/* Microseconds per round trip over N round trips shared by two
   runtimes, the server waiting as SERVER says and the runtimes as
   RUNTIME says. */
static double
measure_two (long n, enum wait server, enum wait runtime, double work_ns)
{
  struct sockaddr_in addr;
  struct epoll_event ev[2];
  char buf[ANSWER] = { 0 };
  long each = n / 2, answered[2] = { 0, 0 }, done = 0;
  int listener, ep, fds[2], k, m;
  double t0, t1;
  pid_t pids[2];

  listener = listener_open (&addr);
  ep = epoll_create1 (0);
  if (ep < 0)
    die ("epoll_create1");
  for (k = 0; k < 2; k++)
    pids[k] = runtime_start (&addr, each, runtime, work_ns);
  for (k = 0; k < 2; k++)
    {
      fds[k] = listener_accept (listener);
      ev[0].events = EPOLLIN;
      ev[0].data.u32 = (uint32_t) k;
      if (epoll_ctl (ep, EPOLL_CTL_ADD, fds[k], &ev[0]) != 0)
        die ("epoll_ctl");
    }
  t0 = now_ns ();
  while (done < 2 * each)
    {
      m = questions_wait (ep, ev, 2, server);
      for (k = 0; k < m; k++)
        {
          int r = (int) ev[k].data.u32;

          read_all (fds[r], buf, ASK, WAIT_BLOCK);
          write_all (fds[r], buf, ANSWER);
          done++;
          /* Its last question: its end of file must not wake us. */
          if (++answered[r] == each)
            epoll_ctl (ep, EPOLL_CTL_DEL, fds[r], NULL);
        }
    }
  for (k = 0; k < 2; k++)
    runtime_wait (pids[k]);
  t1 = now_ns ();
  for (k = 0; k < 2; k++)
    close (fds[k]);
  close (ep);
  close (listener);
  return (t1 - t0) / 1e3 / (double) done;
}

static double
fastest (double a, double b)
{
  return a < b ? a : b;
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 20000;
  double work_us = argc > 2 ? atof (argv[2]) : 0;
  double one, two = 0;
  enum wait server, runtime;

  if (n < 2 || work_us < 0 || argc > 3)
    {
      fprintf (stderr, "usage: roundtrip [N [WORK]]: N round trips (at "
               "least 2), WORK microseconds per event (0 or more)\n");
      return 2;
    }
  printf ("blocking %.2f\n", measure_one (n, WAIT_BLOCK, 0));
  printf ("polling %.2f\n", measure_one (n, WAIT_POLL, 0));
  one = fastest (measure_one (n, WAIT_POLL, work_us * 1e3),
                 measure_one (n, WAIT_YIELD, work_us * 1e3));
  printf ("one %.2f\n", one);
  /* A runtime that blocks never does better than one that polls
     first. */
  for (server = WAIT_BLOCK; server <= WAIT_YIELD; server++)
    for (runtime = WAIT_POLL; runtime <= WAIT_YIELD; runtime++)
      {
        double t = measure_two (n, server, runtime, work_us * 1e3);

        two = two == 0 ? t : fastest (two, t);
      }
  printf ("two %.2f\n", two);
  return 0;
}
