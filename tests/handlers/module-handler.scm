;; A handler file may define its own module; it must use (guile-lambda)
;; itself then, and the rest of the file runs in that module and sees
;; what it imports: SRFI-1 as it is, (rnrs bytevectors) under a prefix.
(define-module (my handler)
  #:use-module (guile-lambda)
  #:use-module (srfi srfi-1)
  #:use-module ((rnrs bytevectors) #:prefix bv:))

(define loaded-in (module-name (current-module)))

(define (run event context)
  `(("module" . ,(format #f "~a" loaded-in))
    ("name" . ,(context-function-name context))
    ("first" . ,(first '("from srfi-1" "second")))
    ("bytes" . ,(bv:bytevector-length (bv:string->utf8 "λ")))))
