;; Rule 7: once an uncaught exception has failed the invocation, the
;; container is reset: a timer made by the failing callback, due a turn
;; of the loop later, never runs.  The handler keeps the CPU for 5 ms,
;; so that the failing timer is already due when the loop first turns.
(define (busy ms)
  (let ((end (+ (get-internal-real-time)
                (* ms (/ internal-time-units-per-second 1000)))))
    (let loop ()
      (when (< (get-internal-real-time) end) (loop)))))

(define (handler event context callback)
  (set-timeout (lambda ()
                 (set-timeout (lambda () (display "the next turn ran\n")) 1)
                 (error "failed in a timer"))
               1)
  (busy 5))
