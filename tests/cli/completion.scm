;;; The completion rules of DESIGN.md §3, one group per numbered rule,
;;; through `guile-lambda invoke` and `batch`.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(define (invoke handler . args)
  (apply guile-lambda "invoke" (fixture handler) args))

(run-tests "completion"
 (lambda ()
   (test-group "rule 1: callback error is reported at once"
     (let ((r (invoke "rule1-error-pending.scm")))
       (test-equal "exit status 1" 1 (run-status r))
       (test-equal "errorType names the kind" "string"
                   (json-ref (run-json r) "errorType"))
       (test-equal "errorMessage" "boom" (json-ref (run-json r) "errorMessage"))
       (test-assert "without waiting for the pending 5 s timer"
                    (< (run-seconds r) 4))
       (test-assert "the timer never fired"
                    (not (stderr-has? r "timer fired")))
       (test-assert "the error is logged" (stderr-has? r "ERROR\tInvoke Error"))))

   (test-group "rule 2: callback success and the flag"
     (let ((r (invoke "rule2-no-wait.scm")))
       (test-equal "flag #f: success" 0 (run-status r))
       (test-equal "flag #f: the callback's result" 42
                   (json-ref (run-json r) "answer"))
       (test-assert "flag #f: reported at once" (< (run-seconds r) 4))
       (test-assert "flag #f: the pending timer stayed frozen"
                    (not (stderr-has? r "timer fired"))))
     (let ((r (invoke "rule2-wait.scm")))
       (test-equal "flag #t: success" 0 (run-status r))
       (test-equal "flag #t: the callback's result" 42
                   (json-ref (run-json r) "answer"))
       (test-assert "flag #t: a short wait is not reported as a hang"
                    (not (stderr-has? r "The callback was called")))
       (test-assert "flag #t: the timer ran before the invocation ended"
                    (stderr-has? r "timer fired"))
       (test-assert "flag read at the call: clearing it later did not stop the wait"
                    (>= (run-seconds r) 0.3))
       ;; libuv keeps time in whole milliseconds: a timer may fire up to
       ;; 1 ms early, as in Node.
       (test-assert "the REPORT duration covers the wait"
                    (stderr-has? r "Duration: (29[0-9]|[3-9][0-9][0-9]|[0-9]{4,})\\.[0-9]+ ms"))))

   (test-group "rule 3: context-succeed, context-fail, context-done"
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"succeed\"}")))
       (test-equal "succeed: status" 0 (run-status r))
       (test-equal "succeed: result" "succeed" (json-ref (run-json r) "via"))
       (test-assert "succeed: at once, flag #t notwithstanding"
                    (< (run-seconds r) 4)))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"fail\"}")))
       (test-equal "fail: status" 1 (run-status r))
       (test-equal "fail: message" "failed on purpose"
                   (json-ref (run-json r) "errorMessage"))
       (test-assert "fail: at once" (< (run-seconds r) 4)))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"fail-without-error\"}")))
       (test-equal "fail with #f: status" 1 (run-status r))
       (test-equal "fail with #f: the error string \"handled\", as Node's fail(null)"
                   '("string" . "handled")
                   (cons (json-ref (run-json r) "errorType")
                         (json-ref (run-json r) "errorMessage"))))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"done-error\"}")))
       (test-equal "done with an error: status" 1 (run-status r))
       (test-equal "done with an error: message" "done with error"
                   (json-ref (run-json r) "errorMessage")))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"done\"}")))
       (test-equal "done: status" 0 (run-status r))
       (test-equal "done: result" "done" (json-ref (run-json r) "via"))
       (test-assert "done: at once" (< (run-seconds r) 4))))

   (test-group "rule 4: the first completion wins"
     (let ((r (invoke "rule4-first-wins.scm")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the first result" "first" (run-json r))
       (test-equal "each later completion gets a WARN line" 2
                   (length (log-lines-matching r "WARN\t.*ignored")))))

   (test-group "rule 5: a handler that raises fails at once"
     (let* ((r (invoke "rule5-raise.scm" "{\"value\":7}"))
            (error (run-json r)))
       (test-equal "status" 1 (run-status r))
       (test-equal "errorType names the exception's kind" "misc-error"
                   (json-ref error "errorType"))
       (test-equal "a readable message" "bad input: 7"
                   (json-ref error "errorMessage"))
       (test-assert "the stack trace names the handler's file"
                    (let ((trace (json-ref error "stackTrace")))
                      (and (vector? trace)
                           (> (vector-length trace) 0)
                           (string-contains (vector-ref trace 0)
                                            "rule5-raise.scm"))))
       (test-assert "at once, though a timer was pending"
                    (< (run-seconds r) 4))))

   (test-group "rule 6: returning without completing"
     (let ((r (invoke "rule6-no-completion.scm")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the result is null" "null\n" (run-stdout r))
       (test-assert "only once the loop was empty"
                    (and (stderr-has? r "timer fired") (>= (run-seconds r) 0.2)))))

   (test-group "rule 7: an uncaught exception in a loop callback"
     (let* ((r (guile-lambda "batch" (fixture "rule7-uncaught.scm")
                             #:input "{\"explode\":true}\n{}\n"))
            (records (run-records r))
            (failed (car records))
            (next (cadr records)))
       (test-equal "the running invocation fails" "error"
                   (json-ref failed "status"))
       (test-equal "with the exception's kind" "out-of-range"
                   (json-ref failed "error" "errorType"))
       (test-assert "the message names the callback's origin"
                    (string-contains (json-ref failed "error" "errorMessage")
                                     "rule7-uncaught.scm:9:7 "))
       (test-assert "the container is reset: the next event is a cold start"
                    (json-ref next "initDurationMs"))
       (test-equal "and module state is gone" 1
                   (json-ref next "result" "calls"))
       (test-equal "batch exits 1 when an event failed" 1 (run-status r)))
     (let* ((r (run (list "sh" "-c"
                          (string-append
                           "{ echo '{\"n\":1}'; sleep 0.5; echo '{\"n\":2}'; } | "
                           "guile-lambda batch " (fixture "rule7-stale.scm")))))
            (records (run-records r)))
       (test-equal "the first invocation succeeds" 1
                   (json-ref (car records) "result"))
       (test-equal "the stale callback fails the invocation thawed into"
                   "error" (json-ref (cadr records) "status"))
       (test-assert "its message names the origin in the first invocation"
                    (let ((msg (json-ref (cadr records) "error" "errorMessage")))
                      (and (string-contains msg "rule7-stale.scm:7:5 ")
                           (string-contains msg (json-ref (car records)
                                                          "requestId")))))
       (test-assert "the second handler was never called"
                    (not (stderr-has? r "handler called with 2")))))

   (test-group "return style"
     (let ((r (invoke "return-style.scm" "{\"n\":21}")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the returned value is the result" 42
                   (json-ref (run-json r) "doubled"))
       (test-assert "at once: the flag has no effect" (< (run-seconds r) 4)))
     (let ((r (invoke "return-style.scm" "{\"n\":1,\"raise\":true}")))
       (test-equal "raising: status" 1 (run-status r))
       (test-equal "raising: the message" "returned badly"
                   (json-ref (run-json r) "errorMessage"))))

   (test-group "regressions found in review"
     (let ((r (invoke "review-regressions.scm" "{\"case\":\"odd-message\"}")))
       (test-equal "an error whose message is not a string still fails cleanly" 1
                   (run-status r))
       (test-equal "and says what it was" "not-a-string"
                   (json-ref (run-json r) "errorMessage")))
     (let ((r (invoke "review-regressions.scm" "{\"case\":\"connect-then-spin\"}"
                      "--timeout" "1")))
       (test-equal "a timeout with a connect pending resets cleanly" 124 (run-status r))
       (test-equal "and reports the timeout" "Sandbox.Timedout"
                   (json-ref (run-json r) "errorType")))
     (let ((r (invoke "review-regressions.scm" "{\"case\":\"unref-read\"}"
                      "--timeout" "2")))
       (test-equal "a read on an unref'd connection does not keep the loop alive"
                   "not waiting" (run-json r))
       (test-assert "at once" (< (run-seconds r) 1.9)))
     (let* ((r (run (list "sh" "-c"
                          (string-append
                           "{ echo '{\"case\":\"partial-line\"}'; sleep 0.5; echo '{}'; } | "
                           "guile-lambda batch " (fixture "review-regressions.scm")))))
            (first-id (json-ref (car (run-records r)) "requestId")))
       (test-assert "a timer's partial line carries the request id of its time"
                    (stderr-has? r (string-append "\t" first-id
                                                  "\tINFO\tpartial line from the timer$")))))

   (test-group "results that are not JSON data"
     (let ((r (invoke "marshal.scm")))
       (test-equal "status" 1 (run-status r))
       (test-equal "Runtime.MarshalError" "Runtime.MarshalError"
                   (json-ref (run-json r) "errorType"))
       (test-assert "the log says what could not be encoded"
                    (stderr-has? r "cannot be encoded as JSON: .*procedure"))))))
