;; Loop-blocked: the callback is called, but an interval keeps the loop
;; alive and the flag is #t, so the invocation can only time out.
(define (handler event context callback) (display "handler started\n")
  (set-interval (lambda () #t) 100)
  (callback #f "never delivered"))
