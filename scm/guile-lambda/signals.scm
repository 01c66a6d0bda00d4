;;; (guile-lambda signals): the signals bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda signals)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
