;; Freeze and thaw (DESIGN.md §3), one step per event through one
;; container; the event's "step" names it.  Every completion is at once
;; (flag #f) except in "wait".
(define (handler event context callback)
  (let ((step (assoc-ref event "step")))
    (format #t "handler called for ~a\n" step)
    (cond
     ;; Three timers that come due while the container is frozen,
     ;; created out of their time order, and one far off.
     ((equal? step "arm")
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (set-timeout (lambda () (display "timer of 30 ms fired\n")) 30)
      (set-timeout (lambda () (display "timer of 10 ms fired\n")) 10)
      (set-timeout (lambda () (display "timer of 20 ms fired\n")) 20)
      (set-timeout (lambda () (display "far timer fired\n")) 60000)
      (callback #f "armed"))
     ;; A timer of this invocation that completes it a second time: it
     ;; fires only at the next thaw.
     ((equal? step "stale")
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (set-timeout (lambda ()
                     (display "stale timer completes\n")
                     (callback #f "stale")
                     (context-succeed context "stale too"))
                   10)
      (callback #f "first"))
     ;; Completes from a timer of its own, after the thaw.
     ((equal? step "fresh")
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (set-timeout (lambda () (callback #f "fresh")) 20))
     ;; Flag #t: waits for the empty loop, which the far timer of "arm"
     ;; keeps from coming.
     ((equal? step "wait")
      (callback #f "waited"))
     (else
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (callback #f step)))))
