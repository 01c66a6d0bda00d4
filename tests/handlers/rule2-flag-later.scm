;; Rule 2: the flag is read when the callback is called.  Cleared then,
;; success is reported at once, though it is set again afterwards and a
;; timer is pending.
(define (handler event context callback)
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (callback #f "at once")
  (set-context-callback-waits-for-empty-event-loop! context #t)
  (display "handler returned\n"))
