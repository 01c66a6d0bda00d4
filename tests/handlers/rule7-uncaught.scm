;; Rule 7: an uncaught exception in a timer callback fails the running
;; invocation, names the callback's origin, and resets the container.
(define calls 0)

(define (handler event context callback)
  (set! calls (+ calls 1))
  (format #t "handler call ~a\n" calls)
  (if (assoc-ref event "explode")
      (set-timeout (lambda () (vector-ref (vector) 3)) 50)
      (callback #f `(("calls" . ,calls)))))
