;; A child left running keeps the loop alive: with the flag #t the
;; invocation can only time out, and the log names the process.  The
;; pid goes to the file the event names, for the test to check that
;; the container reset killed the child.
(define (handler event context callback)
  (let ((p (process-spawn "sleep" '("30") '() (lambda (err result) #t))))
    (call-with-output-file (assoc-ref event "pidfile")
      (lambda (port) (display (process-pid p) port)))
    (callback #f "never delivered")))
