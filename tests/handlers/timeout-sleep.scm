;; Blocked in a system call.
(define (handler event context) (display "handler started\n")
  (sleep 60))
