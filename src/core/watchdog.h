/* watchdog.h: the thread that enforces an invocation's deadline when
   the loop thread cannot (DESIGN.md §3, Timeout). */
#ifndef GL_WATCHDOG_H
#define GL_WATCHDOG_H

#include <stdint.h>

/* How long the loop thread has, after the deadline, to notice the
   timeout before the watchdog stops the container itself. */
#define GL_WATCHDOG_GRACE_NS 500000000u
/* How often it interrupts the loop thread again meanwhile. */
#define GL_WATCHDOG_RETRY_NS 50000000u

struct gl_watchdog_ops {
  /* At the deadline, on the watchdog thread, in Guile mode, with the
     arming still current and held so: interrupt the loop thread.  Must
     not block. */
  void (*expire) (void);
  /* When the grace period has passed too: the loop thread is stuck in
     C code.  Returns only if the loop thread came back meanwhile. */
  void (*hard_stop) (void);
};

int gl_watchdog_start (const struct gl_watchdog_ops *ops);
void gl_watchdog_arm (uint64_t deadline_ns);
void gl_watchdog_disarm (void);

#endif
