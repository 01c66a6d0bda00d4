;;; UDP: a datagram between two sockets on loopback with callbacks and
;;; with await, what the registry says while a send is in flight, the
;;; socket's origin, and the error paths (addresses that cannot be sent
;;; to, a port in use, a closed socket).
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(run-tests "udp"
 (lambda ()
   (test-group "a datagram, Node-style callbacks"
     (let* ((r (guile-lambda "invoke" (fixture "udp-echo.scm:callback-handler")))
            (result (run-json r)))
       (test-equal "success" 0 (run-status r))
       (test-equal "what was received" "hello, udp" (json-ref result "text"))
       (test-equal "the sender's address" "127.0.0.1"
                   (json-ref result "fromAddress"))
       (test-equal "the sender's port"
                   (json-ref result "senderPort") (json-ref result "fromPort"))))

   (test-group "a datagram, await"
     (let* ((r (guile-lambda "invoke" (fixture "udp-echo.scm")))
            (result (run-json r)))
       (test-equal "success" 0 (run-status r))
       (test-equal "what was received" "hello, await" (json-ref result "text"))
       (test-equal "only the receiving socket is listed" #("udp")
                   (json-ref result "handlesListed"))
       (test-equal "udp-send is a request while in flight" #("udp-send")
                   (json-ref result "requestsInFlight"))
       (test-equal "and is gone once sent" #() (json-ref result "requestsAfter"))
       (test-equal "details: receiving" #t (json-ref result "receiving"))
       (test-equal "details: the local port is udp-port"
                   (json-ref result "port") (json-ref result "localPort"))
       (test-assert "describe: the address it is bound to"
                    (string-prefix?
                     (format #f "udp #1 (bound to 127.0.0.1:~a, receiving), created at "
                             (json-ref result "port"))
                     (json-ref result "described")))
       (test-assert "origin: the file"
                    (string-suffix? "tests/handlers/udp-echo.scm"
                                    (json-ref result "originFile")))
       (test-equal "origin: the line of udp-bind" 29 (json-ref result "originLine"))
       (test-equal "origin: its column" 20 (json-ref result "originColumn"))))

   (test-group "errors"
     (let* ((r (guile-lambda "invoke" (fixture "udp-errors.scm")))
            (result (run-json r)))
       (define (check key kind text)
         (test-equal (string-append key ": kind") kind (json-ref result key 0))
         (test-assert (string-append key ": says " text)
                      (string-contains (json-ref result key 1) text)))
       (test-equal "the handler completed" 0 (run-status r))
       (check "malformed" "wrong-type-arg"
              "(expecting numeric IPv4 or IPv6 address): \"300.1.2.3\"")
       (check "name" "wrong-type-arg" "numeric IPv4 or IPv6 address")
       (check "portZero" "wrong-type-arg"
              "(expecting destination port from 1 to 65535): 0")
       (check "portRange" "wrong-type-arg" "destination port from 1 to 65535")
       (check "inUse" "EADDRINUSE" "bind EADDRINUSE 127.0.0.1:")
       (check "bindName" "wrong-type-arg" "numeric IPv4 or IPv6 address")
       (check "notProcedure" "wrong-type-arg" "procedure or #f")
       (check "closed" "EBADF" "udp-send EBADF on a closed socket")
       (test-equal "a refused send leaves no request behind" 0
                   (json-ref result "requests"))
       (test-equal "nor a socket" 0 (json-ref result "handles"))))))
