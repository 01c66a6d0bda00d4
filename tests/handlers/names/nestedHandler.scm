;; The Node runtime's test handlers/nestedHandler.js: its handler name
;; nestedHandler.nested.somethingComplex.handler names this file and the
;; procedure below, dots and all.
(define (nested.somethingComplex.handler event context)
  "something interesting")

;; Not in Node's file: the function name that the handler name implies.
(define (nested.functionName event context)
  (context-function-name context))
