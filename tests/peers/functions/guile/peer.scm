;; The handler that @vercel/fun runs through guile-lambda bootstrap
;; (tests/peers/fun.js).  What it returns tells the driver which
;; container ran it and how warm that container was.
(define calls 0)

(define (spin ms)
  (let ((end (+ (get-internal-real-time)
                (* ms (/ internal-time-units-per-second 1000)))))
    (let loop ()
      (when (< (get-internal-real-time) end)
        (loop)))))

(define (sleep-ms ms done)
  (set-timeout (lambda () (done #f ms)) ms))

(define (handler event context)
  (set! calls (+ calls 1))
  (cond
   ((assoc-ref event "fail")
    => (lambda (message)
         (raise-exception `(("errorType" . "Peer.Failure")
                            ("errorMessage" . ,message)))))
   ((assoc-ref event "spinMs") => spin)
   ((assoc-ref event "waitMs") => (lambda (ms) (await sleep-ms ms))))
  `(("calls" . ,calls)
    ("pid" . ,(getpid))
    ("requestId" . ,(context-aws-request-id context))
    ("functionName" . ,(context-function-name context))
    ("remainingMs" . ,(context-remaining-time-in-millis context))
    ("event" . ,event)))
