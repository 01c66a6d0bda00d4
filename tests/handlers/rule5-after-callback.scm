;; Rule 5: a raise after the handler completed is ignored like any later
;; completion (rule 4), with a WARN line, as the Node runtime does: the
;; first completion wins.  The event's "case" picks the story.
(define (handler event context callback)
  (let ((case (assoc-ref event "case")))
    (cond
     ;; Flag #t, nothing pending: success "ok" at once.
     ((equal? case "nothing-pending")
      (callback #f "ok")
      (error "raised after the callback"))
     ;; Flag #t, a timer pending: success "ok" once the timer has run.
     ((equal? case "waiting")
      (set-timeout (lambda () (display "timer fired\n")) 200)
      (callback #f "ok")
      (error "raised while waiting"))
     ;; Flag #f: success "ok" at once.
     ((equal? case "no-wait")
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (set-timeout (lambda () (display "timer fired\n")) 5000)
      (callback #f "ok")
      (error "raised after the callback"))
     ;; An error first: that error is reported, not the raise.
     ((equal? case "error-first")
      (callback "the first error")
      (error "raised after the error"))
     (else (error "unknown case" case)))))
