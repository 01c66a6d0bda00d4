;; A handler that ends its own process: on Lambda, Runtime.ExitError.
(define (handler event context)
  (exit 3))
