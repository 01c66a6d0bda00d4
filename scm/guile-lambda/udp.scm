;;; (guile-lambda udp): the udp bindings of (guile-lambda).  Not yet written.
(define-module (guile-lambda udp)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export ())
