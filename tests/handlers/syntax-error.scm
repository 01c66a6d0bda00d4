;; Not valid Scheme: the parenthesis of the definition is never closed.
(define (handler event context)
  (display "unreachable")
