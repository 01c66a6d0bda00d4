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

;; The port a `repl --listen 0' says it listens on.
(define (listen-port p)
  (let ((lines (read-until (process-errors p) "REPL server listening on" 30)))
    (and (pair? lines)
         (let ((m (string-match "listening on 127\\.0\\.0\\.1:([0-9]+)$" (last lines))))
           (and m (string->number (match:substring m 1)))))))

;; Lines from PORT until its end or a pause of SECONDS.
(define (read-lines-within port seconds)
  (let loop ((lines '()))
    (let ((line (read-line-within port seconds)))
      (if (string? line)
          (loop (cons line lines))
          (reverse (cons line lines))))))

;;; Sessions with `repl --listen': P is the process, PORT its server's.

(define (one-client-session p port)
  (let ((s (connect-within port 30)))
    (display ",invoke {\"name\":\"geiser\"}\n(+ 40 2)\n,q\n" s)
    (let ((answer (read-until s "= 42" 30)))
      (test-assert "the REPL server on loopback runs the same commands"
                   (member "{\"message\":\"Hello, geiser!\"}" answer))
      (test-assert "and evaluates expressions"
                   (any (lambda (l) (string-contains l "= 42")) answer)))
    (test-assert ",q ends the client's REPL: the server closes the connection"
                 (eof-object? (last (read-lines-within s 30))))
    (close-port s)
    (test-equal "the program ends at the end of its own input" 0
                (process-wait p))))

(define (last-value lines)
  "The value the last `$N = VALUE' line of LINES printed, as text."
  (any (lambda (l)
         (let ((m (string-match "\\$[0-9]+ = (.*)$" l)))
           (and m (match:substring m 1))))
       (reverse lines)))

