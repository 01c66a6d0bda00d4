;; The Scheme twin of exports.callback in ../node/index.js: callback
;; style, not waiting for the empty loop, a timer left pending
;; (tests/peers/batch.js compares their freeze and thaw).
(define calls 0)
(define fired '())

(define (handler event context callback)
  (set! calls (+ calls 1))
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (let ((id (context-aws-request-id context))
        (before (reverse fired)))
    (set! fired '())
    (format #t "handler ~a called~%" calls)
    (cond ((assoc-ref event "timerMs")
           => (lambda (ms)
                (set-timeout (lambda ()
                               (set! fired (cons id fired))
                               (format #t "timer of ~a ran~%" id))
                             ms))))
    (callback #f `(("calls" . ,calls)
                   ("requestId" . ,id)
                   ("timersBefore" . ,(list->vector before))))))
