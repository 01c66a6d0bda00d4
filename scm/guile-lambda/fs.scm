;;; (guile-lambda fs): the fs bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda fs)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
