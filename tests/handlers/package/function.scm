;; A function that tests/cli/package.scm packages and runs in a chroot:
;; it uses a module of its own (lib/calendar.scm), which uses a Guile
;; module that the runtime itself does not; it keeps state while warm,
;; raises when asked, and spins past its deadline when asked.
(use-modules (lib calendar))

(define calls 0)

(define (spin ms)
  (let ((end (+ (get-internal-real-time)
                (* ms (/ internal-time-units-per-second 1000)))))
    (let loop ()
      (when (< (get-internal-real-time) end)
        (loop)))))

(define (handler event context)
  (set! calls (+ calls 1))
  (when (assoc-ref event "raise")
    (error "raised on request" (context-aws-request-id context)))
  (when (assoc-ref event "spinMs")
    (spin (assoc-ref event "spinMs")))
  `(("calls" . ,calls)
    ("pid" . ,(getpid))
    ("epochYear" . ,(epoch-year))))
