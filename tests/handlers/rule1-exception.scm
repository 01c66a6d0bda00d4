;; Rule 1 with an exception object: reported at once, though a timer is
;; pending; its errorType names the exception's kind and its message
;; holds the message and the irritants.
(use-modules (ice-9 exceptions))

(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (callback (make-exception (make-error)
                            (make-exception-with-message "invalid order")
                            (make-exception-with-irritants (list 42)))))
