;; Rule 4: the first completion wins, whatever comes later and from
;; wherever; each later one is ignored with a WARN line.  The event's
;; "case" picks the story.
(define (handler event context callback)
  (let ((case (assoc-ref event "case")))
    (cond
     ;; An error first: the success and the context-succeed after it
     ;; are ignored.
     ((equal? case "error-first")
      (callback "first error")
      (callback #f "second")
      (context-succeed context "third"))
     ;; Success waiting for the empty loop (flag #t); the timer that
     ;; keeps it waiting completes again when it fires.
     ((equal? case "late-success")
      (set-timeout (lambda ()
                     (display "timer completes again\n")
                     (callback #f "from the timer"))
                   100)
      (callback #f "first"))
     ((equal? case "late-error")
      (set-timeout (lambda ()
                     (display "timer fails late\n")
                     (callback "late error"))
                   100)
      (callback #f "first"))
     (else (error "unknown case" case)))))
