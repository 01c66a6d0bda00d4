;; Rule 2, flag #f: success is reported at once; the timer stays frozen.
(define (handler event context callback)
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (callback #f '(("answer" . 42))))
