;;; (guile-lambda tcp): the tcp bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda tcp)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
