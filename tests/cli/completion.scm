;;; The completion rules of DESIGN.md §3, one group per numbered rule,
;;; then freeze and thaw, through `guile-lambda invoke` and `batch`.
;;; How long an invocation took is what its REPORT says (the engine's
;;; own measure), never the time the process took, start-up included.
;;; The events of a batch are sent one at a time, each once the record
;;; before came back.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (tests lib tap)
             (tests lib cli))

(define (invoke handler . args)
  (apply guile-lambda "invoke" (fixture handler) args))

(define (case-event name)
  (string-append "{\"case\":\"" name "\"}"))

;; The pending timers of these fixtures are due in 5 s: an invocation
;; that waited for one would last that long.
(define (at-once? r)
  (let ((ms (report-duration r)))
    (and ms (< ms 1000))))

;; libuv keeps time in whole milliseconds: a timer may fire up to 1 ms
;; early, as in Node.
(define (lasted-at-least? r ms)
  (let ((d (report-duration r)))
    (and d (>= d (- ms 1)))))

(define (warn-lines r)
  (log-lines-matching r "\tWARN\t"))

;; The stderr lines from START of request ID to its END.
(define (invocation-lines r id)
  (let ((from (find-tail (lambda (l) (string-prefix? (string-append "START RequestId: " id) l))
                         (string-split (run-stderr r) #\newline))))
    (if from
        (take-while (lambda (l) (not (string-prefix? "END RequestId: " l))) from)
        '())))

(define (record-ids r)
  (map (lambda (x) (json-ref x "requestId")) (run-records r)))

(run-tests "completion"
 (lambda ()
   (test-group "rule 1: callback error is reported at once"
     (let ((r (invoke "rule1-error-pending.scm")))
       (test-equal "exit status 1" 1 (run-status r))
       (test-equal "errorType names the kind" "string"
                   (json-ref (run-json r) "errorType"))
       (test-equal "errorMessage" "boom" (json-ref (run-json r) "errorMessage"))
       (test-assert "without waiting for the pending 5 s timer" (at-once? r))
       (test-assert "the timer never fired"
                    (not (stderr-has? r "timer fired")))
       (test-assert "the error is logged" (stderr-has? r "ERROR\tInvoke Error"))))

   (test-group "rule 1: an exception object"
     (let* ((r (invoke "rule1-exception.scm"))
            (error (run-json r)))
       (test-equal "exit status 1" 1 (run-status r))
       (test-equal "errorType names the exception's kind" "error"
                   (json-ref error "errorType"))
       (test-equal "errorMessage: the message and the irritants" "invalid order 42"
                   (json-ref error "errorMessage"))
       (test-assert "a stackTrace vector" (vector? (json-ref error "stackTrace")))
       (test-assert "at once, though a timer was pending" (at-once? r))
       (test-assert "the timer never fired" (not (stderr-has? r "timer fired")))))

   (test-group "rule 2: callback success and the flag"
     (let ((r (invoke "rule2-no-wait.scm")))
       (test-equal "flag #f: success" 0 (run-status r))
       (test-equal "flag #f: the callback's result" 42
                   (json-ref (run-json r) "answer"))
       (test-assert "flag #f: reported at once" (at-once? r))
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
                    (lasted-at-least? r 300)))
     (let ((r (invoke "rule2-flag-later.scm")))
       (test-equal "flag #f at the call, #t after: success" 0 (run-status r))
       (test-equal "with the callback's result" "at once" (run-json r))
       (test-assert "reported at once: setting the flag later changed nothing"
                    (at-once? r))
       (test-assert "the timer stayed frozen" (not (stderr-has? r "timer fired")))))

   (test-group "rule 3: context-succeed, context-fail, context-done"
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"succeed\"}")))
       (test-equal "succeed: status" 0 (run-status r))
       (test-equal "succeed: result" "succeed" (json-ref (run-json r) "via"))
       (test-assert "succeed: at once, flag #t notwithstanding" (at-once? r)))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"fail\"}")))
       (test-equal "fail: status" 1 (run-status r))
       (test-equal "fail: message" "failed on purpose"
                   (json-ref (run-json r) "errorMessage"))
       (test-assert "fail: at once" (at-once? r)))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"fail-without-error\"}")))
       (test-equal "fail with #f: status" 1 (run-status r))
       (test-equal "fail with #f: the error string \"handled\", as Node's fail(null)"
                   '("string" . "handled")
                   (cons (json-ref (run-json r) "errorType")
                         (json-ref (run-json r) "errorMessage"))))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"done-error\"}")))
       (test-equal "done with an error: status" 1 (run-status r))
       (test-equal "done with an error: message" "done with error"
                   (json-ref (run-json r) "errorMessage"))
       (test-assert "done with an error: at once" (at-once? r)))
     (let ((r (invoke "rule3-context.scm" "{\"how\":\"done\"}")))
       (test-equal "done: status" 0 (run-status r))
       (test-equal "done: result" "done" (json-ref (run-json r) "via"))
       (test-assert "done: at once" (at-once? r))))

   (test-group "rule 4: the first completion wins"
     (let ((r (invoke "rule4-first-wins.scm")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the first result" "first" (run-json r))
       (test-equal "each later completion gets a WARN line" 2
                   (length (log-lines-matching r "WARN\t.*ignored"))))
     (let ((r (invoke "rule4-cases.scm" (case-event "error-first"))))
       (test-equal "an error first: it is reported" 1 (run-status r))
       (test-equal "an error first: its message" "first error"
                   (json-ref (run-json r) "errorMessage"))
       (test-equal "an error first: the success and the succeed after it are WARN lines" 2
                   (length (log-lines-matching r "WARN\t.*ignored"))))
     (let ((r (invoke "rule4-cases.scm" (case-event "late-success"))))
       (test-equal "late from a timer while waiting: success" 0 (run-status r))
       (test-equal "late from a timer while waiting: the first result" "first"
                   (run-json r))
       (test-assert "late from a timer while waiting: the timer ran in the invocation"
                    (stderr-has? r (string-append "\t" (or (run-request-id r) "?")
                                                  "\tINFO\ttimer completes again$")))
       (test-equal "late from a timer while waiting: one WARN line" 1
                   (length (log-lines-matching r "WARN\t.*ignored")))
       (test-assert "late from a timer while waiting: ended once the loop was empty"
                    (lasted-at-least? r 100))
       (test-assert "late from a timer while waiting: the WARN line prints no C null"
                    (not (stderr-has? r "\tWARN\t.*\\(null\\)"))))
     (let ((r (invoke "rule4-cases.scm" (case-event "late-error"))))
       (test-equal "a late error from a timer: still success" 0 (run-status r))
       (test-equal "a late error from a timer: the first result" "first"
                   (run-json r))
       (test-assert "a late error from a timer: the timer ran"
                    (stderr-has? r "\tINFO\ttimer fails late$"))
       (test-equal "a late error from a timer: one WARN line" 1
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
       (test-assert "at once, though a timer was pending" (at-once? r))))

   ;; As the Node runtime does: after (callback #f result), even one
   ;; still waiting for the empty loop, a raise is a later completion.
   (test-group "rule 5: a raise after the callback is ignored"
     (let ((r (invoke "rule5-after-callback.scm" (case-event "nothing-pending"))))
       (test-equal "flag #t, nothing pending: success" 0 (run-status r))
       (test-equal "flag #t, nothing pending: the callback's result" "ok"
                   (run-json r))
       (test-equal "flag #t, nothing pending: the raise is a WARN line" 1
                   (length (log-lines-matching r "\tWARN\t.*ignored")))
       (test-assert "flag #t, nothing pending: at once" (at-once? r)))
     (let ((r (invoke "rule5-after-callback.scm" (case-event "waiting"))))
       (test-equal "flag #t, a timer pending: success" 0 (run-status r))
       (test-equal "flag #t, a timer pending: the callback's result" "ok"
                   (run-json r))
       (test-assert "flag #t, a timer pending: it still waited for the timer"
                    (and (stderr-has? r "\tINFO\ttimer fired$")
                         (lasted-at-least? r 200)))
       (test-equal "flag #t, a timer pending: the raise is a WARN line" 1
                   (length (log-lines-matching r "\tWARN\t.*ignored"))))
     (let ((r (invoke "rule5-after-callback.scm" (case-event "no-wait"))))
       (test-equal "flag #f: success" 0 (run-status r))
       (test-equal "flag #f: the callback's result" "ok" (run-json r))
       (test-assert "flag #f: at once" (at-once? r))
       (test-equal "flag #f: the raise is a WARN line" 1
                   (length (log-lines-matching r "\tWARN\t.*ignored"))))
     (let ((r (invoke "rule5-after-callback.scm" (case-event "error-first"))))
       (test-equal "an error first: it is reported" 1 (run-status r))
       (test-equal "an error first: its message, not the raise's" "the first error"
                   (json-ref (run-json r) "errorMessage"))))

   (test-group "rule 6: returning without completing"
     (let ((r (invoke "rule6-no-completion.scm")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the result is null" "null\n" (run-stdout r))
       (test-assert "the timer ran in the invocation" (stderr-has? r "timer fired"))
       (test-assert "only once the loop was empty: the 200 ms timer had fired"
                    (lasted-at-least? r 200))
       (test-assert "and not much later" (at-once? r))))

   (test-group "rule 7: an uncaught exception in a loop callback"
     (let* ((r (batch-steps (fixture "rule7-uncaught.scm")
                            '("{\"explode\":true}" "{}")))
            (records (run-records r))
            (failed (car records))
            (next (cadr records)))
       (test-equal "the running invocation fails" "error"
                   (json-ref failed "status"))
       (test-equal "with the exception's kind" "out-of-range"
                   (json-ref failed "error" "errorType"))
       (test-assert "the message names the callback's origin and request"
                    (string-contains (json-ref failed "error" "errorMessage")
                                     (string-append "rule7-uncaught.scm:9:7 during request "
                                                    (json-ref failed "requestId"))))
       (test-assert "the container is reset: the next event is a cold start"
                    (let ((init (json-ref next "initDurationMs")))
                      (and (number? init) (> init 0))))
       (test-equal "and module state is gone" 1
                   (json-ref next "result" "calls"))
       (test-equal "batch exits 1 when an event failed" 1 (run-status r)))
     (let ((r (invoke "rule7-later-turn.scm")))
       (test-equal "after the failure: the invocation failed" "failed in a timer"
                   (let ((m (json-ref (run-json r) "errorMessage")))
                     (and (string? m) (string-suffix? "failed in a timer" m) "failed in a timer")))
       (test-assert "after the failure: no callback of a later turn ran"
                    (not (stderr-has? r "the next turn ran"))))
     (let* ((r (invoke "rule7-io.scm"))
            (id (run-request-id r)))
       (test-equal "an I/O callback: the invocation fails" 1 (run-status r))
       (test-equal "an I/O callback: with the exception's kind" "out-of-range"
                   (json-ref (run-json r) "errorType"))
       (test-assert "an I/O callback: the message names the request's origin"
                    (string-match (string-append
                                   "fs #[0-9]+ .*created at [^ ]*tests/handlers/rule7-io\\.scm:5:3 "
                                   "during request " (or id "?") ": ")
                                  (json-ref (run-json r) "errorMessage"))))
     ;; The stale timer is due 200 ms after the first invocation made
     ;; it; the second event is sent 300 ms after the first record.
     (let* ((r (batch-steps (fixture "rule7-stale.scm")
                            '("{\"n\":1}" 0.3 "{\"n\":2}")))
            (records (run-records r)))
       (test-equal "the first invocation succeeds" 1
                   (json-ref (car records) "result"))
       (test-equal "the stale callback fails the invocation thawed into"
                   "error" (json-ref (cadr records) "status"))
       (test-assert "its message names the origin in the first invocation"
                    (let ((msg (json-ref (cadr records) "error" "errorMessage")))
                      (and (string-contains msg "rule7-stale.scm:7:5 ")
                           (string-contains msg (string-append
                                                 "during request "
                                                 (json-ref (car records) "requestId"))))))
       (test-assert "the second handler was never called"
                    (not (stderr-has? r "handler called with 2")))))

   (test-group "freeze and thaw"
     ;; arm: timers of 30, 10 and 20 ms and one of 60 s, completed at
     ;; once; 100 ms later next: the three are overdue.
     (let* ((r (batch-steps (fixture "freeze-thaw.scm")
                            '("{\"step\":\"arm\"}" 0.1 "{\"step\":\"next\"}"
                              "{\"step\":\"stale\"}" 0.1 "{\"step\":\"fresh\"}"
                              "{\"step\":\"wait\"}")
                            #:args '("--timeout" "1")))
            (records (run-records r))
            (ids (record-ids r))
            (id (lambda (n) (list-ref ids (- n 1))))
            (status (lambda (n) (json-ref (list-ref records (- n 1)) "status")))
            (result (lambda (n) (json-ref (list-ref records (- n 1)) "result"))))
       (test-equal "one record per event" 5 (length records))
       (when (= 5 (length records))
         (let* ((next (invocation-lines r (id 2)))
                (fired (filter (lambda (l) (string-match "\ttimer of [0-9]+ ms fired$" l))
                               next))
                (handler (list-index (lambda (l) (string-suffix? "\thandler called for next" l))
                                     next)))
           (test-equal "the overdue timers ran at thaw, in time order"
                       '("10" "20" "30")
                       (map (lambda (l) (match:substring
                                         (string-match "timer of ([0-9]+) ms" l) 1))
                            fired))
           (test-assert "all before the handler was called"
                        (and handler
                             (every (lambda (l) (< (list-index (lambda (x) (eq? x l)) next)
                                                   handler))
                                    fired)))
           (test-assert "they carry the request id of the invocation before (§6)"
                        (every (lambda (l) (string-contains l (string-append "\t" (id 1) "\t")))
                               fired))
           (test-assert "no timer ran in the first invocation or while frozen after it"
                        (let* ((all (string-split (run-stderr r) #\newline))
                               (start2 (list-index
                                        (lambda (l) (string-prefix? (string-append "START RequestId: " (id 2)) l))
                                        all)))
                          (and start2
                               (not (any (lambda (l) (string-contains l "fired"))
                                         (take all start2))))))
           (test-equal "the timer not yet due stayed frozen" '()
                       (log-lines-matching r "far timer fired"))
           (test-equal "next: success at once" "next" (result 2))
           (test-equal "a stale callback cannot complete a later invocation" "fresh"
                       (result 4))
           (test-assert "it ran at thaw, before the handler"
                        (let ((lines (invocation-lines r (id 4))))
                          (and (list-index (lambda (l) (string-suffix? "\tstale timer completes" l))
                                           lines)
                               (< (list-index (lambda (l) (string-suffix? "\tstale timer completes" l))
                                              lines)
                                  (or (list-index (lambda (l) (string-suffix? "\thandler called for fresh" l))
                                                  lines)
                                      -1)))))
           (test-equal "and its two completions are WARN lines" 2
                       (length (filter (lambda (l) (string-match "\tWARN\t.*ignored" l))
                                       (invocation-lines r (id 4)))))
           (test-equal "a frozen timer of an earlier invocation keeps a later one waiting"
                       "timeout" (status 5))
           (test-assert "and the timeout names it with the request that made it"
                        (any (lambda (l)
                               (string-match (string-append
                                              "ERROR\t  timer #[0-9]+ \\(timeout, due in [0-9]+ ms\\), "
                                              "created at [^ ]*freeze-thaw\\.scm:15:7 during request "
                                              (id 1) "$")
                                             l))
                             (invocation-lines r (id 5))))
           (test-equal "the first REPORT has an Init Duration, the warm ones none"
                       '(#t #f #f #f #f)
                       (map (lambda (i) (and (string-contains (or (report-line r i) "")
                                                              "Init Duration: ")
                                             #t))
                            ids))))))

   (test-group "return style"
     (let ((r (invoke "return-style.scm" "{\"n\":21}")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the returned value is the result" 42
                   (json-ref (run-json r) "doubled"))
       (test-assert "at once: the flag has no effect" (at-once? r)))
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
       (test-assert "at once" (at-once? r)))
     ;; The timer is due 50 ms after the first invocation made it.
     (let* ((r (batch-steps (fixture "review-regressions.scm")
                            '("{\"case\":\"partial-line\"}" 0.1 "{}")))
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
