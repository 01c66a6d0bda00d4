/* limits.c: memory limit, peak memory and freeze of a container from
   outside (see limits.h).  Which way is chosen once per process: a
   cgroup v2 group of our own under the root of the unified hierarchy,
   v1 groups under the memory and freezer controllers, or, where this
   process may create neither, polling and signals. */
#include "service/limits.h"
#include "core/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <unistd.h>

enum mode { MODE_UNKNOWN, MODE_V2, MODE_V1, MODE_POLLING };

static enum mode mode;
static char memory_parent[128];   /* our own group of groups */
static char freezer_parent[128];  /* v1 only; may stay "" */
static pid_t owner;               /* the process that made them */

static int
file_write (const char *dir, const char *file, const char *text)
{
  char path[512];
  ssize_t n;
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, file);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = write (fd, text, strlen (text));
  close (fd);
  return n == (ssize_t) strlen (text) ? 0 : -1;
}

static int
file_read (const char *dir, const char *file, char *buf, size_t size)
{
  char path[512];
  ssize_t n;
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, file);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buf, size - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

/* Read FILE of DIR again through *FD, opened the first time: a cgroup
   or /proc file gives its current value to each read from offset 0,
   without the path lookup of an open (which perf showed dominating a
   REPORT). */
static int
file_reread (int *fd, const char *dir, const char *file, char *buf,
             size_t size)
{
  char path[512];
  ssize_t n;

  if (*fd < 0)
    {
      snprintf (path, sizeof path, "%s/%s", dir, file);
      *fd = open (path, O_RDONLY | O_CLOEXEC);
      if (*fd < 0)
        return -1;
    }
  n = pread (*fd, buf, size - 1, 0);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

/* Write TEXT to FILE of DIR through *FD, opened the first time: the
   freeze and thaw of every event, without an open and close each. */
static int
file_rewrite (int *fd, const char *dir, const char *file, const char *text)
{
  char path[512];
  size_t n = strlen (text);

  if (*fd < 0)
    {
      snprintf (path, sizeof path, "%s/%s", dir, file);
      *fd = open (path, O_WRONLY | O_CLOEXEC);
      if (*fd < 0)
        return -1;
    }
  return pwrite (*fd, text, n, 0) == (ssize_t) n ? 0 : -1;
}

static size_t
file_number_kept (int *fd, const char *dir, const char *file)
{
  char buf[64];

  return file_reread (fd, dir, file, buf, sizeof buf) == 0
    ? strtoull (buf, NULL, 10) : 0;
}

static void
fd_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* The number after KEY in a "key value" file such as memory.events. */
static long
file_key (const char *dir, const char *file, const char *key)
{
  char buf[1024], *p;

  if (file_read (dir, file, buf, sizeof buf) != 0)
    return -1;
  for (p = buf; (p = strstr (p, key)) != NULL; p++)
    if ((p == buf || p[-1] == '\n') && p[strlen (key)] == ' ')
      return strtol (p + strlen (key) + 1, NULL, 10);
  return -1;
}

static int
mode_v2_try (void)
{
  char controllers[256];

  if (file_read ("/sys/fs/cgroup", "cgroup.controllers", controllers,
                 sizeof controllers) != 0
      || strstr (controllers, "memory") == NULL)
    return -1;
  snprintf (memory_parent, sizeof memory_parent,
            "/sys/fs/cgroup/guile-lambda.%ld", (long) getpid ());
  file_write ("/sys/fs/cgroup", "cgroup.subtree_control", "+memory");
  if (mkdir (memory_parent, 0755) != 0
      || file_write (memory_parent, "cgroup.subtree_control", "+memory") != 0)
    {
      rmdir (memory_parent);
      return -1;
    }
  return 0;
}

/* The v1 freezer turns a kernel static key on while any group is
   frozen and off when the last one thaws, and each turn rewrites kernel
   code on every CPU.  With each container frozen between invocations
   and thawed for the next, that was most of the time serve spent at
   two connections (bench/serve.sh: about 9k requests/s, 18k with the
   key held on).  A group of our own with no process in it stays
   frozen for as long as we run, so that the key never turns. */
static void
freezer_anchor_make (void)
{
  char anchor[160];

  snprintf (anchor, sizeof anchor, "%s/anchor", freezer_parent);
  if (mkdir (anchor, 0755) == 0
      && file_write (anchor, "freezer.state", "FROZEN") != 0)
    rmdir (anchor);
}

static int
mode_v1_try (void)
{
  snprintf (memory_parent, sizeof memory_parent,
            "/sys/fs/cgroup/memory/guile-lambda.%ld", (long) getpid ());
  if (mkdir (memory_parent, 0755) != 0)
    return -1;
  snprintf (freezer_parent, sizeof freezer_parent,
            "/sys/fs/cgroup/freezer/guile-lambda.%ld", (long) getpid ());
  if (mkdir (freezer_parent, 0755) != 0)
    freezer_parent[0] = '\0';
  else
    freezer_anchor_make ();
  return 0;
}

/* Every process in the group's cgroup, also those that left the
   process group. */
static void
cgroup_kill (const char *dir)
{
  char buf[4096], *p, *end;
  long pid;

  if (!dir[0] || file_read (dir, "cgroup.procs", buf, sizeof buf) != 0)
    return;
  for (p = buf; *p; p = end)
    {
      pid = strtol (p, &end, 10);
      if (end == p)
        break;
      if (pid > 0)
        kill ((pid_t) pid, SIGKILL);
    }
}

/* Remove DIR's subgroups, then DIR.  Until DEADLINE (uv_hrtime; 0:
   not at all) a group that still holds a process is thawed, its
   processes killed, and tried again: a container killed a moment ago,
   or a child of it, may still be on its way out.  After that, a group
   that holds a process stays. */
static void
group_tree_remove (const char *dir, uint64_t deadline)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char sub[1024];

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (e->d_type == DT_DIR && e->d_name[0] != '.')
      {
        snprintf (sub, sizeof sub, "%s/%s", dir, e->d_name);
        while (rmdir (sub) != 0 && errno == EBUSY && uv_hrtime () < deadline)
          {
            file_write (sub, "freezer.state", "THAWED");
            file_write (sub, "cgroup.freeze", "0");
            cgroup_kill (sub);
            usleep (2000);
          }
      }
  closedir (d);
  rmdir (dir);
}

