;; Rule 3: context-succeed, context-fail and context-done report at once
;; and never wait, whatever the flag says.
(define (handler event context callback)
  (set-timeout (lambda () (display "timer fired\n")) 5000)
  (let ((how (assoc-ref event "how")))
    (cond
     ((equal? how "succeed") (context-succeed context '(("via" . "succeed"))))
     ((equal? how "fail") (context-fail context "failed on purpose"))
     ((equal? how "fail-without-error") (context-fail context #f))
     ((equal? how "done-error") (context-done context "done with error"))
     (else (context-done context #f '(("via" . "done")))))))
