;;; Child processes: process-spawn and process-run (for await),
;;; process-kill and process-pid; arguments, environment, working
;;; directory, stdin, exit status and terminating signal; failed spawns
;;; through the completion procedure; origins in the registry and in the
;;; timeout report; and no child outliving its container.
(use-modules (srfi srfi-64)
             (ice-9 rdelim)
             (ice-9 textual-ports)
             (json)
             (tests lib tap)
             (tests lib cli))

(define (callback-case name . more)
  (guile-lambda "invoke" (fixture "process-callback.scm")
                (scm->json-string `(("case" . ,name) ,@more))))

(define (await-case name . options)
  (apply guile-lambda "invoke" (fixture "process-await.scm")
         (string-append "{\"case\":\"" name "\"}")
         #:env '(("GL_TEST_PARENT" . "inherited"))
         options))

(define (temp-name)
  (let* ((port (mkstemp! (string-copy "/tmp/gl-process-XXXXXX")))
         (name (port-filename port)))
    (close-port port)
    name))

(define (pid-from file)
  (let ((pid (string->number (call-with-input-file file get-string-all))))
    (delete-file file)
    pid))

(define (pid-alive? pid)
  ;; A reaped child is gone; signal 0 only asks whether it exists.
  (catch 'system-error
    (lambda () (kill pid 0) #t)
    (lambda args #f)))

(run-tests "process"
 (lambda ()
   (test-group "success, Node-style callback"
     (let* ((r (callback-case "args"))
            (v (run-json r)))
       (test-equal "status" 0 (run-status r))
       (test-equal "err is #f" 'null (json-ref v "err"))
       (test-equal "arguments reach the child as given" "one two three\n"
                   (json-ref v "result" "stdout"))
       (test-equal "exit status 0" 0 (json-ref v "result" "exit-status"))
       (test-equal "no terminating signal" #f
                   (json-ref v "result" "term-signal"))
       (test-equal "stderr captured, empty" "" (json-ref v "result" "stderr"))
       (test-assert "the result has the pid"
                    (integer? (json-ref v "result" "pid")))))

   (test-group "non-zero exit"
     (let ((v (run-json (callback-case "exit-3"))))
       (test-equal "is not an error of the binding" 'null (json-ref v "err"))
       (test-equal "exit status 3" 3 (json-ref v "result" "exit-status"))
       (test-equal "stdout" "out\n" (json-ref v "result" "stdout"))
       (test-equal "stderr" "oops\n" (json-ref v "result" "stderr"))))

   (test-group "await"
     (let ((r (await-case "hi")))
       (test-equal "status" 0 (run-status r))
       (test-equal "the result alist comes back from await" "hi\n"
                   (json-ref (run-json r) "stdout")))
     (test-equal "awaits in a loop, output into input" "xxxxxxxx"
                 (run-json (await-case "sequence"))))

   (test-group "environment"
     (test-equal "inherited by default" "inherited\n"
                 (json-ref (run-json (await-case "env-inherit")) "stdout"))
     (test-equal "env replaces the whole environment" "bar:\n"
                 (json-ref (run-json (await-case "env-replace")) "stdout")))

   (test-equal "working directory" "/tmp\n"
               (json-ref (run-json (await-case "cwd")) "stdout"))

   (test-group "stdin"
     (test-equal "a string fed to cat" "hello\nworld"
                 (json-ref (run-json (await-case "stdin")) "stdout"))
     (test-equal "a bytevector, larger than a pipe's buffer" "100000\n"
                 (json-ref (run-json (await-case "stdin-bytevector"))
                           "stdout"))
     (let ((r (await-case "stdin-unread")))
       (test-equal "a child that never reads it: still a success" 0
                   (run-status r))
       (test-equal "and its exit status" 0
                   (json-ref (run-json r) "exit-status"))))

   (test-group "output"
     (test-equal "bytes that are not UTF-8 become ?" "a?b"
                 (json-ref (run-json (await-case "not-utf-8")) "stdout"))
     (let* ((r (callback-case "ignore-inherit"))
            (v (run-json r)))
       (test-equal "a stream not captured is #f" #f
                   (json-ref v "result" "stdout"))
       (test-equal "'ignore is not captured either" #f
                   (json-ref v "result" "stderr"))
       (test-assert "'inherit writes into the log"
                    (stderr-has? r "^to-the-log-out$"))
       (test-assert "'ignore writes nowhere"
                    (not (stderr-has? r "to-the-log-err")))))

   (test-group "killed child"
     (let* ((r (callback-case "kill"))
            (v (run-json r)))
       (test-equal "status" 0 (run-status r))
       (test-equal "err is #f" 'null (json-ref v "err"))
       (test-equal "term-signal SIGKILL" "SIGKILL"
                   (json-ref v "result" "term-signal"))
       (test-equal "no exit status" #f (json-ref v "result" "exit-status"))
       (test-equal "process-kill after the exit raises ESRCH" "ESRCH"
                   (json-ref v "kill-after-exit"))
       (test-equal "process-pid is #f once the handle is closed" 'null
                   (json-ref v "pid-after-exit"))
       (test-assert "killed at once, long before sleep 30 would end"
                    (let ((ms (report-duration r))) (and ms (< ms 1000)))))
     (test-equal "a signal given by number" "SIGTERM"
                 (json-ref (run-json (callback-case "kill-number"))
                           "result" "term-signal"))
     (let ((r (await-case "bad-signal")))
       (test-equal "an unknown signal name raises" 1 (run-status r))
       (test-assert "and says which"
                    (string-contains (json-ref (run-json r) "errorMessage")
                                     "unknown signal SIGNOPE"))))

   (test-group "spawn failures come through the completion procedure"
     (let* ((r (callback-case "missing"))
            (v (run-json r)))
       (test-equal "missing program: the invocation succeeds" 0
                   (run-status r))
       (test-equal "err has code ENOENT" "ENOENT" (json-ref v "err" "code"))
       (test-assert "err names the program"
                    (string-contains (json-ref v "err" "message")
                                     "gl-test-no-such-program"))
       (test-equal "no result" 'null (json-ref v "result"))
       (test-assert "process-spawn returned a handle that says what failed"
                    (stderr-has? r "process #[0-9]+ \\(spawn failed: ENOENT, command gl-test-no-such-program x\\), created at .*process-callback.scm:[0-9]+:[0-9]+")))
     (test-equal "a missing working directory: ENOENT" "ENOENT"
                 (json-ref (run-json (callback-case "bad-cwd")) "err" "code"))
     (test-equal "with await, raised at the await and caught" "ENOENT"
                 (json-ref (run-json (await-case "missing")) "caught")))

   (test-group "bad arguments raise at once"
     (let ((r (await-case "bad-option")))
       (test-equal "unknown option: status" 1 (run-status r))
       (test-assert "unknown option: named"
                    (string-contains (json-ref (run-json r) "errorMessage")
                                     "unknown option colour")))
     (let ((r (await-case "bad-program")))
       (test-equal "program not a string: wrong-type-arg" "wrong-type-arg"
                   (json-ref (run-json r) "errorType"))))

   (test-group "the registry"
     (let* ((v (run-json (await-case "handles")))
            (handles (json-ref v "handles"))
            (pid (json-ref v "pid")))
       (test-equal "the process and its two pipes are live" 3
                   (vector-length handles))
       (test-equal "process details: pid" pid
                   (json-ref handles 0 "details" "pid"))
       (test-equal "process details: command" "sleep 30"
                   (json-ref handles 0 "details" "command"))
       (test-equal "a pipe's type" "pipe" (json-ref handles 1 "type"))
       (test-equal "a pipe's details: which stream" "stdout"
                   (json-ref handles 1 "details" "stream"))
       (test-equal "a pipe's details: whose" pid
                   (json-ref handles 1 "details" "pid"))
       (test-equal "origin: the line of the process-spawn call" 54
                   (json-ref v "origin-line"))
       (test-assert "origin: its file"
                    (string-suffix? "process-await.scm"
                                    (json-ref v "origin-file")))))

   (test-group "timeout: the report names the child"
     (let* ((pidfile (temp-name))
            (r (guile-lambda "invoke" (fixture "process-timeout.scm")
                             (scm->json-string `(("pidfile" . ,pidfile)))
                             "--timeout" "1"))
            (pid (pid-from pidfile)))
       (test-equal "timed out" 124 (run-status r))
       (test-assert "the process, with pid, command and origin"
                    (stderr-has? r (string-append
                                    "ERROR\t  process #[0-9]+ \\(pid "
                                    (number->string pid)
                                    ", command sleep 30\\), created at "
                                    ".*process-timeout.scm:6:12 during request "
                                    (or (run-request-id r) "?") "$")))
       (test-assert "its stdout pipe, with the same origin"
                    (stderr-has? r (string-append
                                    "ERROR\t  pipe #[0-9]+ \\(stdout of pid "
                                    (number->string pid)
                                    "\\), created at .*process-timeout.scm:6:12")))
       (test-assert "the child did not outlive the container"
                    (and (not (run-leftovers r)) (not (pid-alive? pid))))))

   (let ((r (guile-lambda "invoke" (fixture "process-await.scm")
                          "{\"case\":\"await-sleep\"}" "--timeout" "1")))
     (test-equal "timeout in await: timed out" 124 (run-status r))
     (test-assert "timeout in await: process-run's origin is the await"
                  (stderr-has? r (string-append
                                  "ERROR\t  process #[0-9]+ \\(pid [0-9]+, command sleep 30\\), created at .*process-await.scm:96:7 during request "
                                  (or (run-request-id r) "?") "$"))))

   (test-group "no child outlives its container"
     (let* ((pidfile (temp-name))
            (p (start-guile-lambda "batch" (fixture "process-timeout.scm")
                                   "--timeout" "1"))
            (records (begin
                       (send-input p (string-append
                                        (scm->json-string `(("pidfile" . ,pidfile)))
                                        "\n"))
                       (await-records p 1)))
            ;; The batch is still running: only the reset can have
            ;; killed the child.
            (alive (and records (pid-alive? (pid-from pidfile))))
            (r (finish-run p)))
       (test-equal "batch: the event timed out" "timeout"
                   (and records (json-ref (car records) "status")))
       (test-assert "batch: the reset killed and reaped the child"
                    (and records (not alive))))
     (let ((v (run-json (await-case "close-kills" "--timeout" "20"))))
       (test-assert "handle-close! on a running process kills it"
                    (not (json-ref v "alive")))
       (test-equal "and process-pid is #f" 'null
                   (json-ref v "pid-after-close")))
     ;; Through a pipe, as a caller reads the result: it ends when
     ;; every holder of the pipe has closed it.
     (let* ((pidfile (temp-name))
            (r (run (list "sh" "-c" "guile-lambda \"$@\" | cat" "sh"
                          "invoke" (fixture "process-callback.scm")
                          (scm->json-string `(("case" . "leave-running")
                                              ("pidfile" . ,pidfile)))))))
       (test-equal "left running, flag #f: success" "left running" (run-json r))
       (test-assert "the container's end killed the child"
                    (and (not (run-leftovers r)) (not (pid-alive? (pid-from pidfile)))))
       (test-assert "which did not keep the result stream open: less than half of sleep 30"
                    (< (run-seconds r) 15))))))
