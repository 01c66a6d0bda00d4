;; Rule 6: a handler that returns without completing succeeds with null
;; once the loop is empty.
(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 200))
