;;; `guile-lambda serve': the Lambda Invoke API (DESIGN.md §8) seen by
;;; an HTTP client: RequestResponse, Event and DryRun, the tail of the
;;; log, function errors, qualifiers and ARNs, the client context,
;;; Lambda's errors (404, 413, 400, 429), GetFunction, several functions
;;; with their own settings, the listening options, and the graceful
;;; and the immediate stop on signals.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (rnrs bytevectors)
             (json)
             (tests lib tap)
             (tests lib cli)
             (tests lib runtime-api))

(define handler (fixture "serve.scm"))

;;; The server.

(define (server-start args)
  "Start guile-lambda serve ARGS on a free port: (PROCESS . PORT), or
(PROCESS . #f) if it never said where it listens."
  (let* ((p (apply start-guile-lambda "serve" "--port" "0" args))
         (line (await-log p "serving the Lambda Invoke API on http://"))
         (m (and line (string-match ":([0-9]+) " line))))
    (cons p (and m (string->number (match:substring m 1))))))

(define (server-stop p)
  "SIGTERM, as a service manager stops it; the <run>."
  (false-if-exception (kill (started-pid p) SIGTERM))
  (finish-run p #:timeout 30))

(define (call-with-server args proc)
  "Call (PROC PROCESS PORT) with a server started with ARGS; stop it
however PROC leaves; return PROC's value and the server's <run>."
  (let* ((server (server-start args))
         (result #f)
         (run #f))
    (dynamic-wind
      (const #t)
      (lambda ()
        (when (cdr server)
          (set! result (proc (car server) (cdr server)))))
      (lambda () (set! run (server-stop (car server)))))
    (values result run)))

(define* (invoke port name #:key (body "{}") (headers '()) (query ""))
  (http-request port "POST"
                (string-append "/2015-03-31/functions/" name "/invocations"
                               query)
                #:headers headers #:body body))

(define (body-json r)
  (and (response? r)
       (json-string->scm (response-body r) #:ordered #t)))

(define (status-of r) (and (response? r) (response-status r)))
(define (header-of r name) (and (response? r) (response-header r name)))

;;; Base64, for X-Amz-Log-Result and X-Amz-Client-Context.

(define base64-digits
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

(define (base64-encode text)
  (let* ((bv (string->utf8 text))
         (n (bytevector-length bv)))
    (let loop ((i 0) (acc '()))
      (if (>= i n)
          (string-concatenate-reverse acc)
          (let* ((b (lambda (k) (if (< (+ i k) n) (bytevector-u8-ref bv (+ i k)) 0)))
                 (v (+ (ash (b 0) 16) (ash (b 1) 8) (b 2)))
                 (d (lambda (shift) (string-ref base64-digits
                                                (logand (ash v (- shift)) 63))))
                 (chunk (string (d 18) (d 12)
                                (if (< (+ i 1) n) (d 6) #\=)
                                (if (< (+ i 2) n) (d 0) #\=))))
            (loop (+ i 3) (cons chunk acc)))))))

(define (base64-decode text)
  "TEXT's bytes as a string (Latin-1, one character a byte)."
  (let loop ((chars (string->list (string-delete #\= text))) (v 0) (bits 0)
             (acc '()))
    (if (null? chars)
        (list->string (reverse acc))
        (let* ((v (logior (ash v 6) (string-index base64-digits (car chars))))
               (bits (+ bits 6)))
          (if (>= bits 8)
              (loop (cdr chars) (logand v (- (ash 1 (- bits 8)) 1)) (- bits 8)
                    (cons (integer->char (ash v (- 8 bits))) acc))
              (loop (cdr chars) v bits acc))))))

;;; One server with the fixture, two containers.

(run-tests "serve"
  (lambda ()
    (define-values (checks run)
      (call-with-server
       (list handler "--concurrency" "2" "--timeout" "5")
       (lambda (p port)
         (let* ((ok (invoke port "serve" #:body "{\"log\":\"hello from the test\"}"))
                (result (body-json ok))
                (id (header-of ok "X-Amzn-RequestId")))
           (test-equal "RequestResponse: 200 with the handler's result"
             '(200 "hello from the test")
             (list (status-of ok) (json-ref result "event" "log")))
           (test-equal "X-Amzn-RequestId is the invocation's request id"
             (json-ref result "requestId") id)
           (test-equal "X-Amz-Executed-Version: $LATEST"
             "$LATEST" (header-of ok "X-Amz-Executed-Version"))
           (test-assert "no X-Amz-Function-Error on success, no log tail unasked"
             (not (or (header-of ok "X-Amz-Function-Error")
                      (header-of ok "X-Amz-Log-Result"))))
           (test-assert "its START, its line and its REPORT are on stderr"
             (and id
                  (await-log p (string-append "^START RequestId: " id))
                  (await-log p (string-append "\t" id "\tINFO\thello from the test$"))
                  (await-log p (string-append "^REPORT RequestId: " id "\tDuration: "))))

           (let ((r (invoke port "function" #:body "{\"n\":1}")))
             (test-equal "the RIE's path, function NAME `function', reaches it"
               '(200 "serve" 1)
               (list (status-of r) (json-ref (body-json r) "functionName")
                     (json-ref (body-json r) "event" "n"))))

           (let ((r (invoke port "serve" #:body "{\"fail\":\"asked to fail\"}")))
             (test-equal "a function error: 200, X-Amz-Function-Error: Unhandled"
               '(200 "Unhandled")
               (list (status-of r) (header-of r "X-Amz-Function-Error")))
             (test-assert "with the error object as the body"
               (and (body-json r)
                    (string? (json-ref (body-json r) "errorType"))
                    (string-contains (json-ref (body-json r) "errorMessage")
                                     "asked to fail"))))

           (let* ((r (invoke port "serve" #:body "{\"log\":\"tail me\"}"
                             #:headers '(("X-Amz-Log-Type" . "Tail"))))
                  (id (header-of r "X-Amzn-RequestId"))
                  (tail (and (header-of r "X-Amz-Log-Result")
                             (base64-decode (header-of r "X-Amz-Log-Result")))))
             (test-assert "Tail: X-Amz-Log-Result holds START, the line, END, REPORT"
               (and tail id
                    (string-prefix? (string-append "START RequestId: " id) tail)
                    (string-contains tail (string-append id "\tINFO\ttail me\n"))
                    (string-contains tail (string-append "END RequestId: " id))
                    (string-contains tail (string-append "\nREPORT RequestId: " id))
                    (string-suffix? "\n" tail))))

           (let* ((r (invoke port "serve" #:body "{\"logBytes\":10000}"
                             #:headers '(("X-Amz-Log-Type" . "Tail"))))
                  (tail (and (header-of r "X-Amz-Log-Result")
                             (base64-decode (header-of r "X-Amz-Log-Result")))))
             (test-assert "Tail of a long log: its last 4096 bytes, REPORT last"
               (and tail (= (string-length tail) 4096)
                    (string-contains tail "xxxxxxxxxx\nEND RequestId: ")
                    (string-contains tail "\nREPORT RequestId: "))))

           (let* ((r (invoke port "serve" #:body "{\"log\":\"as an event\"}"
                             #:headers '(("X-Amz-Invocation-Type" . "Event"))))
                  (id (header-of r "X-Amzn-RequestId")))
             (test-equal "Event: 202 at once, no body"
               '(202 "") (list (status-of r) (and (response? r) (response-body r))))
             (test-assert "and the event runs later, with that request id"
               (and id
                    (await-log p (string-append "\t" id "\tINFO\tas an event$"))
                    (await-log p (string-append "^REPORT RequestId: " id)))))

           (test-equal "Qualifier $LATEST (as SDKs encode it) is the function"
             200 (status-of (invoke port "serve" #:query "?Qualifier=%24LATEST")))
           (test-equal "NAME:$LATEST and the function's ARN name it too"
             '(200 200)
             (list (status-of (invoke port "serve%3A%24LATEST"))
                   (status-of (invoke port "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aserve"))))
           (let ((r (invoke port "serve" #:query "?Qualifier=prod")))
             (test-equal "an unknown qualifier: 404 ResourceNotFoundException"
               '(404 "ResourceNotFoundException")
               (list (status-of r) (header-of r "X-Amzn-ErrorType"))))

           (let ((r (invoke port "serve"
                            #:headers `(("X-Amz-Client-Context"
                                         . ,(base64-encode "{\"custom\":{\"k\":\"v\"},\"env\":{\"platform\":\"test\"}}"))))))
             (test-equal "X-Amz-Client-Context reaches context-client-context"
               '("v" "test")
               (list (json-ref (body-json r) "clientContext" "custom" "k")
                     (json-ref (body-json r) "clientContext" "env" "platform"))))
           (let ((r (invoke port "serve"
                            #:headers '(("X-Amz-Client-Context" . "not base64!")))))
             (test-equal "a client context that is not base64 JSON: 400"
               '(400 "InvalidRequestContentException")
               (list (status-of r) (header-of r "X-Amzn-ErrorType"))))

           (let ((r (invoke port "nope")))
             (test-equal "an unknown function: 404 ResourceNotFoundException"
               '(404 "ResourceNotFoundException"
                     "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
               (list (status-of r) (header-of r "X-Amzn-ErrorType")
                     (json-ref (body-json r) "Message"))))

           (let ((r (invoke port "serve" #:body "{\"unfinished\":")))
             (test-equal "malformed JSON: 400 InvalidRequestContentException"
               '(400 "InvalidRequestContentException")
               (list (status-of r) (header-of r "X-Amzn-ErrorType")))
             (test-assert "whose message says where"
               (string-prefix? "Could not parse request body into json: "
                               (or (json-ref (body-json r) "Message") ""))))

           (let ((r (invoke port "serve" #:headers '(("X-Amz-Invocation-Type" . "Sometime")))))
             (test-equal "an invocation type that is none: 400 ValidationException"
               '(400 "ValidationException")
               (list (status-of r) (header-of r "X-Amzn-ErrorType"))))

           (let* ((sock (http-connect port))
                  (r (begin
                       (http-send sock "POST" "/2015-03-31/functions/serve/invocations"
                                  #:headers '(("Content-Length" . "6291457")))
                       (http-read sock 30))))
             (close-port sock)
             (test-equal "a payload over 6 MB: 413 RequestTooLargeException"
               '(413 "RequestTooLargeException")
               (list (status-of r) (json-ref (body-json r) "__type"))))

           (let* ((r (http-request port "GET" "/2015-03-31/functions/serve"))
                  (c (json-ref (body-json r) "Configuration")))
             (test-equal "GET the function: what a client needs to see it"
               (list 200 "serve" "provided.al2023" handler 5 128)
               (list (status-of r) (json-ref c "FunctionName")
                     (json-ref c "Runtime") (json-ref c "Handler")
                     (json-ref c "Timeout") (json-ref c "MemorySize"))))
           (test-equal "GET an unknown function: 404"
             404 (status-of (http-request port "GET" "/2015-03-31/functions/nope")))
           (test-equal "another path: 404 UnknownOperationException"
             "UnknownOperationException"
             (header-of (http-request port "GET" "/2015-03-31/other") "X-Amzn-ErrorType"))

           (let* ((sock (http-connect port))
                  (r1 (begin (http-send sock "POST" "/2015-03-31/functions/serve/invocations"
                                        #:body "{\"k\":1}")
                             (http-read sock)))
                  (r2 (begin (http-send sock "POST" "/2015-03-31/functions/serve/invocations"
                                        #:body "{\"k\":2}")
                             (http-read sock))))
             (close-port sock)
             (test-equal "two invocations on one kept-alive connection"
               '(1 2) (list (json-ref (body-json r1) "event" "k")
                            (json-ref (body-json r2) "event" "k"))))))))
    (test-equal "SIGTERM with nothing in flight: exit 0"
      0 (run-status run))
    (test-assert "it says it stopped once every invocation was answered"
      (stderr-has? run "every invocation accepted was answered; stopped"))

    ;; 429: one container, one event may wait.
    (call-with-server
     (list handler "--queue" "1")
     (lambda (p port)
       ;; One container: the events run in the order they came.
       (let* ((dry (invoke port "serve" #:body "{\"log\":\"dry run\"}"
                           #:headers '(("X-Amz-Invocation-Type" . "DryRun"))))
              (after (invoke port "serve" #:body "{\"log\":\"after the dry run\"}")))
         (test-equal "DryRun: 204"
           204 (status-of dry))
         (test-assert "and the function is not called"
           (and (await-log p "\tINFO\tafter the dry run$")
                (not (string-contains (log-so-far p) "\tINFO\tdry run\n")))))

       (let* ((event '(("X-Amz-Invocation-Type" . "Event")))
              (r1 (invoke port "serve" #:body "{\"sleepMs\":1500}" #:headers event))
              (r2 (invoke port "serve" #:body "{\"sleepMs\":10}" #:headers event))
              (r3 (invoke port "serve" #:body "{}" #:headers event))
              (r4 (invoke port "serve" #:body "{}")))
         (test-equal "a full queue: 429 TooManyRequestsException, Event or not"
           '(202 202 429 429 "TooManyRequestsException")
           (map (lambda (x) (or x 'none))
                (list (status-of r1) (status-of r2) (status-of r3)
                      (status-of r4) (header-of r4 "X-Amzn-ErrorType"))))
         (test-assert "once the queue has room again, it takes more"
           (and (await-log p (string-append "^REPORT RequestId: "
                                            (or (header-of r2 "X-Amzn-RequestId") "none")))
                (equal? 200 (status-of (invoke port "serve"))))))))

    ;; Several functions, each with its own settings.
    (call-with-server
     (list "--env" "SERVE_TEST=everyone"
           "--function" (string-append "alpha=" handler) "--memory" "256"
           "--function" (string-append "beta=" handler) "--timeout" "1"
           "--env" "SERVE_TEST=beta only" "--concurrency" "2")
     (lambda (p port)
       (let ((a (body-json (invoke port "alpha")))
             (b (body-json (invoke port "beta")))
             (b-timeout (invoke port "beta" #:body "{\"sleepMs\":3000}"))
             (ga (json-ref (body-json (http-request port "GET" "/2015-03-31/functions/alpha"))
                           "Configuration"))
             (gb (json-ref (body-json (http-request port "GET" "/2015-03-31/functions/beta"))
                           "Configuration")))
         (test-equal "--function NAME=HANDLER: each function answers to its name"
           '("alpha" "beta")
           (list (json-ref a "functionName") (json-ref b "functionName")))
         (test-equal "options after a --function are its own: memory"
           '(256 128) (list (json-ref ga "MemorySize") (json-ref gb "MemorySize")))
         (test-equal "timeout"
           '(3 1) (list (json-ref ga "Timeout") (json-ref gb "Timeout")))
         (test-equal "environment"
           '("everyone" "beta only") (list (json-ref a "env") (json-ref b "env")))
         (test-assert "and beta's own timeout holds: Sandbox.Timedout"
           (and (equal? "Unhandled" (header-of b-timeout "X-Amz-Function-Error"))
                (equal? "Sandbox.Timedout"
                        (json-ref (body-json b-timeout) "errorType"))))
         (test-assert "function NAME `function' is the first"
           (equal? "alpha" (json-ref (body-json (invoke port "function"))
                                     "functionName"))))))

    ;; Graceful stop: what was accepted is finished and answered.
    (let* ((server (server-start (list handler "--concurrency" "1")))
           (p (car server))
           (port (cdr server))
           (busy (http-connect port))
           (_ (http-send busy "POST" "/2015-03-31/functions/serve/invocations"
                         #:body "{\"sleepMs\":1500,\"log\":\"in flight\"}"))
           (queued (invoke port "serve" #:body "{\"log\":\"queued event\"}"
                           #:headers '(("X-Amz-Invocation-Type" . "Event")))))
      (await-log p "\tINFO\tin flight$")
      (kill (started-pid p) SIGTERM)
      (await-log p "SIGTERM: no new invocations")
      (let ((refused (catch 'system-error
                       (lambda () (close-port (http-connect port)) #f)
                       (lambda _ #t)))
            (answer (http-read busy 30)))
        (close-port busy)
        (let ((run (finish-run p #:timeout 30)))
          (test-assert "SIGTERM: no new connections"
            refused)
          (test-equal "the invocation in flight is answered"
            '(200 "in flight")
            (list (status-of answer) (json-ref (body-json answer) "event" "log")))
          (test-assert "the queued Event runs before the exit"
            (stderr-has? run (string-append "^REPORT RequestId: "
                                            (or (header-of queued "X-Amzn-RequestId")
                                                "none"))))
          (test-equal "and it exits 0" 0 (run-status run)))))

    ;; A second signal: at once.
    (let* ((server (server-start (list handler)))
           (p (car server))
           (busy (http-connect (cdr server))))
      (http-send busy "POST" "/2015-03-31/functions/serve/invocations"
                 #:body "{\"sleepMs\":20000,\"log\":\"long\"}")
      (await-log p "\tINFO\tlong$")
      (kill (started-pid p) SIGINT)
      (await-log p "SIGINT: no new invocations")
      (kill (started-pid p) SIGINT)
      (let ((answer (http-read busy 30))
            (run (finish-run p #:timeout 30)))
        (close-port busy)
        (test-equal "a second SIGINT stops at once: exit 130, the client cut off"
          '(130 closed) (list (run-status run) answer))
        (test-assert "well before the invocation would have ended"
          (< (run-seconds run) 15))
        (test-assert "and no container is left behind"
          (not (run-leftovers run)))))

    ;; Listening.
    (call-with-server
     (list handler "--host" "0.0.0.0")
     (lambda (p port)
       (test-assert "--host other than loopback: a warning"
         (await-log p "warning: listening on 0.0.0.0, not loopback"))))

    (let ((r (guile-lambda "serve" handler "--port" "70000")))
      (test-equal "--port out of range: usage error" 2 (run-status r)))
    (let ((r (guile-lambda "serve" "--function" "bad name=x.scm")))
      (test-assert "--function with a bad name: usage error, saying why"
        (and (= 2 (run-status r)) (stderr-has? r "letters, digits"))))
    (let ((r (guile-lambda "serve")))
      (test-assert "serve without a function: usage error"
        (and (= 2 (run-status r)) (stderr-has? r "serve needs a HANDLER"))))
    (let ((r (guile-lambda "invoke" handler "--port" "9000")))
      (test-assert "--port with another command: usage error"
        (and (= 2 (run-status r)) (stderr-has? r "work only with serve"))))
    (let ((r (guile-lambda "serve" handler handler)))
      (test-assert "two functions of one name: usage error"
        (and (= 2 (run-status r)) (stderr-has? r "two functions are called serve"))))))
