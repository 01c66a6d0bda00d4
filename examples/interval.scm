;;; interval.scm: the article's trap.  A "connection" is polled by an
;;; interval that is never cleared, so the event loop never becomes
;;; empty.
;;;
;;; With the flag #t (Lambda's default) the invocation waits for the
;;; empty loop and times out, and the log lists the interval and where it
;;; was created:
;;;
;;;   guile-lambda invoke examples/interval.scm --timeout 1
;;;
;;; With the flag #f ({"wait": false}) the callback ends the invocation
;;; at once.  The interval is then frozen with the container, and keeps
;;; ticking during the next invocation, which (flag #t again) waits on it
;;; and times out; the log names the interval and the earlier request
;;; that created it:
;;;
;;;   printf '{"wait":false}\n{}\n' | guile-lambda batch examples/interval.scm --timeout 1

(define poller #f)
(define polls 0)

(define (connection-open!)
  (unless poller
    (set! poller
          (set-interval (lambda ()
                          (set! polls (+ polls 1))
                          (format #t "polled the connection (~a)\n" polls))
                        100))))

(define (handler event context callback)
  (let ((wait (assoc "wait" event)))
    (set-context-callback-waits-for-empty-event-loop! context
                                                      (if wait (cdr wait) #t)))
  (connection-open!)
  (callback #f `(("polls" . ,polls))))
