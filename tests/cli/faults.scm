;;; The fault matrix: whatever a handler does (exit, die by a signal,
;;; spin, block, hang in C, overflow its stack, exhaust memory, raise in
;;; a callback or a printer), `invoke' and `batch' never exit 0.  In
;;; process (--isolation none), every event before the fault has its
;;; record, and the faulting one has its record, or stderr names it.
;;; Through the supervisor (batch's default), every event gets its
;;; record and the rest of the stream goes on.  Then the regressions of the
;;; engine's other faults: lost writes, lost lines, stray signals, child
;;; processes that outlive their container.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (tests lib tap)
             (tests lib cli))

(define handler (fixture "faults.scm"))

(define (event fault)
  (string-append "{\"fault\":\"" fault "\"}\n"))

(define (fault-command fault command . args)
  "guile-lambda COMMAND with ARGS for FAULT: a timeout of 1 s for the
faults that never end on their own; 30 s for running out of stack or of
memory, which end by themselves but take long on a loaded machine, and
for memory a limit on the address space that Guile fits in and the
hoard does not."
  (cond
   ((string=? fault "memory")
    (append (list "sh" "-c" "ulimit -v 800000; exec \"$@\"" "sh"
                  "guile-lambda" command "--timeout" "30")
            args))
   ((string=? fault "stack")
    (append (list "guile-lambda" command "--timeout" "30") args))
   (else
    (append (list "guile-lambda" command "--timeout" "1") args))))

