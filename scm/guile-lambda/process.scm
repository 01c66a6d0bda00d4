;;; (guile-lambda process): the process bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda process)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
