;; Defines handle, not handler.
(define (handle event context) 1)
