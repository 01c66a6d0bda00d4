/* spin.h: how long a wait for a peer's answer polls before it blocks.

   On a virtual machine an idle vCPU that blocks takes tens of
   microseconds to wake: a loopback round trip between two processes
   that block costs 74 us here, 10 us when both poll first, while a
   warm invocation costs less than either.  So a wait that expects an
   answer soon polls for a while; but polling only pays while the peer
   has a CPU to answer from, so the window adapts: it doubles (up to
   GL_SPIN_MAX_NS) each time an answer came while polling, and halves
   (down to GL_SPIN_MIN_NS) each time the wait had to block, as glibc's
   adaptive mutexes do.  On a loaded machine, or between invocations
   that are far apart, it soon costs next to nothing.  Between tries
   the poller gives its CPU away (sched_yield): with more processes
   than cores (two containers and their supervisor on two), the one it
   waits for may be the one waiting for that CPU. */
#ifndef GL_SPIN_H
#define GL_SPIN_H

#include <stdint.h>

#define GL_SPIN_MAX_NS 50000
#define GL_SPIN_MIN_NS 1000

struct gl_spin {
  uint64_t ns;                  /* the window now; 0: not set yet */
};

static inline uint64_t
gl_spin_window (struct gl_spin *s)
{
  if (s->ns == 0)
    s->ns = GL_SPIN_MAX_NS;
  return s->ns;
}

/* The answer came while polling. */
static inline void
gl_spin_hit (struct gl_spin *s)
{
  s->ns = s->ns * 2 > GL_SPIN_MAX_NS ? GL_SPIN_MAX_NS : s->ns * 2;
}

/* The wait had to block. */
static inline void
gl_spin_miss (struct gl_spin *s)
{
  s->ns = s->ns / 2 < GL_SPIN_MIN_NS ? GL_SPIN_MIN_NS : s->ns / 2;
}

#endif
