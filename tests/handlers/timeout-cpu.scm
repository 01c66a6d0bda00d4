;; CPU-bound: a loop that never returns, with a timer left pending.
(define (handler event context) (display "handler started\n")
  (when (assoc-ref event "timer")
    (set-timeout (lambda () #t) 60000))
  (let loop () (loop)))
