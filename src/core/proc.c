/* proc.c: a process's /proc/PID/stat, for fatal.c (which reads it in a
   signal handler: system calls only) and the supervisor's limits. */
#include "core/proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After the last ')' (COMM may hold anything, that too), field N of
   "PID (COMM) STATE PPID PGRP ...", counting from 3 for STATE. */
static const char *
stat_field (const char *after_comm, int n)
{
  const char *p = after_comm;
  int field = 3;

  while (*p && field < n)
    field += *p++ == ' ';
  return p;
}

int
gl_proc_stat (const char *pid, struct gl_proc_stat *st)
{
  char path[64], buf[1024], *p;
  ssize_t n;
  int fd;

  snprintf (path, sizeof path, "/proc/%.32s/stat", pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ' || p[2] == '\0')
    return -1;
  p += 2;
  st->state = *p;
  st->parent = (pid_t) strtol (stat_field (p, 4), NULL, 10);
  st->group = (pid_t) strtol (stat_field (p, 5), NULL, 10);
  st->rss_pages = (size_t) strtoull (stat_field (p, 24), NULL, 10);
  return 0;
}
