;; Rule 7 with an I/O callback: an uncaught exception in the completion
;; procedure of a file system request fails the invocation, and the
;; error names where the request was made.
(define (handler event context callback)
  (fs-stat "/"
           (lambda (err stat)
             (vector-ref (vector) 2))))
