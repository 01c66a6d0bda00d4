;; Echoes its event after 150 ms: a batch slow enough to watch.
(define (handler e c) (usleep 150000) e)
