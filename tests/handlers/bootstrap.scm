;; A handler run by guile-lambda bootstrap behind a Runtime API: what
;; the context and the environment say comes from the API's headers;
;; the module's state lives as long as the container is warm.
(define calls 0)

(define (spin ms)
  (let ((end (+ (get-internal-real-time)
                (* ms (/ internal-time-units-per-second 1000)))))
    (let loop ()
      (when (< (get-internal-real-time) end)
        (loop)))))

(define (handler event context)
  (set! calls (+ calls 1))
  (when (assoc-ref event "spinMs")
    (spin (assoc-ref event "spinMs")))
  (when (assoc-ref event "raise")
    (error "raised on request" (context-aws-request-id context)))
  `(("calls" . ,calls)
    ("requestId" . ,(context-aws-request-id context))
    ("arn" . ,(context-invoked-function-arn context))
    ("traceId" . ,(or (getenv "_X_AMZN_TRACE_ID") 'null))
    ("remainingMs" . ,(context-remaining-time-in-millis context))
    ("remainingPositive" . ,(> (context-remaining-time-in-millis context) 0))
    ("remainingAtMost30s" . ,(<= (context-remaining-time-in-millis context) 30000))))
