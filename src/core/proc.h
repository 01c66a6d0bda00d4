/* proc.h: what /proc says of a process, read with system calls only,
   so that a signal handler may ask too. */
#ifndef GL_PROC_H
#define GL_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct gl_proc_stat {
  char state;                   /* 'R', 'S', 'Z', ... */
  pid_t parent;
  pid_t group;                  /* its process group */
  size_t rss_pages;             /* resident pages */
};

/* Fill ST for the process named PID (a /proc entry); -1 if it is gone. */
int gl_proc_stat (const char *pid, struct gl_proc_stat *st);

#endif
