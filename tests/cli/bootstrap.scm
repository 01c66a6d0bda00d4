;;; guile-lambda bootstrap: the custom runtime, driven by a Runtime API
;;; of the tests' own (tests lib runtime-api).
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (ice-9 textual-ports)
             (json)
             (tests lib tap)
             (tests lib cli)
             (tests lib runtime-api))

(define* (bootstrap-env api handler #:optional (env '()))
  `("env" ,(string-append "AWS_LAMBDA_RUNTIME_API=" (api-address api))
    ,(string-append "_HANDLER=" handler)
    ,(string-append "LAMBDA_TASK_ROOT=" (dirname (fixture "bootstrap.scm")))
    "AWS_LAMBDA_FUNCTION_NAME=test"
    ,@env
    "guile-lambda" "bootstrap"))

(define (json body) (json-string->scm body #:ordered #t))

(define events
  '(("req-1" "{}")
    ("req-2" "{\"raise\":true}")
    ("req-3" "{}")
    ("req-4" "not json")))

(run-tests "bootstrap"
 (lambda ()
   (call-with-runtime-api events
     (lambda (api)
       (call-with-process (bootstrap-env api "bootstrap.handler")
         (lambda (p)
           (let* ((posts (api-wait-posts api 4))
                  (post (lambda (id) (find (lambda (x) (equal? id (post-request-id x)))
                                           posts))))
             (test-equal "each event gets one post, in order"
                         '("req-1" "req-2" "req-3" "req-4")
                         (map post-request-id posts))
             (test-equal "success is a response" 'response
                         (post-kind (post "req-1")))
             (test-equal "the context's request id comes from the header" "req-1"
                         (assoc-ref (json (post-body (post "req-1"))) "requestId"))
             (test-equal "the invoked ARN too"
                         "arn:aws:lambda:us-east-1:000000000000:function:test"
                         (assoc-ref (json (post-body (post "req-1"))) "arn"))
             (test-equal "_X_AMZN_TRACE_ID is set per invocation"
                         "Root=1-test;Sampled=0"
                         (assoc-ref (json (post-body (post "req-1"))) "traceId"))
             (test-equal "the deadline comes from the header"
                         '(#t #t)
                         (map (lambda (k) (assoc-ref (json (post-body (post "req-1"))) k))
                              '("remainingPositive" "remainingAtMost30s")))
             (test-equal "a raise is an error post" 'error (post-kind (post "req-2")))
             (test-equal "with its type in Lambda-Runtime-Function-Error-Type"
                         "misc-error"
                         (assoc-ref (post-headers (post "req-2"))
                                    "lambda-runtime-function-error-type"))
             (test-equal "and the error object as the body" "misc-error"
                         (assoc-ref (json (post-body (post "req-2"))) "errorType"))
             (test-equal "the container stays warm: the module's state lives on" 3
                         (assoc-ref (json (post-body (post "req-3"))) "calls"))
             (test-equal "an event that is not JSON is an error"
                         "InvalidRequestContentException"
                         (assoc-ref (json (post-body (post "req-4"))) "errorType"))
             (test-assert "a server that does not say it reads pipelined requests gets each `next' after the answer to the outcome"
                          (not (any post-pipelined? posts)))
             ;; The runtime now waits in `next'; stop it and read its log.
             (kill (process-pid p) SIGTERM)
             (process-wait p 10)
             (let ((log (get-string-all (process-errors p))))
               (test-assert "no START, END or REPORT: the platform writes them"
                            (not (string-match "(^|\n)(START|END|REPORT) " log)))
               (test-assert "application log lines carry the request id"
                            (string-match "\treq-2\tERROR\tInvoke Error" log))))))))

   (call-with-runtime-api
    (map (lambda (id)
           (list id "{}" '("Guile-Lambda-Pipelining" . "true")))
         '("pipe-1" "pipe-2" "pipe-3"))
     (lambda (api)
       (call-with-process (bootstrap-env api "bootstrap.handler")
         (lambda (p)
           (let ((posts (api-wait-posts api 3)))
             (test-equal "a server that says it reads pipelined requests: each event gets its post"
                         '("pipe-1" "pipe-2" "pipe-3") (map post-request-id posts))
             (test-assert "and the next `next' comes with each outcome, pipelined"
                          (every post-pipelined? posts))
             (kill (process-pid p) SIGTERM)
             (process-wait p 10))))))

   (call-with-runtime-api '(("req-1" "{}"))
     (lambda (api)
       (call-with-process (bootstrap-env api "missing.handler")
         (lambda (p)
           (let ((posts (api-wait-posts api 1)))
             (test-equal "an init error goes to /runtime/init/error" '(init-error)
                         (map post-kind posts))
             (test-equal "with its type" "Runtime.ImportModuleError"
                         (assoc-ref (post-headers (car posts))
                                    "lambda-runtime-function-error-type"))
             (test-equal "and the runtime exits, as Lambda asks" 1
                         (process-wait p 10)))))))

   ;; @vercel/fun sends "Lambda-Runtime-Deadline-Ms: 5000": no time since
   ;; the epoch.  Taken as one, every invocation timed out at once.
   ;; The timeout resets the container: req-d2 comes last.
   (call-with-runtime-api
    '(("req-d1" "{\"spinMs\":200}" ("Lambda-Runtime-Deadline-Ms" . "5000"))
      ("req-d3" "{}")
      ("req-d2" "{\"spinMs\":3000}" ("Lambda-Runtime-Deadline-Ms" . "5000")))
     (lambda (api)
       (call-with-process (bootstrap-env api "bootstrap.handler"
                                         '("AWS_LAMBDA_FUNCTION_TIMEOUT=1"))
         (lambda (p)
           (let* ((posts (api-wait-posts api 3))
                  (post (lambda (id) (find (lambda (x) (equal? id (post-request-id x)))
                                           posts)))
                  (body (lambda (id) (json (post-body (post id))))))
             (test-equal "a deadline that is no time: the work still runs"
                         'response (post-kind (post "req-d1")))
             (test-assert "within the function's timeout, AWS_LAMBDA_FUNCTION_TIMEOUT"
                          (let ((left (assoc-ref (body "req-d1") "remainingMs")))
                            (and (> left 0) (<= left 1000))))
             (test-equal "which still ends work that runs past it"
                         '("Sandbox.Timedout" "Task timed out after 1.00 seconds")
                         (map (lambda (k) (assoc-ref (body "req-d2") k))
                              '("errorType" "errorMessage")))
             (test-assert "a real deadline still counts, past the function's timeout"
                          (> (assoc-ref (body "req-d3") "remainingMs") 1000))
             (kill (process-pid p) SIGTERM)
             (process-wait p 10)
             (let ((log (get-string-all (process-errors p))))
               (test-equal "and the log says so once, naming the header" 1
                           (length (list-matches "Lambda-Runtime-Deadline-Ms '5000'"
                                                 log)))))))))

   (let ((r (guile-lambda "bootstrap"
                          #:env '(("AWS_LAMBDA_RUNTIME_API" . "127.0.0.1:9")
                                  ("_HANDLER" . "bootstrap.handler")
                                  ("AWS_LAMBDA_FUNCTION_TIMEOUT" . "soon")))))
     (test-equal "a timeout that is not seconds: bad usage" 2 (run-status r))
     (test-assert "which it names" (stderr-has? r "AWS_LAMBDA_FUNCTION_TIMEOUT")))

   (let ((r (guile-lambda "bootstrap" #:env '(("AWS_LAMBDA_RUNTIME_API" . "127.0.0.1:9")))))
     (test-equal "without _HANDLER: bad usage" 2 (run-status r))
     (test-assert "which it names" (stderr-has? r "_HANDLER")))))
