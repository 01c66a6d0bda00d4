;;; Timeouts of every kind (DESIGN.md §3, Timeout): a loop kept alive by
;;; handles, Scheme code spinning on the CPU, a blocking system call, and
;;; C code that never returns.  How long an invocation lasted is what its
;;; REPORT says: a 1 s timeout must end in under 1.5 s; only the hard
;;; stop waits out its grace period.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(define (timeout-run handler . args)
  (apply guile-lambda "invoke" (fixture handler) "--timeout" "1" args))

(define (check-timed-out r bound)
  (test-equal "exit status 124" 124 (run-status r))
  (test-equal "errorType" "Sandbox.Timedout" (json-ref (run-json r) "errorType"))
  (test-equal "errorMessage" "Task timed out after 1.00 seconds"
              (json-ref (run-json r) "errorMessage"))
  (let ((ms (report-duration r)))
    (test-assert (format #f "REPORT: it lasted under ~a ms" bound)
                 (and ms (< ms bound)))
    (test-assert "REPORT: it lasted at least the timeout"
                 (and ms (>= ms 1000))))
  (test-assert "the log says so" (stderr-has? r "ERROR\tTask timed out after 1.00 seconds"))
  (test-assert "REPORT says Status: timeout" (stderr-has? r "^REPORT .*Status: timeout"))
  ;; Generous: a process that lingers after its timeout fails it, a
  ;; slow exit on a loaded machine does not.
  (test-assert "the process ended soon after the timeout"
               (let ((s (seconds-since-log-line r "\tERROR\tTask timed out")))
                 (and s (< s 5)))))

(run-tests "timeout"
 (lambda ()
   (test-group "loop kept alive by an interval"
     (let ((r (timeout-run "timeout-loop.scm")))
       (check-timed-out r 1500)
       (test-assert "the log names the interval with its origin and request"
                    (stderr-has? r (string-append
                                    "timer #[0-9]+ \\(interval 100 ms.*created at .*timeout-loop.scm:4:3 during request "
                                    (or (run-request-id r) "?") "$")))
       (test-assert "and explains why it waited"
                    (stderr-has? r "callback was called, but .*flag was #t"))))

   (test-group "a called callback waiting more than a second is explained"
     (let ((r (guile-lambda "invoke" (fixture "timeout-loop.scm") "--timeout" "2")))
       (test-equal "still a timeout" 124 (run-status r))
       (test-assert "after a second, a WARN says why it waits"
                    (stderr-has? r "WARN\tThe callback was called 1\\.[0-9] s ago, but .*flag was #t"))
       (test-assert "and names what keeps it open, with its origin"
                    (stderr-has? r "WARN\t  timer #[0-9]+ \\(interval 100 ms.*timeout-loop.scm:4:3"))
       (test-assert "before the timeout"
                    (let ((text (run-stderr r)))
                      (< (string-contains text "WARN\tThe callback was called")
                         (string-contains text "Task timed out"))))))

   (test-group "CPU-bound Scheme code"
     (let ((r (timeout-run "timeout-cpu.scm")))
       (check-timed-out r 1500)
       (test-assert "the log says the handler was interrupted"
                    (stderr-has? r "still running .* interrupted"))
       (test-assert "and that no handle was alive"
                    (stderr-has? r "No handle or request was alive")))
     (let ((r (timeout-run "timeout-cpu.scm" "{\"timer\":true}")))
       (check-timed-out r 1500)
       (test-assert "the log lists the handle still alive"
                    (stderr-has? r "timer #[0-9]+ \\(timeout, due in [0-9]+ ms\\), created at .*timeout-cpu.scm:4:5"))))

   (test-group "blocked in a system call"
     (check-timed-out (timeout-run "timeout-sleep.scm") 1500)
     (check-timed-out (timeout-run "timeout-read.scm") 1500))

   (test-group "stuck in C code: the hard stop"
     (let ((r (timeout-run "timeout-stuck-c.scm")))
       (check-timed-out r 3000)
       (test-assert "the log says the container was stopped from outside"
                    (stderr-has? r "stuck in C code .* stopped from outside"))
       (test-assert "and lists the handles still alive"
                    (stderr-has? r "timer #[0-9]+ .*timeout-stuck-c.scm:9:3"))))

   ;; In one process a container stuck in C cannot be recovered: the
   ;; events after it get a record of their own (a supervisor) or the
   ;; program says that they were not run (DESIGN.md §2).
   (test-group "stuck in C code inside batch"
     (let* ((r (guile-lambda "batch" (fixture "timeout-stuck-c.scm") "--timeout" "1"
                             #:input "{}\n{}\n"))
            (records (run-records r)))
       (test-equal "the stuck event's record comes first" 1
                   (and (pair? records) (json-ref (car records) "line")))
       (test-equal "with status timeout" "timeout"
                   (and (pair? records) (json-ref (car records) "status")))
       (test-assert "the exit status is not 0" (not (eqv? 0 (run-status r))))
       (test-assert "the second event has its record, or the log says it was not run"
                    (or (and (= 2 (length records))
                             (equal? 2 (json-ref (cadr records) "line")))
                        (and (= 1 (length records))
                             (stderr-has? r "event on line 1 .*stuck in C code.* not run"))))))

   (test-group "the next invocation after a timeout is a cold start"
     (let* ((r (guile-lambda "batch" (fixture "timeout-cpu.scm") "--timeout" "1"
                             #:input "{}\n{}\n"))
            (records (run-records r)))
       (test-equal "two records" 2 (length records))
       (test-assert "the second has an init duration"
                    (and (= 2 (length records))
                         (let ((init (json-ref (cadr records) "initDurationMs")))
                           (and (number? init) (> init 0)))))))))
