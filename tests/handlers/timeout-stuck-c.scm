;; Stuck in C code that never returns: locking a default mutex twice
;; deadlocks, and no signal or async can interrupt pthread_mutex_lock.
(use-modules (system foreign) (rnrs bytevectors))
(define mutex-lock
  (pointer->procedure int (dynamic-func "pthread_mutex_lock" (dynamic-link))
                      '(*)))
(define mutex (make-bytevector 64 0))
(define (handler event context) (display "handler started\n")
  (set-timeout (lambda () #t) 60000)
  (mutex-lock (bytevector->pointer mutex))
  (mutex-lock (bytevector->pointer mutex)))
