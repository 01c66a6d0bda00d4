;;; hello.scm: the smallest handler.  Return style: what it returns is
;;; the result.
;;;
;;;   guile-lambda invoke examples/hello.scm '{"name": "Ada"}'

(define (handler event context)
  (let ((name (or (assoc-ref event "name") "world")))
    (display (string-append "greeting " name "\n"))
    `(("message" . ,(string-append "Hello, " name "!")))))
