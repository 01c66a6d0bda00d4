;;; The examples do what their comments promise.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (json)
             (tests lib tap)
             (tests lib cli))

(run-tests "examples"
 (lambda ()
   (test-group "hello"
     (let ((r (guile-lambda "invoke" (example "hello.scm") "{\"name\":\"Ada\"}")))
       (test-equal "status" 0 (run-status r))
       (test-equal "result" "Hello, Ada!" (json-ref (run-json r) "message"))))

   (test-group "cached-result"
     (let ((records (run-records (guile-lambda "batch" (example "cached-result.scm")
                                               #:input "{\"n\":10}\n{\"n\":20}\n{\"n\":-1}\n"))))
       (test-equal "the tenth prime" 31 (json-ref (car records) "result" "prime"))
       (test-equal "computed on the cold start" #f (json-ref (car records) "result" "cached"))
       (test-equal "reused while warm" #t (json-ref (cadr records) "result" "cached"))
       (test-equal "bad input is a custom error type" "InvalidInput"
                   (json-ref (caddr records) "error" "errorType"))))

   (test-group "interval"
     (let ((r (guile-lambda "invoke" (example "interval.scm") "--timeout" "1")))
       (test-equal "flag #t: times out" 124 (run-status r))
       (test-assert "flag #t: the log names the interval, its origin and request"
                    (stderr-has? r (string-append
                                    "timer #1 \\(interval 100 ms.*interval.scm:25:11 during request "
                                    (or (run-request-id r) "?") "$"))))
     (let ((r (guile-lambda "invoke" (example "interval.scm") "{\"wait\":false}")))
       (test-equal "flag #f: succeeds" 0 (run-status r))
       (test-assert "flag #f: at once"
                    (let ((ms (report-duration r))) (and ms (< ms 1000))))
       (test-assert "flag #f: the interval stayed frozen"
                    (not (stderr-has? r "polled the connection"))))
     (let* ((r (guile-lambda "batch" (example "interval.scm") "--timeout" "1"
                             #:input "{\"wait\":false}\n{}\n"))
            (records (run-records r))
            (second-id (json-ref (cadr records) "requestId")))
       (test-equal "the first succeeds, the second times out" '("success" "timeout")
                   (map (lambda (x) (json-ref x "status")) records))
       (test-assert "the interval ticked during the next invocation"
                    (>= (length (log-lines-matching
                                 r (string-append "\t" second-id "\tINFO\tpolled the connection")))
                        3))))

   (test-group "return-style"
     (let* ((r (guile-lambda "invoke" (example "return-style.scm")
                             "{\"body\":\"[1, 2, 3.5]\"}"))
            (response (run-json r)))
       (test-equal "status code" 200 (json-ref response "statusCode"))
       (test-equal "the body's sum" 6.5
                   (json-ref (json-string->scm (json-ref response "body")) "sum")))
     (let ((r (guile-lambda "invoke" (example "return-style.scm") "{\"body\":\"nope\"}")))
       (test-equal "a bad body is a 400, and no exception escapes" 400
                   (json-ref (run-json r) "statusCode"))
       (test-assert "its forward reference is not warned about"
                    (not (stderr-has? r "unbound")))))

   ;; The article: a handler calls its callback while a polled database
   ;; connection is open.
   (test-group "polled-connection"
     (let* ((r (guile-lambda "invoke" (example "polled-connection.scm")
                             "--timeout" "2"))
            (during (string-append " during request " (or (run-request-id r) "?") "$")))
       (test-equal "flag #t: times out" 124 (run-status r))
       (test-assert "the log names the TCP handles with their origin and request"
                    (stderr-has? r (string-append "ERROR\t  tcp #[0-9]+ \\(.*\\), created at .*polled-connection.scm:27:3"
                                                  during)))
       (test-assert "and the interval with its origin and request"
                    (stderr-has? r (string-append "ERROR\t  timer #[0-9]+ \\(interval 100 ms.*polled-connection.scm:83:18"
                                                  during)))
       (test-assert "after a second, a WARN already said what keeps it open"
                    (stderr-has? r "WARN\t  tcp #[0-9]+ .*polled-connection.scm:27:3"))
       (test-assert "its forward references are not warned about"
                    (not (stderr-has? r "unbound"))))
     ;; The second event is sent 150 ms after the first record came
     ;; back: the 100 ms poll is overdue, whatever the start-up took.
     (let* ((r (batch-steps (example "polled-connection.scm")
                            '("{\"wait\":false}" 0.15 "{\"wait\":false}")))
            (records (run-records r)))
       (test-equal "flag #f: both succeed" '("success" "success")
                   (map (lambda (x) (json-ref x "status")) records))
       (test-assert "flag #f: at once"
                    (every (lambda (x) (< (json-ref x "durationMs") 1000)) records))
       (test-equal "the next invocation uses the same connection"
                   (json-ref (car records) "result" "localPort")
                   (json-ref (cadr records) "result" "localPort"))
       (test-equal "which still answers" 2
                   (json-ref (cadr records) "result" "queries"))
       (test-assert "and was polled while frozen and thawed"
                    (> (json-ref (cadr records) "result" "polls") 0))))

   ;; The README's handler with a module of its own, through each front end.
   (test-group "own-module"
     (define event "{\"words\":[\"fig\",\"apple\",\"kiwi\",\"\\u00e9t\\u00e9\"]}")
     (define expected '(("count" . 4) ("longest" . "apple") ("utf8Bytes" . 17)))
     (let ((r (guile-lambda "invoke" (example "own-module.scm") event)))
       (test-equal "invoke" expected (run-json r))
       (test-assert "no warning at init" (not (stderr-has? r "WARN"))))
     (test-equal "batch, cold and warm" (list expected expected)
                 (map (lambda (record) (json-ref record "result"))
                      (run-records (guile-lambda "batch" (example "own-module.scm")
                                                 #:input (string-append event "\n" event "\n")))))
     (let ((r (guile-lambda "repl" (example "own-module.scm")
                            #:input (string-append ",invoke " event "\n"
                                                   "(longest (list \"a\" \"abc\"))\n"))))
       (test-assert "repl: the invocation's result"
                    (string-contains (run-stdout r) "{\"count\":4,\"longest\":\"apple\",\"utf8Bytes\":17}"))
       (test-assert "repl: evaluates in the handler's module"
                    (string-contains (run-stdout r) "= \"abc\""))))

   (test-group "direct-style"
     (let* ((r (guile-lambda "invoke" (example "direct-style.scm") "{\"text\":\"hello\"}"))
            (result (run-json r)))
       (test-equal "status" 0 (run-status r))
       (test-equal "through a file" "hello" (json-ref result "fromFile"))
       (test-equal "through TCP" "hello" (json-ref result "echoed"))
       (test-equal "through a child process" 5 (json-ref result "bytes"))))))
