;; Return style: the value is the result at once; the flag does not matter.
(use-modules (ice-9 exceptions))
(define (handler event context)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (when (assoc-ref event "raise")
    (raise-exception (make-exception-with-message "returned badly")))
  `(("doubled" . ,(* 2 (assoc-ref event "n")))))
