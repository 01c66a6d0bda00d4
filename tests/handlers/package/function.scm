;; A function that tests/cli/package.scm packages and runs in a chroot:
;; it uses a module of its own (lib/calendar.scm), which uses a Guile
;; module that the runtime itself does not; it keeps state while warm,
;; raises when asked, and sleeps past its deadline when asked.
(use-modules (lib calendar))

(define calls 0)

(define (handler event context)
  (set! calls (+ calls 1))
  (when (assoc-ref event "raise")
    (error "raised on request" (context-aws-request-id context)))
  (when (assoc-ref event "sleepS")
    (sleep (assoc-ref event "sleepS")))
  `(("calls" . ,calls)
    ("pid" . ,(getpid))
    ("epochYear" . ,(epoch-year))))
