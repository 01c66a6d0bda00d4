;; Three events through one container: state survives while warm, an
;; interval is frozen between invocations and its overdue tick runs at
;; thaw, and a timeout resets the container.
(define count 0)
(define ticker #f)

(define (handler event context callback)
  (set! count (+ count 1))
  (format #t "handler ~a called\n" count)
  (if (assoc-ref event "hang")
      (callback #f "waits for an interval that never stops")
      (begin
        (set-context-callback-waits-for-empty-event-loop! context #f)
        (unless ticker
          (set! ticker (set-interval (lambda () (display "tick\n")) 100)))
        (callback #f `(("count" . ,count))))))
