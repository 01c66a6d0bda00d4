/* limits.h: one container's memory limit, peak memory and freeze,
   enforced from outside.  With a cgroup this process may create (the
   v2 memory controller and cgroup.freeze, or the v1 memory and freezer
   controllers) the kernel does it; where it may not, a poll of the
   resident memory of the container's process group, and SIGSTOP and
   SIGCONT of the group.  GUILE_LAMBDA_CGROUPS=none chooses the
   fallback (the tests run both). */
#ifndef GL_LIMITS_H
#define GL_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gl_limits {
  pid_t pgid;                   /* the container's process group */
  size_t limit;                 /* bytes */
  size_t peak;                  /* bytes, what the poll saw */
  uint64_t polled;              /* when, uv_hrtime */
  int over;                     /* the poll saw it over the limit */
  char memory[256];             /* its memory cgroup, or "" */
  char freezer[256];            /* its v1 freezer cgroup, or "" */
  int frozen;
  /* Under a cgroup, files read on every REPORT, kept open and read
     again from offset 0 (-1: not open yet). */
  int fd_peak, fd_usage, fd_procs, fd_statm;
  int fd_freeze;                /* written on every freeze and thaw */
  pid_t statm_pid;              /* whose statm fd_statm is */
};

/* "cgroup v2", "cgroup v1" or "polling": what this process can use. */
const char *gl_limits_mode (void);

/* Put PID, the leader of a new process group, under LIMIT bytes; NAME
   names its groups.  Call at once after it started. */
void gl_limits_attach (struct gl_limits *l, pid_t pid, size_t limit,
                       const char *name);
/* Poll: the group's memory now (bytes); records the peak, and whether
   it went over the limit, where no cgroup enforces it. */
size_t gl_limits_poll (struct gl_limits *l);
/* Peak memory of all its processes so far, in bytes. */
size_t gl_limits_peak (struct gl_limits *l);
/* Did it die of memory: the kernel's OOM killer, or the poll? */
int gl_limits_oom (struct gl_limits *l);
/* Stop and restart every process of the container. */
void gl_limits_freeze (struct gl_limits *l);
void gl_limits_thaw (struct gl_limits *l);
/* Kill every process of the container. */
void gl_limits_kill (struct gl_limits *l);
/* After its processes are gone: remove its groups. */
void gl_limits_release (struct gl_limits *l);

#endif
