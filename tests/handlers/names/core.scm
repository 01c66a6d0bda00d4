;; The Node runtime's test handlers/core.js, for its handler names
;; core.echo and core.noFunctionHandler.
(define (echo event context)
  event)

(define noFunctionHandler "not a procedure")
