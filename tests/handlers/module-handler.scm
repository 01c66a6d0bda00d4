;; A handler file may define its own module; it must use (guile-lambda)
;; itself then.
(define-module (my handler)
  #:use-module (guile-lambda))

(define (run event context)
  `(("module" . "my handler") ("name" . ,(context-function-name context))))
