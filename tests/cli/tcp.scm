;;; TCP: a round trip with callbacks and with await, what the registry
;;; says about connections and their requests, origins, the error paths
;;; (refused, unknown host, address in use, closed sockets, bad
;;; arguments), and a connection that outlives its Scheme references.
(use-modules (ice-9 regex)
             (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(define* (invoke handler #:optional (event "{}") #:rest options)
  (apply guile-lambda "invoke" (fixture handler) event options))

(define (case-of handler name)
  (invoke handler (string-append "{\"case\":\"" name "\"}")))

(define (uv-error-check r code-pattern syscall)
  (let ((result (run-json r)))
    (test-equal "the handler completed" 0 (run-status r))
    (test-assert "the error is a uv-error" (json-ref result "uvError"))
    (test-assert (string-append "its code is " code-pattern)
                 (string-match code-pattern (json-ref result "code")))
    (test-equal "its system call" syscall (json-ref result "syscall"))
    result))

(run-tests "tcp"
 (lambda ()
   (test-group "round trip with Node-style callbacks"
     (let* ((r (invoke "tcp-echo.scm:callback-handler"))
            (result (run-json r)))
       (test-equal "success" 0 (run-status r))
       (test-equal "the echo" "hello, tcp" (json-ref result "echo"))
       (test-equal "the peer is the server"
                   (json-ref result "serverPort") (json-ref result "peerPort"))))

   (test-group "round trip with await"
     (let* ((r (case-of "tcp-echo.scm" "await"))
            (result (run-json r))
            (port (json-ref result "serverPort")))
       (test-equal "success" 0 (run-status r))
       (test-equal "the echo" "hello, await" (json-ref result "echo"))
       (test-equal "the peer address"
                   (format #f "127.0.0.1:~a/ipv4" port) (json-ref result "peer"))
       (test-assert "the local address"
                    (string-match "^127\\.0\\.0\\.1:[0-9]+/ipv4$"
                                  (json-ref result "local")))
       (test-equal "the server says it listens, and where"
                   (format #f "tcp #1 (listening on 127.0.0.1:~a), created at " port)
                   (substring (json-ref result "serverDescribed") 0
                              (string-length
                               (format #f "tcp #1 (listening on 127.0.0.1:~a), created at " port))))
       (test-assert "the connection describes both ends"
                    (string-contains (json-ref result "connDescribed")
                                     (format #f " -> 127.0.0.1:~a)" port)))
       (test-equal "handle-details has the addresses" #("local" "reading" "peer")
                   (json-ref result "details"))
       (test-equal "an idle client is not listed; the server and the reading end are"
                   #("tcp" "tcp") (json-ref result "handlesAfterConnect"))
       (test-assert "origin: the file"
                    (string-suffix? "tests/handlers/tcp-echo.scm"
                                    (json-ref result "originFile")))
       (test-equal "origin: the line of the await" 49 (json-ref result "originLine"))
       (test-equal "origin: its column" 16 (json-ref result "originColumn"))
       (test-equal "shutdown: the server ends the stream" #t
                   (json-ref result "eofAfterShutdown"))
       (test-equal "and a read after the end reads it again" #t
                   (json-ref result "eofAgain"))
       (test-equal "closed handles are not listed" #()
                   (json-ref result "handlesAtEnd"))))

   (test-group "requests in flight"
     (test-equal "connect, write, read, shutdown, then none"
                 #(#("connect") #("write") #("read") #("shutdown") #())
                 (run-json (case-of "tcp-echo.scm" "requests"))))

   (test-equal "tcp-on-data streams every chunk, then the end"
               "one,two" (run-json (case-of "tcp-echo.scm" "streaming")))

   (test-equal "a host name is looked up first"
               "by name" (run-json (case-of "tcp-echo.scm" "by-name")))

   (test-group "connection refused"
     (let* ((r (case-of "tcp-errors.scm" "refused"))
            (result (uv-error-check r "^ECONNREFUSED$" "connect")))
       (test-equal "the message names the address"
                   (format #f "connect ECONNREFUSED 127.0.0.1:~a: connection refused"
                           (json-ref result "port"))
                   (json-ref result "message"))
       (test-equal "the failed connection is closed" 0
                   (json-ref result "handles"))))

   (test-group "connection refused, Node-style"
     (let* ((r (invoke "tcp-errors.scm:callback-handler"))
            (result (uv-error-check r "^ECONNREFUSED$" "connect")))
       (test-equal "no connection with the error" #f (json-ref result "conn"))))

   ;; How long the resolver takes to fail is its business: a timeout
   ;; long enough for a slow one.
   (test-group "unknown host name"
     (let* ((r (invoke "tcp-errors.scm" "{\"case\":\"unknown-host\"}" "--timeout" "30"))
            (result (uv-error-check r "^EAI_" "getaddrinfo")))
       (test-assert "the message names the host"
                    (string-contains (json-ref result "message")
                                     "no-such-host.invalid"))))

   (test-group "address in use"
     (let* ((r (case-of "tcp-errors.scm" "address-in-use"))
            (result (uv-error-check r "^EADDRINUSE$" "listen")))
       (test-assert "raised by tcp-listen, with the address"
                    (string-match "^listen EADDRINUSE 127\\.0\\.0\\.1:[0-9]+: "
                                  (json-ref result "message")))
       (test-equal "the server that failed is not left open" 0
                   (json-ref result "handles"))))

   (test-group "write to a socket the peer closed"
     (let* ((r (case-of "tcp-errors.scm" "peer-closed"))
            (result (uv-error-check r "^(EPIPE|ECONNRESET)$" "write")))
       (test-assert "the read before saw the end" (json-ref result "eofFirst"))))

   (test-group "a socket closed here"
     (let* ((r (case-of "tcp-errors.scm" "closed-locally"))
            (result (run-json r)))
       (for-each
        (lambda (op)
          (test-equal (string-append op ": EBADF through the callback") "EBADF"
                      (json-ref result op "code"))
          (test-equal (string-append op ": says so")
                      (string-append op " EBADF on a closed connection: bad file descriptor")
                      (json-ref result op "message")))
        '("write" "read" "shutdown"))))

   (test-group "closed while a read waits"
     (uv-error-check (case-of "tcp-errors.scm" "closed-while-reading")
                     "^ECANCELED$" "read"))

   (test-group "bad arguments are raised at once"
     (let ((result (run-json (case-of "tcp-errors.scm" "bad-arguments"))))
       (define (check key pattern)
         (test-equal (string-append key ": kind") "wrong-type-arg"
                     (json-ref result key 0))
         (test-assert (string-append key ": " pattern)
                      (string-contains (json-ref result key 1) pattern)))
       (check "listenName" "numeric IPv4 or IPv6 address")
       (check "port" "port number from 0 to 65535")
       (check "notProcedure" "expecting procedure")
       (check "readServer" "not a listening server")
       (check "notTcp" "expecting tcp handle")
       (check "writeData" "string or bytevector")))

   (test-group "a connection left open: the timeout names it and its origin"
     (let* ((r (invoke "tcp-left-open.scm" "{}" "--timeout" "1"))
            (during (string-append " during request " (or (run-request-id r) "?") "$")))
       (test-equal "timed out" 124 (run-status r))
       (test-assert "the log lists the connection, created at its tcp-connect"
                    (stderr-has? r (string-append "ERROR\t  tcp #[0-9]+ \\(127\\.0\\.0\\.1:[0-9]+ -> 127\\.0\\.0\\.1:[0-9]+, reading: tcp-on-data\\), created at [^ ]*tests/handlers/tcp-left-open\\.scm:6:5"
                                                  during)))
       (test-assert "and the server, created at its tcp-listen"
                    (stderr-has? r (string-append "ERROR\t  tcp #[0-9]+ \\(listening on 127\\.0\\.0\\.1:[0-9]+\\), created at [^ ]*tests/handlers/tcp-left-open\\.scm:5:17"
                                                  during)))))

   (test-group "a connection nobody references keeps working"
     (let* ((r (invoke "tcp-gc.scm"))
            (result (run-json r)))
       (test-equal "success" 0 (run-status r))
       (test-assert "found in (active-handles) after (gc)" (json-ref result "found"))
       (test-equal "a closed one, held by nobody, was collected (the check can see it)" #t
                   (json-ref result "controlCollected"))
       (test-equal "the open one's object was not collected" #f (json-ref result "collected"))
       (test-equal "and it still echoes" "still here" (json-ref result "echo"))))))
