;;; (await …) in return-style handlers: sequential awaits, errors raised
;;; at the await and caught by the handler, awaits inside nested
;;; procedures and loops, and the clear errors of DESIGN.md §3.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli)
             (ice-9 regex))

(define (await-case name)
  (guile-lambda "invoke" (fixture "await.scm")
                (string-append "{\"case\":\"" name "\"}")))

(run-tests "await"
 (lambda ()
   (let ((r (await-case "sequential")))
     (test-equal "sequential awaits: the values in order" #(1 2 3) (run-json r))
     (test-assert "sequential awaits: the handler resumed after each"
                  (stderr-has? r "INFO\tresumed three times")))
   (test-equal "await in a nested procedure and a loop" 30
               (run-json (await-case "nested")))
   (test-equal "an operation's error is raised at the await and can be caught"
               "the operation failed"
               (assoc-ref (run-json (await-case "caught")) "caught"))
   (test-equal "an operation that raises at once raises at the await"
               "caught at the await" (run-json (await-case "sync-error")))
   (let ((r (await-case "uncaught")))
     (test-equal "an uncaught one fails the invocation" 1 (run-status r))
     (test-equal "with its message" "nobody caught this"
                 (assoc-ref (run-json r) "errorMessage")))
   (let ((without (json-ref (run-json (await-case "trace-without-await"))
                            "stackTrace"))
         (with (json-ref (run-json (await-case "trace")) "stackTrace")))
     (define (names-fail-here? trace)
       (and (vector? trace) (> (vector-length trace) 0)
            (string-match "^at fail-here \\(.*await\\.scm:[0-9]+:[0-9]+\\)$"
                          (vector-ref trace 0))))
     (test-assert "an error's stack trace names the procedure that raised"
                  (names-fail-here? without))
     (test-assert "and still does after the handler was resumed from await"
                  (names-fail-here? with))
     (test-equal "the same frames with and without await" without with))
   (let ((r (await-case "never")))
     (test-equal "never resumed: status" 1 (run-status r))
     (test-equal "never resumed: error type" "Runtime.AwaitNeverResumed"
                 (assoc-ref (run-json r) "errorType"))
     (test-assert "never resumed: the message names the await and its place"
                  (string-contains (assoc-ref (run-json r) "errorMessage")
                                   "(await (never)) at "))
     (test-assert "never resumed: ends when the loop drains, not at the timeout"
                  (let ((ms (report-duration r))) (and ms (< ms 1000)))))
   (let ((r (await-case "c-frame")))
     (test-equal "across a C frame: fails" 1 (run-status r))
     (test-assert "across a C frame: says so"
                  (string-contains (assoc-ref (run-json r) "errorMessage")
                                   "across a C frame")))
   (let ((r (guile-lambda "invoke" (fixture "await-callback-style.scm"))))
     (test-equal "outside a return-style handler: fails" 1 (run-status r))
     (test-assert "outside a return-style handler: says where await works"
                  (string-contains (assoc-ref (run-json r) "errorMessage")
                                   "await works only inside a return-style handler")))))
