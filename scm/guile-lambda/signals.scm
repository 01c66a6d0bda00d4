;;; (guile-lambda signals): signal watchers of (guile-lambda).  A
;;; watcher is a handle: it keeps the loop alive until handle-close!.
(define-module (guile-lambda signals)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export (signal-watch signal-once))

;; (signal-watch SIG PROC): call (PROC NAME) each time the process gets
;; signal SIG, a name such as 'SIGUSR1 or 'SIGHUP, or a number; NAME is
;; its name as a symbol.  Returns the watcher's handle.
(define-origin-recording signal-watch %signal-watch)

;; (signal-once SIG PROC): call (PROC #f NAME) at the first delivery of
;; SIG and close; await-able: (await signal-once 'SIGTERM).
(define-origin-recording signal-once %signal-once)
