;; Regressions found in review, one case per event "case".
(use-modules (ice-9 exceptions))

(define calls 0)

(define (handler event context callback)
  (set! calls (+ calls 1))
  (let ((case (assoc-ref event "case")))
    (cond
     ;; An error object whose message is not a string.
     ((equal? case "odd-message")
      (raise-exception (make-exception (make-error)
                                       (make-exception-with-message 'not-a-string))))
     ;; A timeout while a connect by name is still resolving or
     ;; connecting: the reset must close the connection cleanly.
     ((equal? case "connect-then-spin")
      (tcp-connect "localhost" 9 (lambda (err conn) #t))
      (let loop () (loop)))
     ;; An unref'd connection with a read waiting does not keep the loop
     ;; alive, as in Node.
     ((equal? case "unref-read")
      (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t))))
        (handle-unref! server)
        (tcp-connect "127.0.0.1" (tcp-server-port server)
                     (lambda (err conn)
                       (tcp-read conn (lambda (err data) #t))
                       (handle-unref! conn)
                       (callback #f "not waiting")))))
     ;; A partial line written by a timer of this invocation, frozen and
     ;; run at the next thaw.
     ((equal? case "partial-line")
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (set-timeout (lambda () (display "partial line from the timer")) 50)
      (callback #f calls))
     (else (callback #f calls)))))
