;; Rule 2, flag #t (the default): success waits for the empty loop.  The
;; flag is read when the callback is called, so clearing it afterwards
;; changes nothing.
(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 300)
  (callback #f '(("answer" . 42)))
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (display "handler returned\n"))
