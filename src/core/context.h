/* context.h: one invocation and the context object Scheme sees for it
   (DESIGN.md §7), with the completion procedures of §3: callback,
   context-succeed, context-fail, context-done.  Completing only records
   the outcome; the engine notices it after each step. */
#ifndef GL_CONTEXT_H
#define GL_CONTEXT_H

#include <libguile.h>
#include <stdint.h>

/* What the environment says about the function (same variables as
   Lambda, with local defaults). */
struct gl_function {
  char *name;
  char *version;
  char *log_group;
  char *log_stream;
  char *region;
  char *arn;                    /* the function's own ARN */
  int memory_mb;
  double timeout_s;
  /* Write START, END and REPORT: not under a Runtime API, where the
     platform writes them. */
  int platform_lines;
};

enum gl_outcome {
  GL_PENDING,
  GL_SUCCEEDED,
  GL_FAILED,
  GL_TIMED_OUT
};

/* Per-invocation values that come with the event (headers on Lambda). */
struct gl_request {
  char request_id[64];
  int64_t deadline_epoch_ms;    /* the platform's deadline, or 0: timeout */
  const char *invoked_arn;      /* NULL: the function's own ARN */
  SCM identity;                 /* #f or guile-json data */
  SCM client_context;           /* #f or guile-json data */
  SCM tenant_id;                /* #f or string */
};

struct gl_invocation {
  struct gl_request req;
  const struct gl_function *fn;
  const char *invoked_arn;
  SCM event;
  SCM context;                  /* the Scheme object for this struct */
  SCM callback;                 /* (callback err result) */
  uint64_t start_ns;
  uint64_t deadline_ns;
  double timeout_s;             /* what "Task timed out after" says */
  int waits_for_empty_loop;     /* the flag, true by default */
  int callback_called;          /* success waits for the loop to empty */
  uint64_t callback_ns;         /* when the callback was called */
  SCM callback_value;
  enum gl_outcome outcome;
  char *result_json;            /* result or error object, as sent */
  const char *completed_by;     /* "callback", "context-succeed", ... */
  int reset;                    /* the container is reset afterwards */
  int init_failed;              /* the init phase failed: result is its error */
  const char *awaiting;         /* what the suspended handler awaits */
};

void gl_context_init (void);
/* The invocation of context CTX, which SUBR received. */
struct gl_invocation *gl_context_invocation (SCM ctx, const char *subr);

/* Allocate an invocation (collectable memory reachable from its
   context object) for REQ, deadline from FN's timeout.  Only a
   callback-style handler needs a callback procedure made for it. */
struct gl_invocation *gl_invocation_new (const struct gl_function *fn,
                                         const struct gl_request *req,
                                         SCM event, int with_callback);

/* Record an outcome.  The first completion wins; a later one is
   ignored with a WARN line.  BY says who completed it. */
void gl_invocation_succeed (struct gl_invocation *inv, SCM value,
                            const char *by);
/* ERROR is anything Scheme raised or passed as an error; it becomes
   {errorType, errorMessage, stackTrace}. */
void gl_invocation_fail (struct gl_invocation *inv, SCM error,
                         const char *by);
/* The runtime's own failures (an uncaught exception in a loop callback,
   a timeout) override a success still waiting for the empty loop. */
void gl_invocation_abort (struct gl_invocation *inv, SCM error,
                          const char *by);
/* The loop is empty: success with the value a waiting callback gave,
   or null when the handler never completed (rules 2 and 6). */
void gl_invocation_settle (struct gl_invocation *inv);
/* A runtime failure of TYPE and MESSAGE; overrides a waiting success. */
void gl_invocation_fail_with (struct gl_invocation *inv, const char *type,
                              const char *message, const char *by);

uint64_t gl_now_ns (void);

#endif
