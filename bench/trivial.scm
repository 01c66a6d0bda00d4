;;; bench/trivial.scm: the handler of the throughput bench.  It does as
;;; little as a real handler can: read one field of the event and return
;;; a small object, so that what is measured is the cost of an invocation.

(define (handler event context)
  `(("ok" . #t) ("id" . ,(assoc-ref event "id"))))
