;; The init phase fails: top-level code raises.
(display "initialising\n")
(error "cannot connect to the configuration store")
(define (handler event context) 1)
