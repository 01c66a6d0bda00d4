;; An interval that a short pause at the prompt outlasts: if the frozen
;; container's clock ran on, the next step would find it overdue.  The
;; callback is never called, so that nothing but the interval runs.
(define polls 0)

(define (handler event context callback)
  (set-interval (lambda () (set! polls (+ polls 1))) 500))
