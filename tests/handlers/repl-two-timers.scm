;; Two timers that fire on separate turns of the loop, then the callback.
(define fired '())

(define (handler event context callback)
  (set-timeout (lambda () (set! fired (cons 'first fired))) 50)
  (set-timeout (lambda ()
                 (set! fired (cons 'second fired))
                 (callback #f (length fired)))
               300))
