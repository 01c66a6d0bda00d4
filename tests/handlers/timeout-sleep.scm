;; Blocked in a system call.
(define (handler event context)
  (sleep 60))
