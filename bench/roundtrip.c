/* bench/roundtrip.c: the ceiling of isolated batch on this machine.

   An event through a container costs at least one loopback TCP round
   trip between two processes (the supervisor's answer to `next', the
   runtime's response pipelined with its next `next').  This times N
   such round trips of messages the size of the bench's, twice: with
   both sides blocking in read(2), and with both polling for up to 50
   us first, as guile-lambda's two sides do (src/core/spin.h).  Nothing
   else is done per round trip, so no runtime over the Runtime API can
   run more events per second through one container than this prints.

     bench/roundtrip [N]     N round trips each way (default 20000)

   It prints two lines, "blocking US" and "polling US": microseconds per
   round trip. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ASK 265                 /* a response and a `next', pipelined */
#define ANSWER 380              /* a 202 and the next event */
#define POLL_NS 50000

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

/* Read LEN bytes from FD, polling first when POLL is set. */
static void
read_all (int fd, char *buf, size_t len, int poll)
{
  double until = now_ns () + POLL_NS;
  size_t got = 0;
  ssize_t n;

  while (got < len)
    {
      int flags = poll && now_ns () < until ? MSG_DONTWAIT : 0;

      n = recv (fd, buf + got, len - got, flags);
      if (n > 0)
        got += (size_t) n;
      else if (n == 0)
        die ("the peer closed");
      else if (errno != EAGAIN && errno != EINTR)
        die ("recv");
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

/* Microseconds per round trip over N round trips. */
static double
measure (long n, int poll)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  char buf[ANSWER] = { 0 };
  int listener, server, status;
  double t0, t1;
  pid_t pid;
  long i;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  listener = socket (AF_INET, SOCK_STREAM, 0);
  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, len) != 0
      || listen (listener, 1) != 0
      || getsockname (listener, (struct sockaddr *) &addr, &len) != 0)
    die ("listen on loopback");
  pid = fork ();
  if (pid < 0)
    die ("fork");
  if (pid == 0)
    {
      /* The runtime: asks, reads the answer, asks again. */
      int fd = socket (AF_INET, SOCK_STREAM, 0);

      if (fd < 0 || connect (fd, (struct sockaddr *) &addr, len) != 0)
        die ("connect");
      nodelay (fd);
      for (i = 0; i < n; i++)
        {
          write_all (fd, buf, ASK);
          read_all (fd, buf, ANSWER, poll);
        }
      _exit (0);
    }
  server = accept (listener, NULL, NULL);
  if (server < 0)
    die ("accept");
  nodelay (server);
  t0 = now_ns ();
  for (i = 0; i < n; i++)
    {
      read_all (server, buf, ASK, poll);
      write_all (server, buf, ANSWER);
    }
  if (waitpid (pid, &status, 0) != pid || status != 0)
    die ("the runtime side failed");
  t1 = now_ns ();
  close (server);
  close (listener);
  return (t1 - t0) / 1e3 / n;
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 20000;

  if (n <= 0)
    {
      fprintf (stderr, "usage: roundtrip [N]: N is a positive count\n");
      return 2;
    }
  printf ("blocking %.2f\n", measure (n, 0));
  printf ("polling %.2f\n", measure (n, 1));
  return 0;
}
