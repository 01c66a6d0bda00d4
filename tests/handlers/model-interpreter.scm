;; The handlers of the model-based test (tests/cli/property.scm): each
;; event carries a callback-style handler written in a small language,
;; and this interpreter runs it with the invocation's real context and
;; callback, so every action goes through the engine as written code
;; would.  An action is a vector:
;;
;;   #("flag" BOOL)       set the callback-waits-for-empty-event-loop flag
;;   #("ok" V)            (callback #f V)
;;   #("err" M)           (callback M)
;;   #("succeed" V)       (context-succeed context V)
;;   #("fail" M)          (context-fail context M)
;;   #("done-ok" V)       (context-done context #f V)
;;   #("done-err" M)      (context-done context M)
;;   #("raise" M)         (error M): the rest of the body does not run
;;   #("timer" ID BODY)   a 1 ms timer whose callback logs "tID", then
;;                        runs the vector of actions BODY
;;
;; {"step":"drain"} is the event that follows each handler: flag #t,
;; (callback #f "drained"), so that whatever the handler left frozen
;; runs, and the next handler starts with nothing pending.
;; One letrec: the two procedures call each other, and a top-level
;; forward reference would be a compiler warning in the log.
(define run-actions
  (letrec
      ((run-actions
        (lambda (actions context callback)
          (for-each (lambda (action) (run-action action context callback))
                    (vector->list actions))))
       (run-action
        (lambda (action context callback)
          (let ((op (vector-ref action 0))
                (arg (vector-ref action 1)))
            (cond
             ((equal? op "flag")
              (set-context-callback-waits-for-empty-event-loop! context arg))
             ((equal? op "ok") (callback #f arg))
             ((equal? op "err") (callback arg))
             ((equal? op "succeed") (context-succeed context arg))
             ((equal? op "fail") (context-fail context arg))
             ((equal? op "done-ok") (context-done context #f arg))
             ((equal? op "done-err") (context-done context arg))
             ((equal? op "raise") (error arg))
             ((equal? op "timer")
              (let ((body (vector-ref action 2)))
                (set-timeout (lambda ()
                               (format #t "t~a~%" arg)
                               (run-actions body context callback))
                             1)))
             (else (error "unknown action" op)))))))
    run-actions))

(define (handler event context callback)
  (if (equal? (assoc-ref event "step") "drain")
      (callback #f "drained")
      (begin
        (format #t "case ~a~%" (assoc-ref event "case"))
        (run-actions (assoc-ref event "program") context callback))))
