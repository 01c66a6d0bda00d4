;; await belongs to return-style handlers only.
(define (after ms value k)
  (set-timeout (lambda () (k #f value)) ms))

(define (handler event context callback)
  (callback #f (await after 10 1)))
