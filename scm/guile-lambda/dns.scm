;;; (guile-lambda dns): the dns bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda dns)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
