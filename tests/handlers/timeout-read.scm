;; Blocked in read(2) on a pipe nobody writes to.
(use-modules (ice-9 rdelim))
(define silent (pipe))
(define (handler event context) (display "handler started\n")
  (read-line (car silent)))