;; Through the supervisor the container is a process of its own: what
;; kills it is reported as the platform reports it, and memory is
;; limited by --memory (a cgroup, or a poll), so the hoard is killed.
(define supervised-patterns
  '(("memory" . "^RequestId: ID Error: Runtime (ran out of memory|exited with error: signal: killed)")))

;; Each fault: its name, the errorType of its event, a pattern for the
;; errorMessage (ID is the request id), and whether the process survives
;; it (the batch then goes on to the next line).
(define faults
  '(("exit" "Runtime.ExitError"
     "^RequestId: ID Error: Runtime exited with error: exit status 3$" #t)
    ("primitive-exit" "Runtime.ExitError"
     "^RequestId: ID Error: Runtime exited with error: exit status 7$" #f)
    ("segv" "Runtime.ExitError"
     "^RequestId: ID Error: Runtime exited with error: signal: segmentation fault$" #f)
    ("abort" "Runtime.ExitError"
     "^RequestId: ID Error: Runtime exited with error: signal: aborted$" #f)
    ("sigterm" "Runtime.ExitError"
     "^RequestId: ID Error: Runtime exited with error: signal: terminated$" #f)
    ("spin" "Sandbox.Timedout" "^Task timed out after 1.00 seconds$" #t)
    ("syscall" "Sandbox.Timedout" "^Task timed out after 1.00 seconds$" #t)
    ("stuck-c" "Sandbox.Timedout" "^Task timed out after 1.00 seconds$" #f)
    ("stack" "stack-overflow" "^Maximum call stack size exceeded" #t)
    ("memory" "Runtime.OutOfMemory" "^RequestId: ID Error: Runtime ran out of memory" #t)
    ("async" "misc-error" "^Uncaught exception in the callback of timer #[0-9]+ created at .*faults.scm:[0-9]+:[0-9]+ during request ID: .*async boom" #t)
    ("printer-result" "Runtime.MarshalError" "^Unable to stringify response body$" #t)
    ("printer-raise" "handled" "^callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack$" #t)))

(define (message-pattern pattern id)
  (regexp-substitute/global #f "ID" pattern 'pre (regexp-quote id) 'post))

(define (error-matches? error type pattern)
  (let ((id (and error (json-ref error "requestId"))))
    (and error
         (equal? type (json-ref error "errorType"))
         (string-match (message-pattern pattern (or id ""))
                       (json-ref error "errorMessage")))))

(define* (run-fault-batch fault position count #:optional (isolation "none"))
  "A batch of COUNT events with FAULT at POSITION (1-based)."
  (let ((input (string-concatenate
                (map (lambda (i) (if (= i position) (event fault) "{}\n"))
                     (iota count 1))))
        (args (fault-command fault "batch" "--isolation" isolation handler)))
    (run args #:input input)))

(define (record-error record)
  ;; The error with the record's request id beside it, for the pattern.
  (and record (json-ref record "error")
       (cons (cons "requestId" (json-ref record "requestId"))
             (json-ref record "error"))))

(define* (check-batch fault type pattern survives? position count
                      #:optional (isolation "none"))
  (let* ((r (run-fault-batch fault position count isolation))
         (records (run-records r))
         (lines (map (lambda (rec) (json-ref rec "line")) records))
         (faulty (find (lambda (rec) (= position (json-ref rec "line")))
                       records))
         (ids (map (lambda (rec) (json-ref rec "requestId")) records)))
    (test-assert (format #f "~a at line ~a of ~a (~a): exit status is not 0"
                         fault position count isolation)
                 (not (eqv? 0 (run-status r))))
    (test-equal (format #f "~a at line ~a of ~a (~a): a record for each line run, once, in order"
                        fault position count isolation)
                (iota (if survives? count position) 1) lines)
    (test-assert (format #f "~a at line ~a of ~a (~a): the request ids are unique"
                         fault position count isolation)
                 (= (length ids) (length (delete-duplicates ids))))
    (test-assert (format #f "~a at line ~a of ~a (~a): its record says ~a"
                         fault position count isolation type)
                 (error-matches? (record-error faulty) type pattern))
    (unless survives?
      (test-assert (format #f "~a at line ~a of ~a: stderr names the event and the lines not run"
                           fault position count)
                   (stderr-has? r (string-append
                                   "event on line " (number->string position)
                                   " \\(request "
                                   (if faulty
                                       (regexp-quote (json-ref faulty "requestId"))
                                       "no record")
                                   "\\).*lines after it were not run"))))))

(define (check-invoke fault type pattern)
  (let* ((r (run (fault-command fault "invoke" handler (event fault))))
         (error (false-if-exception (run-json r)))
         (id (let ((m (string-match "START RequestId: ([-0-9a-f]+)"
                                    (run-stderr r))))
               (and m (match:substring m 1)))))
    (test-assert (format #f "invoke ~a: exit status is not 0" fault)
                 (not (eqv? 0 (run-status r))))
    (test-assert (format #f "invoke ~a: the result says ~a" fault type)
                 (and error
                      (error-matches? (cons (cons "requestId" (or id "")) error)
                                      type pattern)))))

(run-tests "faults"
 (lambda ()
   (test-group "the fault matrix"
     (for-each (lambda (f)
                 (apply check-invoke (list-head f 3))
                 (check-batch (first f) (second f) (third f) (fourth f) 2 3))
               faults)
     ;; Through the supervisor: the same faults, and the stream goes on.
     (for-each (lambda (f)
                 (check-batch (first f) (second f)
                              (or (assoc-ref supervised-patterns (first f))
                                  (third f))
                              #t 2 3 "process"))
               faults)
     ;; A fault on the first and on the last line too.
     (for-each (lambda (name)
                 (let ((f (assoc name faults)))
                   (check-batch name (second f) (third f) (fourth f) 1 3)
                   (check-batch name (second f) (third f) (fourth f) 3 3)))
               '("primitive-exit" "segv" "exit")))

   (test-group "faults in the init phase"
     (let ((r (guile-lambda "invoke" handler
                            #:env '(("GL_FAULT_INIT" . "primitive-exit")))))
       (test-equal "primitive-exit in init: exit status 3 (init error)" 3
                   (run-status r))
       (test-equal "and the event's error is Runtime.ExitError"
                   "Runtime.ExitError" (json-ref (false-if-exception (run-json r)) "errorType"))
       (test-assert "with the status it exited with"
                    (string-suffix? "Runtime exited with error: exit status 7"
                                    (or (json-ref (false-if-exception (run-json r))
                                                  "errorMessage")
                                        ""))))
     (let* ((r (guile-lambda "batch" "--isolation" "none" handler
                             #:input "{}\n{}\n"
                             #:env '(("GL_FAULT_INIT" . "stuck-c"))))
            (records (run-records r)))
       (test-equal "stuck in C in init, batch: one record, for line 1" '(1)
                   (map (lambda (rec) (json-ref rec "line")) records))
       (test-equal "a timeout of the init phase"
                   "The init phase timed out after 10 seconds"
                   (json-ref (car records) "error" "errorMessage"))
       (test-equal "exit status 124" 124 (run-status r))
       (test-assert "stderr names the event, in its init phase"
                    (stderr-has? r "event on line 1 .*in its init phase.*not run")))
     (let ((r (guile-lambda "invoke" handler
                            #:env '(("GL_FAULT_INIT" . "stuck-c")))))
       (test-equal "stuck in C in init, invoke: the event's error is the init timeout"
                   "The init phase timed out after 10 seconds"
                   (json-ref (false-if-exception (run-json r)) "errorMessage"))
       (test-equal "exit status 124" 124 (run-status r))))

   (test-group "a deadline inside a loop callback"
     (let* ((r (guile-lambda "invoke" "--timeout" "1"
                             (fixture "timeout-in-callback.scm")))
            (lines (string-split (run-stderr r) #\newline))
            (verdict (list-index (lambda (l) (string-contains l "\tERROR\tTask timed out"))
                                 lines)))
       (test-equal "times out" 124 (run-status r))
       (test-assert "says the callback was called with the flag #t"
                    (stderr-has? r "ERROR\tThe callback was called, but the context's callback-waits-for-empty-event-loop flag was #t"))
       (test-assert "and names the timer callback that was running, with its origin"
                    (stderr-has? r "the callback of timer #[0-9]+ \\(created at .*timeout-in-callback.scm:12:3 during request [-0-9a-f]+\\) was still running when time ran out"))
       (test-assert "the interrupted callback's partial line comes before the verdict"
                    (and verdict
                         (string-suffix? "\tINFO\ttick start"
                                         (list-ref lines (- verdict 1)))))))

   (test-group "the container goes on after a stack overflow"
     (let ((records (run-records (run-fault-batch "stack" 1 2))))
       (test-equal "the next event succeeds" "ok"
                   (json-ref (second records) "result"))
       (test-assert "in the same, warm container"
                    (not (json-ref (second records) "initDurationMs")))))

   (test-group "results that cannot be written"
     (let ((r (run (list "sh" "-c" "exec guile-lambda invoke \"$1\" >/dev/full"
                         "sh" handler))))
       (test-equal "invoke >/dev/full: exit status 74" 74 (run-status r))
       (test-assert "and says which result was lost"
                    (stderr-has? r "cannot write the result of request [-0-9a-f]+ .*No space left")))
     (let ((r (run (list "sh" "-c" "exec guile-lambda invoke \"$1\" >&-"
                         "sh" handler))))
       (test-equal "invoke with stdout closed: exit status 74" 74
                   (run-status r)))
     (let ((r (run (list "bash" "-c"
                         "yes '{}' | head -n 20000 | guile-lambda batch \"$1\" | head -1 >/dev/null; echo \"status ${PIPESTATUS[2]}\" >&2"
                         "bash" handler))))
       (test-assert "batch | head -1: exit status 74"
                    (stderr-has? r "^status 74$"))
       (test-assert "it stops at once, naming the line"
                    (stderr-has? r "cannot write the record of line [0-9]+ .*were not run"))
       (test-assert "instead of running all 20000 events"
                    (< (length (log-lines-matching r "^START ")) 20000))))

   (test-group "every line gets its record"
     (let ((records (run-records (guile-lambda "batch" handler
                                               #:input "{}\n\x00{}\n{}\n"))))
       (test-equal "a line that starts with NUL is not dropped" '(1 2 3)
                   (map (lambda (rec) (json-ref rec "line")) records))
       (test-equal "it is an invalid event" "InvalidRequestContentException"
                   (json-ref (second records) "error" "errorType"))))

   (test-group "directories are not input"
     (let ((r (guile-lambda "batch" handler "/")))
       (test-equal "batch HANDLER /: exit status 2" 2 (run-status r))
       (test-assert "says it is a directory" (stderr-has? r "is a directory")))
     (let ((r (guile-lambda "invoke" "--env-file" "/" handler)))
       (test-equal "--env-file /: exit status 2" 2 (run-status r))))

   (test-group "stray SIGURG"
     ;; The watchdog's signal, sent by anyone at any time, while batch
     ;; waits for its next line and while it runs events.
     (let ((r (run (list "bash" "-c" "
{ echo '{}'; sleep 0.3; echo '{}'; sleep 0.3; echo '{}'; } |
  guile-lambda batch --isolation none \"$1\" & pid=$!
( while kill -URG $pid 2>/dev/null; do sleep 0.002; done ) &
wait $pid; echo \"status $?\" >&2" "bash" handler))))
       (test-equal "a storm of SIGURG loses no event" '(1 2 3)
                   (map (lambda (rec) (json-ref rec "line")) (run-records r)))
       (test-assert "and the batch succeeds" (stderr-has? r "^status 0$"))))

   (test-group "child processes die with their container"
     (for-each
      (lambda (isolation)
        (let* ((tag (number->string (+ 1000 (random 1000 (random-state-from-platform)))))
               (r (run (list "guile-lambda" "batch" "--isolation" isolation
                             "--timeout" "1" handler)
                       #:input (string-append
                                "{\"children\":\"" tag "\",\"fault\":\"stuck-c\"}\n")))
               (left (run (list "sh" "-c" (string-append "pgrep -f '^sleep " tag "$' || true")))))
          (test-equal (string-append isolation ": stuck in C, the event's record is written once")
                      1 (length (run-records r)))
          (test-equal (string-append isolation ": no child or grandchild outlives the stop")
                      "" (run-stdout left)))
        (let* ((tag (number->string (+ 2000 (random 1000 (random-state-from-platform)))))
               (r (run (list "guile-lambda" "batch" "--isolation" isolation handler)
                       #:input (string-append "{\"children\":\"" tag "\"}\n")))
               (left (run (list "sh" "-c" (string-append "pgrep -f '^sleep " tag "$' || true")))))
          (test-equal (string-append isolation ": the event succeeded") "ok"
                      (json-ref (car (run-records r)) "result"))
          (test-equal (string-append isolation ": no child or grandchild outlives the batch")
                      "" (run-stdout left))))
      '("none" "process")))))