;; The engine runs on one thread, and every REPL's commands reach it in
;; turn.  Each step reports the callbacks it ran, so the runs that the
;; three sessions saw add up to the interval's own count, unless two
;; steps ran at once and lost or doubled some.
(define (two-clients-session p port)
  (let ((a (connect-within port 30))
        (b (connect-within port 30))
        (main (process-input p))
        (steps 60))
    (display ",start {}\n'started\n" main)
    (read-until (process-output p) "= started$" 30)
    (for-each (lambda (out name)
                (do ((i 0 (+ i 1))) ((= i steps))
                  (display ",step\n" out))
                (format out "'~a-done~%" name))
              (list a b main) '(a b main))
    (let* ((answers (map (lambda (in name)
                           (read-until in (format #f "= ~a-done$" name) 120))
                         (list a b (process-output p)) '(a b main)))
           (ran (apply + (map (lambda (lines)
                                (count (lambda (l) (string-contains l ": ran timer #1 "))
                                       lines))
                              answers))))
      (test-assert "every session got the answers to all its steps"
                   (every (lambda (lines)
                            (and (pair? lines) (string-contains (last lines) "-done")))
                          answers))
      (display "polls\n" a)
      (test-equal "each run of the interval was reported by exactly one step"
                  (number->string ran)
                  (last-value (read-until a "\\$[0-9]+ = " 30))))
    ;; A client makes a timer; the terminal's session sees it and runs
    ;; it, in the same module.
    (display "(define from-client #f)\n" b)
    (display "(set-timeout (lambda () (set! from-client 'ran)) 0)\n'made\n" b)
    (read-until b "= made$" 30)
    (display ",handles\n,step 5\nfrom-client\n" main)
    (let ((lines (read-until (process-output p) "\\$[0-9]+ = " 30)))
      (test-assert "a timer made by a client is in the terminal's ,handles"
                   (any (lambda (l) (string-match "^2 +timer +yes" l)) lines))
      (test-assert "and the terminal's steps run it"
                   (any (lambda (l) (string-match "Step [0-9]: ran timer #2 " l)) lines))
      (test-equal "in the handler's module" "ran" (last-value lines)))
    (close-port a)
    (close-port b)
    (test-equal "the program ends at the end of its own input" 0
                (process-wait p))))

;;; The README's stepping session.

(define top-srcdir (or (getenv "abs_top_srcdir") (getcwd)))

(define (readme-session)
  "The lines of the README's stepping session: prompts with commands, and
what the program prints."
  (let* ((text (call-with-input-file (string-append top-srcdir "/README.md")
                 get-string-all))
         (from (string-contains text "```\n" (string-contains text "A stepping session")))
         (to (string-contains text "\n```" from)))
    (string-split (substring text (+ from 4) to) #\newline)))

;; A line of the session as a regular expression: request ids, durations
;; and a timer's due time are whatever they are in this run.
(define (session-line->regexp line)
  (fold (lambda (change text)
          (regexp-substitute/global #f (car change) text 'pre (cdr change) 'post))
        (regexp-quote line)
        '(("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" . "[0-9a-f-]{36}")
          ("[0-9]+\\\\\\.[0-9]+ ms" . "[0-9]+\\.[0-9]+ ms")
          ("due-in=[0-9]+" . "due-in=[0-9]+"))))

;; What a terminal showed, as lines, without its control sequences.
(define (terminal-lines text)
  (string-split (regexp-substitute/global #f "\x1b\\[[0-9;?]*[A-Za-z]|\b|\r" text
                                          'pre 'post)
                #\newline))

(define (first-missing expected lines)
  "The first of the EXPECTED lines (\"…\" ones left out) that is not in
LINES after the lines before it, or #f."
  (let loop ((expected expected) (lines lines))
    (cond
     ((null? expected) #f)
     ((string-prefix? "…" (car expected)) (loop (cdr expected) lines))
     ((member (string-append "^" (session-line->regexp (car expected)) "$") lines
              (lambda (rx line) (string-match rx line)))
      => (lambda (rest) (loop (cdr expected) (cdr rest))))
     (else (car expected)))))

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
       (test-assert "the container was reset and its init phase ran again"
                    (and (stdout-has? r "^Container reset: every handle closed")
                         (stdout-has? r "^Container: warm$")))))

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
                    (stdout-has? r "In procedure car: Wrong type (argument in position 1 )?\\(expecting pair\\): 5"))
       (test-assert "expressions still evaluate afterwards" (stdout-has? r "= 42$"))
       (test-assert "and invocations still run"
                    (stdout-has? r "^\\{\"message\":\"Hello, again!\"\\}"))))

   (test-group "a long session"
     ;; Compiled, each expression used up one of the collector's root
     ;; sets, and Guile aborted after some 1900.
     (let ((r (apply repl (example "hello.scm")
                     (map (lambda (i) (format #f "(+ ~a 1)" i))
                          (iota 2500 1)))))
       (test-assert "2500 expressions are evaluated, the last one too"
                    (stdout-has? r "^\\$2500 = 2501$"))
       (test-assert "and Guile did not run out of root sets"
                    (not (string-contains (run-stderr r) "Too many root sets")))))

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

   (test-group "after a reset the REPL is in the new container's module"
     (let ((r (repl (example "interval.scm")
                    ",timeout 1" ",invoke {}" "(set! polls 99)"
                    ",invoke {\"wait\":false}")))
       (test-assert "a timeout resets the container and loads it at once"
                    (and (stdout-has? r "^Container reset: every handle closed")
                         (= 2 (length (filter (lambda (l) (string-prefix? "Init phase done" l))
                                              (stdout-lines r))))))
       (test-assert "the next expression changed the new module, which the next invocation sees"
                    (stdout-has? r "^\\{\"polls\":99\\}$")))
     (let ((r (repl (fixture "rule7-uncaught.scm")
                    ",invoke {\"explode\":true}" "(set! calls 41)" ",invoke {}")))
       (test-assert "so does an uncaught exception in a callback"
                    (stdout-has? r "^\\{\"calls\":42\\}$"))))

   (test-group "the clock stands still at the prompt"
     ;; A pause longer than the interval: had the loop's clock run on,
     ;; the first step would find the interval overdue and run it twice.
     (call-with-process
      (list "guile-lambda" "repl" (fixture "repl-slow-interval.scm"))
      (lambda (p)
        (display ",start {}\n,handles\n'handles-listed\n" (process-input p))
        (let* ((before (read-until (process-output p) "handles-listed" 30))
               (due (any (lambda (l)
                           (let ((m (string-match "due-in=([0-9]+)" l)))
                             (and m (string->number (match:substring m 1)))))
                         before)))
          (usleep 1200000)
          (display ",step 2\npolls\n" (process-input p))
          (let* ((after (read-until (process-output p) "\\$[0-9]+ = " 30))
                 (ran (lambda (n)
                        (count (lambda (l) (string-contains l (format #f "Step ~a: ran" n)))
                               after))))
            (test-assert "the interval was listed, not yet due" (and due #t))
            ;; Due at once when the clock stopped: then nothing can be
            ;; told, however fast the machine.
            (when (and due (positive? due))
              (test-equal "the first step ran it once" 1 (ran 1))
              (test-equal "the second step ran it once" 1 (ran 2))
              (test-assert "two polls for two steps"
                           (any (lambda (l) (string-match "\\$[0-9]+ = 2$" l)) after)))
            (test-equal "the REPL ends at the end of its input" 0
                        (process-wait p)))))))

   (test-group "--listen"
     (call-with-process
      (list "guile-lambda" "repl" (example "hello.scm") "--listen" "0")
      (lambda (p)
        (let ((port (listen-port p)))
          (test-assert "--listen 0 says on standard error which port it got" port)
          (when port
            (one-client-session p port))))))

   (test-group "a reset that a client causes moves the terminal's REPL too"
     (call-with-process
      (list "guile-lambda" "repl" (example "interval.scm") "--listen" "0")
      (lambda (p)
        (let ((port (listen-port p)))
          (test-assert "the REPL server says its port" port)
          (when port
            (let ((s (connect-within port 30)))
              (display ",timeout 1\n,invoke {}\n'timed-out\n" s)
              (test-assert "the client's invocation timed out and reset the container"
                           (any (lambda (l) (string-prefix? "Container reset" l))
                                (read-until s "timed-out" 60)))
              (display "(set! polls 99)\n,invoke {\"wait\":false}\n'done\n"
                       (process-input p))
              (let ((lines (read-until (process-output p) "= done$" 30)))
                (test-assert "the terminal's REPL says it moved to the new module"
                             (any (lambda (l) (string-contains l "loaded afresh")) lines))
                (test-assert "and its next expression changed that module"
                             (member "{\"polls\":99}" lines)))
              (close-port s)
              (test-equal "the program ends at the end of its own input" 0
                          (process-wait p))))))))

   (test-group "two clients and the terminal step the engine at once"
     (call-with-process
      (list "guile-lambda" "repl" (fixture "repl-clients.scm") "--listen" "0"
            "--timeout" "600")
      (lambda (p)
        (let ((port (listen-port p)))
          (test-assert "the REPL server says its port" port)
          (when port
            (two-clients-session p port))))))

   (test-group "the README's stepping session"
     (let* ((session (readme-session))
            (commands (filter-map (lambda (line)
                                    (let ((m (string-match "^guile-lambda \\[[^]]*\\]> (.*)$" line)))
                                      (and m (match:substring m 1))))
                                  session))
            (r (run (list "script" "-qec"
                          (string-append "cd '" top-srcdir "' && exec guile-lambda repl "
                                         "examples/interval.scm 2>/dev/null")
                          "/dev/null")
                    #:input (string-join (append commands '(",q")) "\n" 'suffix))))
       (test-assert "the README shows a session" (> (length commands) 4))
       (test-equal "the program prints every line of it, in order" #f
                   (first-missing session (terminal-lines (run-stdout r))))))

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
