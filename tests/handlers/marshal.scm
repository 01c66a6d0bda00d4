;; A result that is not JSON data.
(define (handler event context)
  (list (lambda () 1)))
