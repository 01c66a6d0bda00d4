/* watchdog.c: one thread per container that sleeps until the current
   invocation's deadline.  It is a Guile thread because interrupting
   Scheme code means queuing an async for the loop thread; it leaves
   Guile mode while it sleeps so that it never holds up the collector.

   Who owns what: `lock' guards the arming (armed, deadline_ns,
   generation).  The loop thread arms and disarms; the watchdog thread
   only reads.  ops.expire runs with the lock held, after the watchdog
   has checked that the arming it woke for is still current: so once
   gl_watchdog_disarm returns, no interrupt of that arming can reach
   the loop thread, and a timeout can never leak into the next
   invocation or into a read of the next event.  ops.hard_stop runs
   without the lock (it may take long, and never returns unless the
   loop thread has reported the invocation itself meanwhile). */
#include "core/watchdog.h"
#include "core/context.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <libguile.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static struct gl_watchdog_ops ops;
static int armed;
static uint64_t deadline_ns;
static uint64_t generation;     /* bumped by every arm and disarm */
static uint64_t sleeping_until; /* 0: not sleeping; UINT64_MAX: no deadline */
static pthread_cond_t up;       /* signalled once the thread runs Guile */
static int running;

static void
timespec_from_ns (struct timespec *ts, uint64_t ns)
{
  ts->tv_sec = (time_t) (ns / 1000000000u);
  ts->tv_nsec = (long) (ns % 1000000000u);
}

/* Wait, outside Guile, until DEADLINE (0: forever) or a change. */
struct wait_args {
  uint64_t until;
};

static void *
wait_locked (void *data)
{
  struct wait_args *w = data;
  struct timespec ts;

  if (w->until == 0)
    pthread_cond_wait (&changed, &lock);
  else
    {
      timespec_from_ns (&ts, w->until);
      pthread_cond_timedwait (&changed, &lock, &ts);
    }
  return NULL;
}

static void
wait_until (uint64_t until)
{
  struct wait_args w = { until };

  sleeping_until = until ? until : UINT64_MAX;
  scm_without_guile (wait_locked, &w);
  sleeping_until = 0;
}

static void *
watchdog_main (void *unused)
{
  uint64_t gen;

  pthread_mutex_lock (&lock);
  running = 1;
  pthread_cond_signal (&up);
  for (;;)
    {
      if (!armed)
        {
          wait_until (0);
          continue;
        }
      if (gl_now_ns () < deadline_ns)
        {
          wait_until (deadline_ns);
          continue;
        }
      gen = generation;
      ops.expire ();
      while (armed && generation == gen
             && gl_now_ns () < deadline_ns + GL_WATCHDOG_GRACE_NS)
        {
          wait_until (gl_now_ns () + GL_WATCHDOG_RETRY_NS);
          if (armed && generation == gen)
            ops.expire ();
        }
      if (armed && generation == gen)
        {
          pthread_mutex_unlock (&lock);
          ops.hard_stop ();
          pthread_mutex_lock (&lock);
        }
      /* The loop thread answered: wait for the next invocation. */
      if (generation == gen)
        armed = 0;
    }
  return NULL;
}

static void *
watchdog_thread (void *unused)
{
  return scm_with_guile (watchdog_main, NULL);
}

static void *
running_wait (void *unused)
{
  pthread_mutex_lock (&lock);
  while (!running)
    pthread_cond_wait (&up, &lock);
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
gl_watchdog_start (const struct gl_watchdog_ops *o)
{
  pthread_condattr_t attr;
  pthread_t thread;
  int r;

  ops = *o;
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&changed, &attr);
  pthread_cond_init (&up, NULL);
  pthread_condattr_destroy (&attr);
  r = pthread_create (&thread, NULL, watchdog_thread, NULL);
  if (r != 0)
    {
      fprintf (stderr, "guile-lambda: cannot start the watchdog thread: %s\n",
               strerror (r));
      return -1;
    }
  pthread_detach (thread);
  /* Becoming a Guile thread takes a pipe, and Guile aborts when it
     cannot have one: on a loaded machine the thread could get there
     only after the handler had used up the descriptors.  So it gets
     there before any handler runs. */
  scm_without_guile (running_wait, NULL);
  return 0;
}

/* Waking the thread costs two context switches per invocation, so it is
   woken only when it sleeps past the new deadline; a thread that wakes
   early for a stale deadline just goes back to sleep. */
void
gl_watchdog_arm (uint64_t deadline)
{
  pthread_mutex_lock (&lock);
  armed = 1;
  deadline_ns = deadline;
  generation++;
  if (sleeping_until > deadline)
    pthread_cond_signal (&changed);
  pthread_mutex_unlock (&lock);
}

void
gl_watchdog_disarm (void)
{
  pthread_mutex_lock (&lock);
  armed = 0;
  generation++;
  pthread_mutex_unlock (&lock);
}
