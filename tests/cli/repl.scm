;;; guile-lambda repl, driven through its standard input (and once
;;; through a pseudo-terminal), asserting on what it prints.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (ice-9 textual-ports)
             (tests lib tap)
             (tests lib cli))

(define (repl handler . lines)
  (guile-lambda "repl" handler
                #:input (string-join lines "\n" 'suffix)))

(define (stdout-lines r)
  (string-split (run-stdout r) #\newline))

(define (line-index r pattern)
  (list-index (lambda (l) (string-match pattern l)) (stdout-lines r)))

(define (stdout-has? r pattern)
  (and (line-index r pattern) #t))

(run-tests "repl"
 (lambda ()
   (test-group "stepping a handler with two timers"
     (let* ((r (repl (fixture "repl-two-timers.scm")
                     ",start {}" ",step" ",step" ",step" ",step"))
            (first (line-index r "^Step 1: ran timer #1 .*repl-two-timers.scm:5:3"))
            (second (line-index r "^Step 1: ran timer #2 .*repl-two-timers.scm:6:3")))
       (test-equal "the REPL ends cleanly at the end of its input" 0 (run-status r))
       (test-assert "the handler was called and did not complete"
                    (stdout-has? r "^Not complete: nothing completed it yet; 2 handles"))
       (test-assert "the first timer fired on a step, with its origin" first)
       (test-assert "the second on a later step, with its origin"
                    (and first second (> second first)))
       (test-assert "the invocation completed by the callback"
                    (stdout-has? r "^Invocation 1 success \\(completed by callback\\)"))
       (test-assert "with its result" (stdout-has? r "^2$"))
       (test-assert "and the REPORT went to the log"
                    (stderr-has? r "^REPORT RequestId: "))))

   (test-group ",handles"
     (let ((r (repl (example "interval.scm") ",invoke {\"wait\":false}" ",handles")))
       (test-assert "flag #f: the invocation succeeded at once"
                    (stdout-has? r "^Invocation 1 success \\(completed by callback\\)"))
       (test-assert "the frozen interval is listed with its file and line"
                    (stdout-has? r "^1 +timer +yes +yes +.*examples/interval.scm:25:11 .*repeat=100"))))

   (test-group ",continue on a loop-blocked invocation"
     (let ((r (repl (example "interval.scm") ",timeout 1" ",start {}" ",continue" ",status")))
       (test-assert "ends in Sandbox.Timedout"
                    (stdout-has? r "^Invocation 1 timeout .*Sandbox.Timedout|^\\{\"errorType\":\"Sandbox.Timedout\""))
       (test-assert "the log lists what kept it alive, with its origin"
                    (stderr-has? r "ERROR\t  timer #1 \\(interval 100 ms.*interval.scm:25:11"))
       (test-assert "the container is cold afterwards"
                    (stdout-has? r "^Container: cold"))))

   (test-group ",reset"
     (let ((r (repl (fixture "repl-two-timers.scm")
                    ",invoke" ",invoke" ",reset" ",invoke" ",history")))
       (test-assert "the first invocation reports the init phase"
                    (stdout-has? r "^Invocation 1 success .* init [0-9.]+ ms:"))
       (test-assert "the second is warm"
                    (stdout-has? r "^Invocation 2 success \\(completed by callback\\) in [0-9.]+ ms:"))
       (test-assert "reset closes the handles and loads afresh"
                    (and (stdout-has? r "^Container reset: every handle closed")
                         (> (length (filter (lambda (l) (string-prefix? "Init phase done" l))
                                            (stdout-lines r)))
                            1)))
       (test-assert "the next ,invoke is a cold start"
                    (stdout-has? r "^Invocation 3 success .* init [0-9.]+ ms:"))
       (test-assert ",history lists all three"
                    (stdout-has? r "^3 +[0-9a-f-]+ +success"))))

   (test-group "errors leave the REPL usable"
     (let ((r (repl (example "hello.scm")
                    ",step 0" ",result 99" "(car 5)" ",q" "(+ 40 2)"
                    ",invoke {\"name\":\"again\"}")))
       (test-assert "a bad command argument says what is wrong"
                    (stdout-has? r "step: no invocation is running|step: N is a positive integer"))
       (test-assert "a bad ,result number too"
                    (stdout-has? r "result: N is from 1 to 0"))
       (test-assert "an error in the person's own expression is reported"
                    (stdout-has? r "Wrong type argument in position 1 \\(expecting pair\\): 5"))
       (test-assert "expressions still evaluate afterwards" (stdout-has? r "= 42$"))
       (test-assert "and invocations still run"
                    (stdout-has? r "^\\{\"message\":\"Hello, again!\"\\}"))))

   (test-group "state between invocations"
     (let ((r (repl (fixture "repl-two-timers.scm") ",invoke" "fired" "(set! fired '())" ",invoke" "fired")))
       (test-assert "the handler's module is the current module: its state is visible"
                    (stdout-has? r "= \\(second first\\)$"))))

   (test-group ",help lambda"
     (let* ((r (repl (example "hello.scm") ",help lambda" ",help continue"))
            (summaries (filter (lambda (l) (string-match "^ ,[a-z-]+.* - " l))
                               (stdout-lines r))))
       (test-assert "lists the commands" (>= (length summaries) 14))
       (test-equal "each summary is a whole sentence, not cut at a line end" '()
                   (remove (lambda (l) (string-suffix? "." l)) summaries))
       (test-assert "no command points at a file the tree does not have"
                    (not (string-contains (run-stdout r) "DESIGN.md")))))

   (test-group "generated events"
     (let ((r (repl (example "return-style.scm") ",generate-event apigw-v2")))
       (test-assert ",generate-event prints an API Gateway v2 event"
                    (stdout-has? r "^\\{\"version\":\"2.0\",\"routeKey\":")))
     (let ((r (guile-lambda "invoke" (example "return-style.scm")
                            "--event-template" "apigw-v2")))
       (test-equal "invoke --event-template feeds it to a handler" 400
                   (json-ref (run-json r) "statusCode")))
     (let ((r (guile-lambda "invoke" (example "hello.scm") "--event-template" "nope")))
       (test-equal "an unknown kind is bad usage" 2 (run-status r))
       (test-assert "and lists the known kinds" (stderr-has? r "known kinds are: apigw-v2"))))

   (test-group "--listen"
     ;; A port of this test's own; the REPL's standard input stays open
     ;; (sleep) while the test talks to its server.
     (let* ((port (+ 20000 (modulo (getpid) 20000)))
            (r #f)
            (answer
             (begin
               (system (format #f "(sleep 6 | guile-lambda repl ~a --listen ~a >/dev/null 2>&1 &)"
                               (example "hello.scm") port))
               (let retry ((tries 0))
                 (let ((s (socket PF_INET SOCK_STREAM 0)))
                   (if (false-if-exception
                        (connect s AF_INET (inet-pton AF_INET "127.0.0.1") port))
                       (begin
                         (display ",invoke {\"name\":\"geiser\"}\n(+ 40 2)\n,q\n" s)
                         (force-output s)
                         (let ((text (get-string-all s)))
                           (close-port s)
                           text))
                       (begin
                         (close-port s)
                         (if (< tries 50)
                             (begin (usleep 100000) (retry (+ tries 1)))
                             ""))))))))
       (test-assert "the REPL server on loopback runs the same commands"
                    (string-contains answer "{\"message\":\"Hello, geiser!\"}"))
       (test-assert "and evaluates expressions" (string-contains answer "= 42"))))

   ;; Guile prints the prompt only when it waits for input, so the
   ;; prompt is seen through a terminal.
   (test-group "through a pseudo-terminal"
     (let ((r (run (list "script" "-qec"
                         (string-append "guile-lambda repl " (example "interval.scm"))
                         "/dev/null")
                   #:input ",invoke {\"wait\":false}\n,q\n")))
       (test-assert "the prompt shows a warm container"
                    (string-contains (run-stdout r) "guile-lambda [warm]> "))
       (test-assert "an invocation runs"
                    (string-contains (run-stdout r) "{\"polls\":0}"))
       (test-assert "then the prompt shows it frozen with its pending handle"
                    (string-contains (run-stdout r) "guile-lambda [frozen, 1 pending]> "))))))
