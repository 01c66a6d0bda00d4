;; The function that tests/cli/serve.scm calls through the Invoke API.
;; What it is asked to do is in the event: "sleepMs" (wait that long),
;; "log" (print that line), "logBytes" (print a line of that many x),
;; "fail" (raise with that message); the result says what it saw.
(define calls 0)

(define (handler event context)
  (set! calls (+ calls 1))
  (let ((sleep-ms (assoc-ref event "sleepMs"))
        (line (assoc-ref event "log"))
        (log-bytes (assoc-ref event "logBytes"))
        (fail (assoc-ref event "fail")))
    (when line
      (display line)
      (newline))
    (when log-bytes
      (display (make-string log-bytes #\x))
      (newline))
    (when sleep-ms
      (usleep (* 1000 sleep-ms)))
    (when fail
      (error fail))
    `(("calls" . ,calls)
      ("pid" . ,(getpid))
      ("requestId" . ,(context-aws-request-id context))
      ("functionName" . ,(context-function-name context))
      ("memory" . ,(context-memory-limit-in-mb context))
      ("clientContext" . ,(context-client-context context))
      ("env" . ,(or (getenv "SERVE_TEST") 'null))
      ("event" . ,event))))
