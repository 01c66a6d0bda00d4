;;; Signal watchers: a handler that signals itself and completes from
;;; the watcher, signal-once awaited, refused and unknown signals, and a
;;; watcher that keeps the loop alive until the timeout names it.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(define (invoke handler . args)
  (apply guile-lambda "invoke" (fixture handler) args))

(run-tests "signals"
 (lambda ()
   (let* ((r (invoke "signals-self.scm"))
          (v (run-json r)))
     (test-equal "kill to self, completed from the watcher: success"
                 0 (run-status r))
     (test-equal "the watcher got the signal's name" "SIGUSR1"
                 (json-ref v "signal"))
     (test-equal "handle-origin: the line of the signal-watch call" 8
                 (json-ref v "origin-line"))
     (test-assert "closed in the watcher: no longer listed"
                  (not (json-ref v "still-listed")))
     (test-assert "handle-describe: type, signal, origin and request"
                  (stderr-has? r (string-append
                                  "INFO\twatching: signal #[0-9]+ \\(SIGUSR1\\), created at .*signals-self.scm:8:11 during request "
                                  (or (run-request-id r) "?") "$")))
     (test-assert "at once"
                  (let ((ms (report-duration r))) (and ms (< ms 1000)))))

   (let* ((r (invoke "signals-self.scm:await-handler"))
          (v (run-json r)))
     (test-equal "await signal-once: success" 0 (run-status r))
     (test-equal "await signal-once: the value is the name" "SIGUSR2"
                 (json-ref v "first"))
     (test-equal "a name given as a string" "SIGHUP" (json-ref v "second"))
     (test-equal "a watcher given a number, alongside a signal-once" 1
                 (json-ref v "count"))
     (test-equal "details name the signal" "SIGUSR2" (json-ref v "details"))
     (test-equal "signal-once closes itself; handle-close! closes a watcher"
                 0 (json-ref v "left")))

   (let* ((r (invoke "signals-self.scm:errors-handler"))
          (v (run-json r)))
     (test-equal "unknown signal name: a clear error"
                 "unknown signal name SIGFOO: expected a name such as SIGUSR1, SIGUSR2, SIGHUP or SIGTERM, or a signal number"
                 (json-ref v "SIGFOO"))
     (test-equal "SIGKILL is refused" "SIGKILL cannot be watched: it cannot be caught"
                 (json-ref v "SIGKILL"))
     (test-assert "SIGURG is the watchdog's"
                  (string-contains (json-ref v "SIGURG") "SIGURG cannot be watched"))
     (test-assert "SIGSEGV is refused"
                  (string-contains (json-ref v "SIGSEGV") "SIGSEGV cannot be watched"))
     (test-assert "the collector's signals are refused"
                  (string-contains (json-ref v "SIGXCPU") "garbage collector"))
     (test-equal "0 is not a signal" "0 is not a signal number" (json-ref v "0"))
     (test-equal "nor is 1000" "1000 is not a signal number" (json-ref v "1000"))
     (test-assert "a real number: wrong type"
                  (string-contains (json-ref v "3.5") "Wrong type argument"))
     (test-equal "a real-time signal by name" "accepted"
                 (json-ref v "SIGRTMIN+1")))

   (let* ((r (invoke "signals-self.scm:ignored-handler"))
          (v (run-json r)))
     (test-equal "an ignored signal: success" 0 (run-status r))
     (test-assert "an ignored signal is caught while watched"
                  (not (json-ref v "while-watched")))
     (test-assert "and ignored again once its last watcher is closed"
                  (json-ref v "after")))

   (let ((r (invoke "signals-keepalive.scm" "--timeout" "1")))
     (test-equal "a watcher keeps the loop alive: the invocation times out"
                 124 (run-status r))
     (test-equal "Sandbox.Timedout" "Sandbox.Timedout"
                 (json-ref (run-json r) "errorType"))
     (test-assert "the log names the signal handle with its origin and request"
                  (stderr-has? r (string-append
                                  "ERROR\t  signal #[0-9]+ \\(SIGUSR2\\), created at .*signals-keepalive.scm:4:3 during request "
                                  (or (run-request-id r) "?") "$")))
     (test-assert "at the timeout: REPORT says 1 s to 1.5 s"
                  (let ((ms (report-duration r))) (and ms (<= 1000 ms) (< ms 1500)))))))
