;; Rule 1: an error through the callback is reported at once, even with
;; a timer pending.
(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (callback "boom"))
