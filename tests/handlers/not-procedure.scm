(define handler 5)
