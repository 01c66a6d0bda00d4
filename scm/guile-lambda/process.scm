;;; (guile-lambda process): child processes, on the engine's loop.
;;;
;;; (process-spawn PROGRAM ARGS OPTIONS ON-EXIT) starts PROGRAM (looked
;;; up in the PATH of the child's environment) with the argument strings
;;; ARGS and returns its handle, of type process, at once.  Its captured
;;; streams are handles of type pipe.  OPTIONS is an alist:
;;;   (env . ("K=V" ...))   the child's whole environment (default: ours)
;;;   (cwd . DIR)           its working directory
;;;   (stdin . IN)          a string or bytevector written to its standard
;;;                         input, which is then closed; or 'ignore (default)
;;;   (stdout . HOW)        'pipe (capture it, the default), 'ignore or
;;;   (stderr . HOW)        'inherit (our own descriptor: the log)
;;; (ON-EXIT ERR RESULT) is called once the child has exited and what it
;;; wrote to the captured streams has all been read.  RESULT is
;;;   ((exit-status . N or #f) (term-signal . SIGNAL-SYMBOL or #f)
;;;    (stdout . STRING or #f) (stderr . STRING or #f) (pid . PID))
;;; with the output decoded as UTF-8 (#f for a stream not captured).  A
;;; non-zero exit is no error: ERR is #f.  ERR is a uv-error only when
;;; the child could not be started (uv-error-code "ENOENT" for a missing
;;; program), reported from the loop as Node's 'error' event is.
;;;
;;; process-run is the same procedure, named for await:
;;;   (await process-run "sh" '("-c" "echo hi") '())  => RESULT
;;;
;;; Closing a process handle that is still running (handle-close!, or a
;;; container reset) kills the child with SIGKILL; ON-EXIT is then never
;;; called.
(define-module (guile-lambda process)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export (process-spawn
            process-run
            process-kill
            process-pid))

;; (process-spawn PROGRAM ARGS OPTIONS ON-EXIT) => process handle
(define-origin-recording process-spawn %process-spawn)

;; (process-run PROGRAM ARGS OPTIONS ON-EXIT): process-spawn, for await.
(define-origin-recording process-run %process-spawn)

;; (process-kill PROCESS SIGNAL): send SIGNAL, a symbol such as 'SIGTERM
;; or a number; raises a uv-error (ESRCH once the child has exited).
(define-origin-recording process-kill %process-kill)

;; (process-pid PROCESS): the child's pid; #f once the handle is closed
;; (when ON-EXIT runs: RESULT has the pid) or if the spawn failed.
(define-origin-recording process-pid %process-pid)
