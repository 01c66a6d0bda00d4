;; Rule 7 at thaw: a callback from the first invocation raises when the
;; second thaws; the second fails and its handler is never called.
(define (handler event context callback)
  (format #t "handler called with ~a\n" (assoc-ref event "n"))
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (when (equal? (assoc-ref event "n") 1)
    (set-timeout (lambda () (error "stale timer exploded")) 200))
  (callback #f (assoc-ref event "n")))
