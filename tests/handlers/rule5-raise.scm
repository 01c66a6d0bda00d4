;; Rule 5: a handler that raises fails the invocation at once.
(define (check-input event)
  (error "bad input:" (assoc-ref event "value")))

(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (check-input event)
  (callback #f "unreachable"))