/* The groups under ROOT of a supervisor that is gone: one that was
   killed, or died of a signal, had no exit handler to remove them, and
   they would pile up for as long as the machine runs. */
static void
stale_groups_remove (const char *root)
{
  static const char prefix[] = "guile-lambda.";
  DIR *d = opendir (root);
  struct dirent *e;
  char dir[512], *end;
  long pid;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    {
      if (strncmp (e->d_name, prefix, sizeof prefix - 1) != 0)
        continue;
      pid = strtol (e->d_name + sizeof prefix - 1, &end, 10);
      if (*end != '\0' || pid <= 0 || pid == (long) getpid ()
          || kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
        continue;
      snprintf (dir, sizeof dir, "%s/%s", root, e->d_name);
      group_tree_remove (dir, 0);
    }
  closedir (d);
}

/* At exit: the containers were killed, but one that had not finished
   dying (or a child of it) would keep its group, and so ours.  The
   freezer's first, where a frozen process is thawed to die. */
static void
parents_remove (void)
{
  uint64_t deadline = uv_hrtime () + 1000000000u;

  /* A child forked without exec inherits this handler, not the groups. */
  if (getpid () != owner)
    return;

  if (freezer_parent[0])
    group_tree_remove (freezer_parent, deadline);
  if (memory_parent[0])
    group_tree_remove (memory_parent, deadline);
}

static void
mode_choose (void)
{
  const char *want = getenv ("GUILE_LAMBDA_CGROUPS");

  if (want && strcmp (want, "none") == 0)
    mode = MODE_POLLING;
  else if (mode_v2_try () == 0)
    mode = MODE_V2;
  else if (mode_v1_try () == 0)
    mode = MODE_V1;
  else
    mode = MODE_POLLING;
  owner = getpid ();
  if (mode != MODE_POLLING)
    atexit (parents_remove);
  if (mode == MODE_V2)
    stale_groups_remove ("/sys/fs/cgroup");
  else if (mode == MODE_V1)
    {
      stale_groups_remove ("/sys/fs/cgroup/memory");
      stale_groups_remove ("/sys/fs/cgroup/freezer");
    }
}

const char *
gl_limits_mode (void)
{
  static const char *names[] = { "", "cgroup v2", "cgroup v1", "polling" };

  if (mode == MODE_UNKNOWN)
    mode_choose ();
  return names[mode];
}

/* The process group of process PID (a /proc name), or -1. */
static long
proc_pgrp (const char *pid)
{
  struct gl_proc_stat st;

  return gl_proc_stat (pid, &st) == 0 ? st.group : -1;
}

/* Put every process of process group PGID into the groups of L, until
   a sweep finds no process it had not moved before.  The leader was
   spawned a moment ago and may have forked already (a `/bin/sh -c'
   running its command): those children are not in the groups, which
   only the children forked after their parent joined inherit.  A child
   forked before its parent moved is there at the next sweep. */
static void
group_join (struct gl_limits *l)
{
  pid_t seen[64], now[64];
  size_t nseen = 0, nnow, i;
  struct dirent *d;
  char text[32];
  int round, fresh;
  DIR *proc;

  for (round = 0; round < 8; round++)
    {
      proc = opendir ("/proc");
      if (proc == NULL)
        return;
      nnow = 0;
      fresh = 0;
      while ((d = readdir (proc)) != NULL && nnow < 64)
        {
          if (d->d_name[0] < '1' || d->d_name[0] > '9'
              || proc_pgrp (d->d_name) != l->pgid)
            continue;
          now[nnow] = (pid_t) strtol (d->d_name, NULL, 10);
          for (i = 0; i < nseen && seen[i] != now[nnow]; i++)
            ;
          fresh |= i == nseen;
          snprintf (text, sizeof text, "%ld", (long) now[nnow]);
          file_write (l->memory, "cgroup.procs", text);
          if (l->freezer[0])
            file_write (l->freezer, "cgroup.procs", text);
          nnow++;
        }
      closedir (proc);
      if (!fresh)
        return;
      memcpy (seen, now, nnow * sizeof *now);
      nseen = nnow;
    }
}

void
gl_limits_attach (struct gl_limits *l, pid_t pid, size_t limit,
                  const char *name)
{
  char text[32];

  memset (l, 0, sizeof *l);
  l->fd_peak = l->fd_usage = l->fd_procs = l->fd_statm = l->fd_freeze = -1;
  l->pgid = pid;
  l->limit = limit;
  gl_limits_mode ();
  if (mode == MODE_POLLING)
    return;
  snprintf (l->memory, sizeof l->memory, "%s/%s", memory_parent, name);
  snprintf (text, sizeof text, "%zu", limit);
  if (mkdir (l->memory, 0755) != 0
      || file_write (l->memory, mode == MODE_V2 ? "memory.max"
                     : "memory.limit_in_bytes", text) != 0)
    {
      /* This container is polled instead. */
      rmdir (l->memory);
      l->memory[0] = '\0';
      return;
    }
  if (mode == MODE_V2)
    file_write (l->memory, "memory.swap.max", "0");
  snprintf (text, sizeof text, "%ld", (long) pid);
  file_write (l->memory, "cgroup.procs", text);
  if (mode == MODE_V1 && freezer_parent[0])
    {
      snprintf (l->freezer, sizeof l->freezer, "%s/%s", freezer_parent, name);
      if (mkdir (l->freezer, 0755) != 0
          || file_write (l->freezer, "cgroup.procs", text) != 0)
        l->freezer[0] = '\0';
    }
  group_join (l);
}

/* Resident bytes of every process in process group PGID. */
static size_t
group_rss (pid_t pgid)
{
  static long page;
  struct gl_proc_stat st;
  struct dirent *d;
  size_t total = 0;
  DIR *proc;

  if (page == 0)
    page = sysconf (_SC_PAGESIZE);
  proc = opendir ("/proc");
  if (proc == NULL)
    return 0;
  while ((d = readdir (proc)) != NULL)
    if (d->d_name[0] >= '1' && d->d_name[0] <= '9'
        && gl_proc_stat (d->d_name, &st) == 0 && st.group == pgid)
      total += st.rss_pages * (size_t) page;
  closedir (proc);
  return total;
}

/* Resident bytes of every process in L's cgroup: a few files read,
   where group_rss reads one per process of the machine, and that on
   every event's REPORT.  The first process's statm (the runtime's,
   most often the only one) stays open. */
static size_t
cgroup_rss (struct gl_limits *l)
{
  static long page;
  char buf[4096], path[64], statm[128], *p, *end, *resident;
  size_t total = 0;
  long pid;
  int fd, first;
  ssize_t n;

  if (page == 0)
    page = sysconf (_SC_PAGESIZE);
  if (file_reread (&l->fd_procs, l->memory, "cgroup.procs", buf,
                   sizeof buf) != 0)
    return 0;
  for (p = buf, first = 1; *p; p = end, first = 0)
    {
      pid = strtol (p, &end, 10);
      if (end == p)
        break;
      if (first && l->fd_statm >= 0 && l->statm_pid != (pid_t) pid)
        fd_close (&l->fd_statm);
      fd = first ? l->fd_statm : -1;
      if (fd < 0)
        {
          snprintf (path, sizeof path, "/proc/%ld/statm", pid);
          fd = open (path, O_RDONLY | O_CLOEXEC);
          if (fd < 0)
            continue;
        }
      n = pread (fd, statm, sizeof statm - 1, 0);
      if (first)
        {
          l->fd_statm = fd;
          l->statm_pid = (pid_t) pid;
        }
      else
        close (fd);
      if (n <= 0)
        continue;
      statm[n] = '\0';
      /* "size resident shared ...", in pages. */
      resident = strchr (statm, ' ');
      if (resident != NULL)
        total += (size_t) strtoull (resident + 1, NULL, 10) * (size_t) page;
    }
  return total;
}

#define PEAK_POLL_NS 1000000

size_t
gl_limits_poll (struct gl_limits *l)
{
  size_t now;

  /* What the container's processes hold resident, and, under a
     cgroup, what the group was charged since the container joined it
     (not what its process loaded before).  Under a cgroup its
     processes are those of the group, also any that left the process
     group. */
  l->polled = uv_hrtime ();
  now = l->memory[0] ? cgroup_rss (l) : group_rss (l->pgid);
  if (l->memory[0])
    {
      size_t charged = file_number_kept (&l->fd_usage, l->memory,
                                         mode == MODE_V2 ? "memory.current"
                                         : "memory.usage_in_bytes");
      if (charged > now)
        now = charged;
    }
  else if (now > l->limit)
    l->over = 1;
  if (now > l->peak)
    l->peak = now;
  return now;
}

size_t
gl_limits_peak (struct gl_limits *l)
{
  size_t kernel = 0;

  if (l->memory[0])
    kernel = file_number_kept (&l->fd_peak, l->memory, mode == MODE_V2
                               ? "memory.peak"
                               : "memory.max_usage_in_bytes");
  /* Events that end less than PEAK_POLL_NS apart share a poll: a
     stream of short invocations would otherwise spend more on reading
     /proc than on running (memory does not grow by much in that time,
     and under a cgroup the kernel's peak above sees all of it). */
  if (uv_hrtime () - l->polled >= PEAK_POLL_NS)
    gl_limits_poll (l);
  return kernel > l->peak ? kernel : l->peak;
}

int
gl_limits_oom (struct gl_limits *l)
{
  if (l->over)
    return 1;
  if (!l->memory[0])
    return 0;
  return file_key (l->memory, mode == MODE_V2 ? "memory.events"
                   : "memory.oom_control", "oom_kill") > 0;
}

void
gl_limits_freeze (struct gl_limits *l)
{
  if (l->frozen)
    return;
  l->frozen = 1;
  if (mode == MODE_V2 && l->memory[0])
    file_rewrite (&l->fd_freeze, l->memory, "cgroup.freeze", "1");
  else if (l->freezer[0])
    file_rewrite (&l->fd_freeze, l->freezer, "freezer.state", "FROZEN");
  else
    kill (-l->pgid, SIGSTOP);
}

void
gl_limits_thaw (struct gl_limits *l)
{
  if (!l->frozen)
    return;
  l->frozen = 0;
  if (mode == MODE_V2 && l->memory[0])
    file_rewrite (&l->fd_freeze, l->memory, "cgroup.freeze", "0");
  else if (l->freezer[0])
    file_rewrite (&l->fd_freeze, l->freezer, "freezer.state", "THAWED");
  else
    kill (-l->pgid, SIGCONT);
}

void
gl_limits_kill (struct gl_limits *l)
{
  kill (-l->pgid, SIGKILL);
  cgroup_kill (l->memory);
  /* A frozen process dies only once it runs again. */
  gl_limits_thaw (l);
}

void
gl_limits_release (struct gl_limits *l)
{
  fd_close (&l->fd_freeze);
  if (l->memory[0])
    {
      fd_close (&l->fd_peak);
      fd_close (&l->fd_usage);
      fd_close (&l->fd_procs);
      fd_close (&l->fd_statm);
      rmdir (l->memory);
    }
  if (l->freezer[0])
    rmdir (l->freezer);
  l->memory[0] = l->freezer[0] = '\0';
}
