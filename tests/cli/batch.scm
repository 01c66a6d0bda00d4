;;; guile-lambda batch: one container, events in input order, warm state,
;;; freeze and thaw, request ids in logs, cold start after a timeout, and
;;; streaming input.
(use-modules (srfi srfi-1)
             (json)
             (srfi srfi-64)
             (ice-9 rdelim)
             (ice-9 regex)
             (tests lib tap)
             (tests lib cli))

;; Events arrive one at a time, each once the record before came back:
;; the first interval tick comes due (100 ms) while the container is
;; frozen between events 1 and 2 (sent 150 ms after the first record);
;; event 3 hangs on the interval and times out; event 4 finds a fresh
;; container.
(define story
  (batch-steps (fixture "batch-story.scm")
               '("{}" 0.15 "{}" "{\"hang\":true}" "{}")
               #:args '("--timeout" "1")))

(define records (run-records story))
(define (record n) (list-ref records (- n 1)))
(define (request-id n) (json-ref (record n) "requestId"))

(define (stderr-lines)
  (string-split (run-stderr story) #\newline))

;; The lines of standard error from the START of invocation N up to its
;; END.
(define (invocation-lines n)
  (let* ((id (request-id n))
         (from (find-tail (lambda (l) (string=? l (string-append "START RequestId: " id " Version: $LATEST")))
                          (stderr-lines))))
    (if from
        (take-while (lambda (l) (not (string-prefix? "END RequestId: " l)))
                    from)
        '())))

(define (log-line-fields line)
  ;; ISO-TIMESTAMP \t REQUEST-ID \t LEVEL \t message
  (let ((fields (string-split line #\tab)))
    (and (= (length fields) 4) fields)))

(run-tests "batch"
 (lambda ()
   (test-group "three events through one container"
     (test-equal "one record per event, in input order" '(1 2 3 4)
                 (map (lambda (r) (json-ref r "line")) records))
     (test-equal "statuses" '("success" "success" "timeout" "success")
                 (map (lambda (r) (json-ref r "status")) records))
     (test-assert "the first event is a cold start"
                  (number? (json-ref (record 1) "initDurationMs")))
     (test-assert "the second is warm: no init duration"
                  (not (json-ref (record 2) "initDurationMs")))
     (test-equal "module state survived between them" 2
                 (json-ref (record 2) "result" "count"))
     (test-assert "each record has durations and memory"
                  (every (lambda (r)
                           (and (number? (json-ref r "durationMs"))
                                (integer? (json-ref r "billedDurationMs"))
                                (> (json-ref r "maxMemoryUsedMB") 0)))
                         records)))

   (test-group "freeze and thaw"
     (let* ((lines (invocation-lines 2))
            (handler-line (find-tail (lambda (l) (string-contains l "handler 2 called")) lines))
            (before (take-while (lambda (l) (not (string-contains l "handler 2 called"))) lines))
            (ticks (filter (lambda (l) (string-suffix? "\ttick" l)) before)))
       (test-assert "the handler of event 2 was called" handler-line)
       (test-assert "the tick that came due while frozen ran at thaw, before the handler"
                    (pair? ticks))
       (test-assert "the thawed tick carries the previous request id (§6)"
                    (every (lambda (l) (equal? (cadr (log-line-fields l)) (request-id 1)))
                           ticks))
       (test-assert "the handler's own line carries its request id"
                    (equal? (cadr (log-line-fields (car handler-line))) (request-id 2))))
     (test-assert "no tick ran between invocations 1 and 2 (frozen)"
                  (let* ((all (stderr-lines))
                         (end1 (list-index (lambda (l) (string=? l (string-append "END RequestId: " (request-id 1)))) all))
                         (start2 (list-index (lambda (l) (string-prefix? (string-append "START RequestId: " (request-id 2)) l)) all)))
                    (and end1 start2
                         (not (any (lambda (l) (string-suffix? "\ttick" l))
                                   (take (drop all end1) (- start2 end1)))))))
     (test-assert "during the hanging event the interval kept ticking with that event's id"
                  (any (lambda (l)
                         (and (string-suffix? "\ttick" l)
                              (equal? (cadr (log-line-fields l)) (request-id 3))))
                       (invocation-lines 3))))

   (test-group "after a timeout, a cold start"
     (test-assert "the timeout's log names the interval, its origin and the request that made it"
                  (any (lambda (l) (string-match (string-append
                                                  "timer #[0-9]+ \\(interval 100 ms.*batch-story.scm:15:24 "
                                                  "during request " (request-id 1) "$")
                                                 l))
                       (invocation-lines 3)))
     (test-assert "the next event has an init duration"
                  (number? (json-ref (record 4) "initDurationMs")))
     (test-equal "and the module state is gone" 1
                 (json-ref (record 4) "result" "count"))
     (test-equal "batch exits 1: not every event succeeded" 1 (run-status story)))

   (test-group "JSON logs name a callback's origin request"
     (let* ((r (batch-steps (fixture "batch-story.scm")
                            '("{}" 0.15 "{}" 0.15 "{}")
                            #:env '(("AWS_LAMBDA_LOG_FORMAT" . "JSON"))))
            (ids (map (lambda (r) (json-ref r "requestId")) (run-records r)))
            (ticks (filter-map (lambda (line)
                                 (and (string-contains line "\"message\":\"tick\"")
                                      (json-string->scm line)))
                               (string-split (run-stderr r) #\newline))))
       (test-assert "a tick at the second thaw carries the first id, no origin"
                    (any (lambda (t) (and (equal? (json-ref t "requestId") (car ids))
                                          (not (json-ref t "originRequestId"))))
                         ticks))
       (test-assert "a tick at the third thaw carries the second id and the first as origin"
                    (any (lambda (t) (and (equal? (json-ref t "requestId") (cadr ids))
                                          (equal? (json-ref t "originRequestId") (car ids))))
                         ticks))))

   (test-group "a handler file with its own module"
     (let ((records (run-records
                     (guile-lambda "batch" (string-append (fixture "module-handler.scm") ":run")
                                   #:input "{}\n{}\n"))))
       (test-equal "what it imports is there, cold and warm"
                   '("from srfi-1" "from srfi-1")
                   (map (lambda (r) (json-ref r "result" "first")) records))
       (test-equal "under a prefix too" '(2 2)
                   (map (lambda (r) (json-ref r "result" "bytes")) records))))

   (test-group "input handling"
     (let* ((r (guile-lambda "batch" (example "hello.scm")
                             #:input "{\"name\":\"a\"}\n\nnot json\n{\"name\":\"b\"}\n"))
            (records (run-records r)))
       (test-equal "a blank line is skipped; a malformed one gets an error record"
                   '(1 3 4) (map (lambda (r) (json-ref r "line")) records))
       (test-equal "the malformed line's error type" "InvalidRequestContentException"
                   (json-ref (cadr records) "error" "errorType"))
       (test-equal "the rest go on" "Hello, b!"
                   (json-ref (caddr records) "result" "message"))
       (test-equal "exit status 1" 1 (run-status r)))
     (let ((r (guile-lambda "batch" (example "hello.scm") #:input "{}\n{}\n")))
       (test-equal "every event succeeded: exit status 0" 0 (run-status r)))
     (let ((r (guile-lambda "batch" (example "hello.scm") "/nonexistent/events.ndjson")))
       (test-equal "a missing events file: exit status 2" 2 (run-status r))
       (test-assert "and a message naming it"
                    (stderr-has? r "cannot read the events file /nonexistent/events.ndjson"))))

   (test-group "streaming"
     ;; The second line is written only after the first record came back:
     ;; if batch waited for more input, the first record would not come.
     (let* ((p (start-guile-lambda "batch" (example "hello.scm")))
            (first (begin (send-input p "{\"name\":\"first\"}\n")
                          (await-records p 1)))
            (second (and first
                         (begin (send-input p "{\"name\":\"second\"}\n")
                                (await-records p 2))))
            (r (finish-run p)))
       (test-equal "the first record arrived before the second line was written"
                   "Hello, first!" (and first (json-ref (car first) "result" "message")))
       (test-equal "then the second"
                   "Hello, second!" (and second (json-ref (cadr second) "result" "message")))
       (test-equal "and batch ended at the end of its input" 0 (run-status r))))

   (test-group "records"
     (let ((all (append records
                        (run-records (guile-lambda "batch" (example "hello.scm")
                                                   #:input "{}\n{\"name\":\"b\"}\n")))))
       (test-assert "each has exactly the documented keys, in order"
                    (every (lambda (r)
                             (equal? (map car r)
                                     `("requestId" "line" "status"
                                       ,(if (assoc "error" r) "error" "result")
                                       "durationMs" "billedDurationMs" "maxMemoryUsedMB"
                                       ,@(if (assoc "initDurationMs" r)
                                             '("initDurationMs")
                                             '()))))
                           all))
       (test-assert "an error exactly when the status is not success"
                    (every (lambda (r)
                             (eq? (not (assoc "error" r))
                                  (equal? (json-ref r "status") "success")))
                           all))
       (test-assert "billedDurationMs is the duration rounded up to the millisecond"
                    ;; durationMs is printed to 0.01 ms.
                    (every (lambda (r)
                             (let ((d (json-ref r "durationMs"))
                                   (billed (json-ref r "billedDurationMs")))
                               (and (exact-integer? billed)
                                    (<= (max 1 (ceiling (- d 0.005)))
                                        billed
                                        (max 1 (ceiling (+ d 0.005)))))))
                           all))
       (test-assert "an Init Duration, when there is one, is a positive number"
                    (every (lambda (r)
                             (let ((init (assoc "initDurationMs" r)))
                               (or (not init) (and (number? (cdr init)) (> (cdr init) 0)))))
                           all))
       (test-assert "request ids are unique"
                    (let ((ids (map (lambda (r) (json-ref r "requestId")) all)))
                      (and (every string? ids)
                           (= (length ids) (length (delete-duplicates ids))))))))

   (test-group "an init error fails every event"
     (let* ((r (guile-lambda "batch" (fixture "init-raise.scm")
                             #:input "{}\n{}\n{}\n"))
            (records (run-records r)))
       (test-equal "one record per event" '(1 2 3)
                   (map (lambda (x) (json-ref x "line")) records))
       (test-assert "each an error"
                    (every (lambda (x) (equal? "error" (json-ref x "status"))) records))
       (test-assert "each the init error"
                    (every (lambda (x)
                             (and (equal? "misc-error" (json-ref x "error" "errorType"))
                                  (equal? "cannot connect to the configuration store"
                                          (json-ref x "error" "errorMessage"))))
                           records))
       (test-assert "each a cold start: init is tried again"
                    (every (lambda (x) (number? (json-ref x "initDurationMs"))) records))
       (test-equal "exit status 1" 1 (run-status r))))

   ;; 40 events drop 50 ports each, 2,000 in all, under a limit of 256
   ;; descriptors: the collector's finalizers must close them, in the
   ;; container and in process alike.
   (for-each
    (lambda (isolation)
      (test-group (string-append "dropped ports are closed, isolation " isolation)
        (let* ((r (run (list "sh" "-c"
                             "ulimit -n 256 && exec guile-lambda batch --isolation \"$1\" \"$0\""
                             (fixture "ports-dropped.scm") isolation)
                       #:input (string-concatenate (make-list 40 "{}\n"))))
               (records (run-records r)))
          (test-equal "every event succeeds" (make-list 40 "success")
                      (map (lambda (x) (json-ref x "status")) records))
          (test-assert "and never has 256 descriptors open"
                       (every (lambda (x) (< (json-ref x "result") 256)) records))
          (test-equal "exit status 0" 0 (run-status r)))))
    '("none" "process"))

   ;; DESIGN.md §3 and §8: memory over --memory is Runtime.OutOfMemory,
   ;; and the next event runs in a fresh container.
   (test-group "memory over the limit"
     (let* ((r (guile-lambda "batch" (fixture "memory-use.scm") "--memory" "128"
                             #:input "{\"mb\":300}\n{\"mb\":1}\n"))
            (records (run-records r)))
       (test-equal "one record per event" '(1 2)
                   (map (lambda (x) (json-ref x "line")) records))
       (test-equal "Runtime.OutOfMemory" "Runtime.OutOfMemory"
                   (and (pair? records) (json-ref (car records) "error" "errorType")))
       (test-equal "the next event succeeds" 1048576
                   (and (= 2 (length records)) (json-ref (cadr records) "result")))
       (test-assert "in a fresh container"
                    (and (= 2 (length records))
                         (number? (json-ref (cadr records) "initDurationMs"))))
       (test-equal "exit status 1" 1 (run-status r))))

   (test-group "a progress line on a terminal"
     ;; script(1) gives batch a terminal for its standard error.
     (let* ((events (temp-file (string-concatenate (make-list 8 "{}\n"))))
            (r (run (list "script" "-qec"
                          (string-append "guile-lambda batch "
                                         (fixture "slow-echo.scm") " " events
                                         " >/dev/null 2>/dev/tty")
                          "/dev/null")))
            (tty (run-stdout r)))
       (delete-file events)
       (test-assert "says how many of the file's events are done, errors and rate"
                    (string-match "batch: [0-9]+/8 done, 0 errors, [0-9]+/s" tty))
       (test-assert "and disappears when the run ends"
                    (string-suffix? "\r\x1b[K" tty))))
     (let ((r (guile-lambda "batch" (fixture "slow-echo.scm") #:input "{}\n")))
       (test-assert "not when standard error is no terminal"
                    (not (stderr-has? r "batch: ")))))))
