;;; guile-lambda invoke: the command line, exit statuses, init errors,
;;; the context, the environment, and log lines (DESIGN.md §2, §3, §6, §7).
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (ice-9 textual-ports)
             (json)
             (tests lib tap)
             (tests lib cli))

(define (invoke handler . args)
  (apply guile-lambda "invoke" (fixture handler) args))

(define uuid "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
(define timestamp "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z")

(define (init-error-check r type)
  (test-equal (string-append type ": exit status 3") 3 (run-status r))
  (test-equal (string-append type ": errorType") type
              (json-ref (run-json r) "errorType")))

(run-tests "invoke"
 (lambda ()
   (test-group "help and version"
     (let ((r (guile-lambda "--help")))
       (test-equal "--help exits 0" 0 (run-status r))
       (test-assert "--help shows usage"
                    (string-prefix? "Usage: guile-lambda COMMAND" (run-stdout r)))
       (test-assert "--help documents every option and command"
                    (every (lambda (s) (string-contains (run-stdout r) s))
                           '("invoke HANDLER" "batch HANDLER" "--timeout"
                             "--memory" "--function-name" "--env KEY=VALUE"
                             "--env-file" "--version" "Exit status"))))
     ;; --help and the README give the same exit statuses.
     (let ((help (run-stdout (guile-lambda "--help")))
           (readme (call-with-input-file
                       (string-append (or (getenv "abs_top_srcdir") ".")
                                      "/README.md")
                     get-string-all)))
       ;; The statuses named in TEXT between FROM and TO, sorted.
       (define (statuses text from to)
         (let* ((start (string-contains text from))
                (end (and start (string-contains text to start))))
           (if end
               (sort (delete-duplicates
                      (map (lambda (m) (string->number (match:substring m)))
                           (list-matches "\\b(0|1|2|3|74|124)\\b"
                                         (substring text start end))))
                     <)
               '())))
       (test-equal "--help gives batch's exit statuses, 74 and 124 too"
                   '(0 1 2 74 124)
                   (statuses help "Exit status of batch" "\n\n"))
       (test-equal "as the README does"
                   (statuses help "Exit status of batch" "\n\n")
                   (statuses readme "The exit status is 0 only" "## "))
       (test-equal "and invoke's as the README does"
                   (statuses help "Exit status of invoke" "Exit status of batch")
                   (statuses readme "Exit status of `invoke`" "`batch`")))
     (let ((r (guile-lambda "--version")))
       (test-equal "--version exits 0" 0 (run-status r))
       (test-assert "--version names the program and version"
                    (string-match "^guile-lambda [0-9]+\\.[0-9]+" (run-stdout r)))))

   (test-group "bad usage exits 2 with a message"
     (for-each
      (lambda (args pattern)
        (let ((r (apply guile-lambda args)))
          (test-equal (format #f "~a: status" args) 2 (run-status r))
          (test-assert (format #f "~a: message" args) (stderr-has? r pattern))
          (test-assert (format #f "~a: points to --help" args)
                       (stderr-has? r "Try 'guile-lambda --help'"))))
      '(() ("frobnicate" "x.scm") ("invoke") ("invoke" "x.scm" "--bogus")
        ("invoke" "x.scm" "--timeout" "soon") ("invoke" "x.scm" "--memory" "5")
        ("invoke" "x.scm" "{}" "extra") ("invoke" "x.scm" "--env" "NOEQUALS")
        ;; 2^32 + 128 and -(2^32) + 128: no wrap-around into the range.
        ("invoke" "x.scm" "--memory" "4294967424")
        ("invoke" "x.scm" "--memory" "-4294967168")
        ("invoke" "x.scm" "--timeout" "nan") ("invoke" "x.scm" "--timeout" "inf")
        ("invoke" "x.scm" "--timeout" "1e999")
        ;; Options of another command are not ignored silently.
        ("batch" "x.scm" "--event-template" "sqs")
        ("invoke" "x.scm" "--listen") ("invoke" "x.scm" "--listen" "3000")
        ("invoke" "x.scm" "--function-name" ""))
      '("no command" "unknown command 'frobnicate'" "needs a HANDLER"
        "unknown option '--bogus'" "--timeout takes seconds" "--memory takes megabytes"
        "unexpected argument 'extra'" "expected KEY=VALUE"
        "--memory takes megabytes from 128 to 10240, not '4294967424'"
        "--memory takes megabytes from 128 to 10240, not '-4294967168'"
        "--timeout takes seconds" "--timeout takes seconds"
        "--timeout takes seconds"
        "--event-template works only with invoke, not batch"
        "--listen works only with repl, not invoke"
        "--listen works only with repl, not invoke"
        "--function-name takes a name, not an empty string")))

   (test-group "a result that is a list: Runtime.MarshalError with a hint"
     (for-each
      (lambda (case hint?)
        (let* ((r (invoke "marshal-list.scm"
                          (string-append "{\"case\":\"" case "\"}")))
               (message (json-ref (run-json r) "errorMessage")))
          (test-equal (string-append case ": errorType") "Runtime.MarshalError"
                      (json-ref (run-json r) "errorType"))
          (test-assert (string-append case ": Node's message first")
                       (string-prefix? "Unable to stringify response body"
                                       message))
          (test-equal (string-append case (if hint? ": says a JSON array is a vector"
                                              ": no hint about lists"))
                      hint?
                      (and (string-contains message "for a JSON array use a vector")
                           #t))))
      '("list" "nested" "procedure")
      '(#t #t #f)))

   (test-group "events"
     (let ((r (guile-lambda "invoke" (example "hello.scm") "{\"name\": ")))
       (test-equal "malformed JSON: status 2" 2 (run-status r))
       (test-assert "malformed JSON: a clear message"
                    (stderr-has? r "the event is not valid JSON: JSON: .*line 1"))
       (test-equal "malformed JSON: nothing on stdout" "" (run-stdout r)))
     (let ((r (guile-lambda "invoke" (example "hello.scm") "-"
                            #:input "{\"name\":\"stdin\"}")))
       (test-equal "from standard input" "Hello, stdin!"
                   (json-ref (run-json r) "message")))
     (let* ((file (temp-file "{\"name\":\"file\"}")))
       (let ((r (guile-lambda "invoke" (example "hello.scm") (string-append "@" file))))
         (test-equal "from @FILE" "Hello, file!" (json-ref (run-json r) "message")))
       (delete-file file))
     (let ((r (guile-lambda "invoke" (example "hello.scm") "@/nonexistent/event.json")))
       (test-equal "a missing @FILE: status 2" 2 (run-status r))
       (test-assert "a missing @FILE: named"
                    (stderr-has? r "cannot read the event file /nonexistent/event.json")))
     (let ((r (guile-lambda "invoke" (example "hello.scm"))))
       (test-equal "the default event is {}" "Hello, world!"
                   (json-ref (run-json r) "message"))))

   (test-group "init errors exit 3"
     (init-error-check (guile-lambda "invoke" "/nonexistent/handler.scm")
                       "Runtime.ImportModuleError")
     (test-equal "a missing absolute file: named, not looked for in the directory"
                 "Error: Cannot find the handler file '/nonexistent/handler.scm'"
                 (json-ref (run-json (guile-lambda "invoke" "/nonexistent/handler.scm"))
                           "errorMessage"))
     (test-equal "a missing relative file: where it was looked for"
                 (string-append "Error: Cannot find the handler file "
                                "'nonexistent-handler.scm' (looked in " (getcwd) ")")
                 (json-ref (run-json (guile-lambda "invoke" "nonexistent-handler.scm"))
                           "errorMessage"))
     (init-error-check (invoke "syntax-error.scm") "Runtime.UserCodeSyntaxError")
     (init-error-check (invoke "no-handler.scm") "Runtime.HandlerNotFound")
     (init-error-check (invoke "not-procedure.scm") "Runtime.HandlerNotFound")
     (init-error-check (guile-lambda "invoke" "../escape.handler")
                       "Runtime.MalformedHandlerName")
     (init-error-check (guile-lambda "invoke" "nodot") "Runtime.MalformedHandlerName")
     (let ((r (invoke "init-raise.scm")))
       (init-error-check r "misc-error")
       (test-assert "init output is logged with request id undefined"
                    (stderr-has? r "\tundefined\tINFO\tinitialising"))
       (test-assert "the REPORT has an Init Duration"
                    (stderr-has? r "^REPORT .*Init Duration: [0-9.]+ ms"))))

   (test-group "a handler file with its own module"
     (let* ((r (guile-lambda "invoke" (string-append (fixture "module-handler.scm") ":run")))
            (result (run-json r)))
       (test-equal "succeeds" 0 (run-status r))
       (test-equal "the rest of the file runs in its module" "(my handler)"
                   (json-ref result "module"))
       (test-equal "and sees what it imports" "from srfi-1" (json-ref result "first"))
       (test-equal "under a prefix too" 2 (json-ref result "bytes"))
       (test-equal "the function name defaults to the file's" "module-handler"
                   (json-ref result "name"))))

   (test-group "handler names"
     (let ((r (guile-lambda "invoke" "context.handler"
                            #:env `(("LAMBDA_TASK_ROOT" . ,(fixture ""))))))
       (test-equal "NAME.PROC under LAMBDA_TASK_ROOT" 0 (run-status r))
       (test-equal "its function name" "context"
                   (json-ref (run-json r) "functionName"))))

   ;; The names that the Node runtime's own tests load
   ;; (test/unit/UserFunctionTest.js), over its handlers rewritten in
   ;; tests/handlers/names/.
   (test-group "handler names as the Node runtime reads them"
     (define* (load-name name #:optional (root (fixture "names")))
       (guile-lambda "invoke" name "{\"echo\":\"This is a echo test\"}"
                     #:env `(("LAMBDA_TASK_ROOT" . ,root))))
     (let ((r (load-name "core.echo")))
       (test-equal "core.echo: loads" 0 (run-status r))
       (test-equal "core.echo: echoes" "This is a echo test"
                   (json-ref (run-json r) "echo")))
     (let ((r (load-name "nestedHandler.nested.somethingComplex.handler")))
       (test-equal "a nested name splits at the first dot" "something interesting"
                   (run-json r)))
     (test-equal "its function name is the file's" "nestedHandler"
                 (run-json (load-name "nestedHandler.nested.functionName")))
     (test-equal "a nested name with a path to the module" "something interesting"
                 (run-json (load-name "names/nestedHandler.nested.somethingComplex.handler"
                                      (fixture ""))))
     (init-error-check (load-name "malformed..handler") "Runtime.MalformedHandlerName")
     (init-error-check (load-name "names/../names/core.echo" (fixture ""))
                       "Runtime.MalformedHandlerName")
     (init-error-check (load-name "malformedHandler") "Runtime.MalformedHandlerName")
     (init-error-check (load-name "malformedHandler" (fixture "names/non/existent/path"))
                       "Runtime.MalformedHandlerName")
     (init-error-check (load-name "noModule.echo") "Runtime.ImportModuleError")
     (init-error-check (load-name "nestedHandler.nested.somethingComplex.nonHandler")
                       "Runtime.HandlerNotFound")
     (init-error-check (load-name "core.noFunctionHandler") "Runtime.HandlerNotFound"))

   (test-group "init warnings"
     (let ((r (invoke "unbound-variable.scm")))
       (test-equal "a variable nothing defines does not stop init" 0 (run-status r))
       (test-equal "it is a WARN line at init, with the file and line" 1
                   (length (log-lines-matching
                            r "\tundefined\tWARN\t.*/unbound-variable.scm:6:[0-9]+: .*`undefined-helper'")))
       (test-assert "a forward reference is not warned about"
                    (not (stderr-has? r "later-defined")))
       (test-assert "nor does Guile print warnings of its own"
                    (not (stderr-has? r "warning:")))))

   (test-group "an error raised with no file descriptor left"
     (let* ((r (run (list "sh" "-c" "ulimit -n 128 && exec guile-lambda invoke \"$0\""
                          (fixture "descriptors-exhausted.scm"))))
            (error (run-json r)))
       (test-equal "it is the handler's error" "misc-error"
                   (json-ref error "errorType"))
       (test-assert "with its message"
                    (string-prefix? "no file descriptor left"
                                    (json-ref error "errorMessage")))
       (test-assert "and its stack trace, which names the handler's file"
                    (string-contains (json-ref error "stackTrace" 0)
                                     "descriptors-exhausted.scm"))))

   (test-group "the context"
     (let* ((r (invoke "context.scm" "--function-name" "orders" "--memory" "512"
                       "--timeout" "2" "--env" "GREETING=hi"))
            (ctx (run-json r))
            (start (log-lines-matching r "^START RequestId: ")))
       (test-equal "function name" "orders" (json-ref ctx "functionName"))
       (test-equal "version" "$LATEST" (json-ref ctx "functionVersion"))
       (test-equal "memory" 512 (json-ref ctx "memoryLimitInMB"))
       (test-assert "ARN" (string-match "^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:orders$"
                                        (json-ref ctx "invokedFunctionArn")))
       (test-assert "request id is a UUID" (string-match uuid (json-ref ctx "awsRequestId")))
       (test-assert "the same request id as START"
                    (and (pair? start) (string-contains (car start) (json-ref ctx "awsRequestId"))))
       (test-equal "log group" "/aws/lambda/orders" (json-ref ctx "logGroupName"))
       (test-assert "log stream" (string-match "^[0-9]{4}/[0-9]{2}/[0-9]{2}/\\[\\$LATEST\\][0-9a-f]{32}$"
                                               (json-ref ctx "logStreamName")))
       (test-equal "identity" 'null (json-ref ctx "identity"))
       (test-equal "client context" 'null (json-ref ctx "clientContext"))
       (test-assert "remaining time is within the 2 s timeout"
                    (let ((ms (json-ref ctx "remainingTimeInMillis")))
                      (and (> ms 1000) (<= ms 2000))))
       (test-equal "the flag defaults to #t" #t (json-ref ctx "waits"))
       (test-equal "--env reaches the handler" "hi" (json-ref ctx "greeting"))
       (test-equal "REPORT shows the memory size" 1
                   (length (log-lines-matching r "^REPORT .*\tMemory Size: 512 MB\t"))))
     (let* ((file (temp-file "# settings\nGREETING=from file\n\nexport OTHER=x=y\n"))
            (r (invoke "context.scm" "--env-file" file)))
       (test-equal "--env-file: a value" "from file" (json-ref (run-json r) "greeting"))
       (test-equal "--env-file: export and = in values" "x=y" (json-ref (run-json r) "other"))
       (call-with-output-file file (lambda (p) (display "GOOD=1\nnot an assignment\n" p)))
       (let ((bad (invoke "context.scm" "--env-file" file)))
         (test-equal "--env-file: a bad line exits 2" 2 (run-status bad))
         (test-assert "--env-file: and names the line" (stderr-has? bad (string-append (regexp-quote file)
                                                                                   ", line 2: expected KEY=VALUE"))))
       (delete-file file)))

   (test-group "log lines"
     (let* ((r (invoke "context.scm"))
            (id (json-ref (run-json r) "awsRequestId")))
       (test-assert "START" (stderr-has? r (string-append "^START RequestId: " id " Version: \\$LATEST$")))
       (test-assert "END" (stderr-has? r (string-append "^END RequestId: " id "$")))
       (test-assert "REPORT"
                    (stderr-has? r (string-append "^REPORT RequestId: " id "\tDuration: [0-9]+\\.[0-9]{2} ms\tBilled Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB\tInit Duration: [0-9]+\\.[0-9]{2} ms$")))
       (test-assert "output port lines are INFO lines with the request id"
                    (stderr-has? r (string-append "^" timestamp "\t" id "\tINFO\tinside the handler$")))
       (test-assert "error port lines are ERROR lines"
                    (stderr-has? r (string-append "\t" id "\tERROR\tto the error port$")))
       (test-assert "log-message picks the level" (stderr-has? r "\tWARN\ta warning$"))
       (test-assert "text logs are not filtered by level" (stderr-has? r "\tDEBUG\ta debug line$"))
       (test-assert "init output carries undefined" (stderr-has? r "\tundefined\tINFO\tinit runs before any request$"))
       (test-assert "Max Memory Used is measured, not the limit"
                    (let ((m (string-match "Max Memory Used: ([0-9]+) MB" (run-stderr r))))
                      (and m (let ((mb (string->number (match:substring m 1))))
                               (and (> mb 1) (< mb 128))))))
       (test-assert "results are not on stderr"
                    (not (stderr-has? r "functionName"))))
     ;; A constant, or the limit, would not follow what the handler
     ;; allocates.
     (let* ((used (lambda (r)
                    (let ((m (string-match "\tMax Memory Used: ([0-9]+) MB" (run-stderr r))))
                      (and m (string->number (match:substring m 1))))))
            ;; Each measured run finds the handler compiled in the
            ;; cache: one that compiles it holds the compiler too.
            (warm-up (invoke "memory-use.scm" "{}"))
            (base (used (invoke "memory-use.scm" "{}" "--memory" "512")))
            (grown (used (invoke "memory-use.scm" "{\"mb\":100}" "--memory" "512")))
            (other-limit (used (invoke "memory-use.scm" "{}" "--memory" "1024"))))
       (test-assert "Max Memory Used grows by what the handler allocates (100 MB)"
                    (and base grown (>= grown (+ base 90))))
       (test-assert "and does not follow the limit"
                    (and base other-limit (<= (abs (- other-limit base)) 10))))
     (let ((r (invoke "context.scm" #:env '(("AWS_LAMBDA_LOG_FORMAT" . "JSON")
                                            ("AWS_LAMBDA_LOG_LEVEL" . "INFO")))))
       (test-assert "JSON format: application lines"
                    (stderr-has? r "^\\{\"timestamp\":\"[^\"]+\",\"level\":\"INFO\",\"requestId\":\"[^\"]+\",\"message\":\"inside the handler\"\\}$"))
       (test-assert "JSON format: platform records"
                    (and (stderr-has? r "^\\{\"time\":\"[^\"]+\",\"type\":\"platform.start\"")
                         (stderr-has? r "\"type\":\"platform.report\".*\"maxMemoryUsedMB\"")))
       (test-assert "JSON format: the level filters DEBUG out"
                    (not (stderr-has? r "a debug line")))
       (test-assert "JSON format: WARN passes" (stderr-has? r "\"level\":\"WARN\""))))

   (test-group "the error line of a failed invocation"
     (define (error-line r)
       (let ((m (string-match "\tERROR\tInvoke Error \t(\\{[^\n]*)" (run-stderr r))))
         (and m (json-string->scm (match:substring m 1) #:ordered #t))))
     (let* ((r (invoke "error-objects.scm:raise-with-trace"))
            (logged (error-line r)))
       (test-assert "text format: Invoke Error, a tab and the error as JSON" logged)
       (test-equal "with its type" "misc-error" (json-ref logged "errorType"))
       (test-assert "and its trace under stack"
                    (let ((stack (json-ref logged "stack")))
                      (and (vector? stack) (> (vector-length stack) 0))))
       (test-assert "not stackTrace" (not (assoc "stackTrace" logged)))
       (test-equal "the response keeps stackTrace" (json-ref logged "stack")
                   (json-ref (run-json r) "stackTrace")))
     (let* ((r (invoke "error-objects.scm:raise-with-trace"
                       #:env '(("AWS_LAMBDA_LOG_FORMAT" . "JSON"))))
            (lines (log-lines-matching r "^\\{.*\"level\":\"ERROR\""))
            (line (and (pair? lines) (json-string->scm (car lines) #:ordered #t))))
       (test-assert "JSON format: one ERROR line" (= 1 (length lines)))
       (test-equal "its message is the error object itself" (run-json r)
                   (json-ref line "message"))))

   (test-group "control characters in an error"
     (let ((r (invoke "error-objects.scm:control-characters")))
       (test-equal "are percent-encoded in errorType, DEL and newline alike"
                   "Bad%7FType%0AX-Injected: yes"
                   (json-ref (run-json r) "errorType"))
       (test-equal "DEL is in errorMessage, which keeps its newline and tab"
                   "a%7Fb\nc\td"
                   (json-ref (run-json r) "errorMessage"))))

   (test-group "standard output holds results only"
     (let ((r (invoke "child-output.scm")))
       (test-equal "a child's output does not reach the result stream" "\"result\"\n"
                   (run-stdout r))
       (test-assert "it goes to the log instead" (stderr-has? r "from a child process"))))

   (test-group "a handler that exits"
     (let ((r (invoke "exit.scm")))
       (test-equal "is a function error" 1 (run-status r))
       (test-equal "Runtime.ExitError" "Runtime.ExitError" (json-ref (run-json r) "errorType"))
       (test-equal "with Lambda's message"
                   (string-append "RequestId: " (or (run-request-id r) "?")
                                  " Error: Runtime exited with error: exit status 3")
                   (json-ref (run-json r) "errorMessage"))))

   (test-group "invoke --isolation process: one event through a container"
     (let ((r (guile-lambda "invoke" "--isolation" "process"
                            (example "hello.scm") "{\"name\":\"Ada\"}")))
       (test-equal "the result" "{\"message\":\"Hello, Ada!\"}\n" (run-stdout r))
       (test-equal "exit status 0" 0 (run-status r))
       (test-assert "START, END and REPORT from the supervisor, with its cold start"
                    (stderr-has? r "^REPORT RequestId: .*Init Duration: ")))
     (let ((r (guile-lambda "invoke" "--isolation" "process" "--timeout" "1"
                            (fixture "faults.scm") "{\"fault\":\"segv\"}")))
       (test-equal "a container that dies: Runtime.ExitError, as Lambda says it"
                   (string-append "RequestId: " (or (run-request-id r) "?")
                                  " Error: Runtime exited with error: signal: segmentation fault")
                   (json-ref (false-if-exception (run-json r)) "errorMessage"))
       (test-equal "a function error: exit status 1" 1 (run-status r)))
     (let ((r (guile-lambda "invoke" "--isolation" "process"
                            (fixture "no-such-handler-file.scm"))))
       (test-equal "an init error: exit status 3" 3 (run-status r))
       (test-equal "and its error" "Runtime.ImportModuleError"
                   (json-ref (false-if-exception (run-json r)) "errorType"))))))
