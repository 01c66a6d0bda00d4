;;; (tests lib runtime-api): a Lambda Runtime API of the tests' own, in a
;;; thread, for a runtime under test: it hands out the events it was
;;; given to `next', then holds `next' as a long poll would, and records
;;; every response, error and init error the runtime posts.  And the
;;; other side: a small HTTP/1.1 client for the servers under test (the
;;; Invoke API of `guile-lambda serve'), every read bounded in time.
(define-module (tests lib runtime-api)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 textual-ports)
  #:use-module (ice-9 threads)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (rnrs bytevectors)
  #:export (call-with-runtime-api
            post-kind post-request-id post-headers post-body post-pipelined?
            api-posts api-wait-posts api-address
            http-connect http-send http-read http-request response?
            response-status response-headers response-header
            response-body))

(define-record-type <post>
  (make-post kind request-id headers body pipelined?)
  post?
  (kind post-kind)                      ; response, error or init-error
  (request-id post-request-id)
  (headers post-headers)                ; alist, names in lower case
  (body post-body)
  ;; The runtime's next request was there before this one was answered:
  ;; it did not wait for the answer.
  (pipelined? post-pipelined?))

(define-record-type <api>
  (make-api address events posts mutex)
  api?
  (address api-address)                 ; "127.0.0.1:PORT"
  (events api-events set-api-events!)
  (posts api-posts* set-api-posts!)
  (mutex api-mutex))

(define (api-posts api)
  "What the runtime posted so far, oldest first."
  (with-mutex (api-mutex api) (reverse (api-posts* api))))

(define* (api-wait-posts api n #:optional (seconds 30))
  "Wait up to SECONDS until the runtime posted N times; the posts."
  (let ((deadline (+ (current-time) seconds)))
    (let loop ()
      (let ((posts (api-posts api)))
        (if (or (>= (length posts) n) (> (current-time) deadline))
            posts
            (begin (usleep 20000) (loop)))))))

(define (crlf-line port)
  (let ((line (read-line port)))
    (if (eof-object? line) line (string-trim-right line #\return))))

(define (headers-read port)
  (let loop ((acc '()))
    (let ((line (crlf-line port)))
      (if (or (eof-object? line) (string-null? line))
          (reverse acc)
          (let ((colon (string-index line #\:)))
            (loop (cons (cons (string-downcase (substring line 0 colon))
                              (string-trim (substring line (1+ colon))))
                        acc)))))))

(define (answer port status headers body)
  (format port "HTTP/1.1 ~a ~a\r\n" status (if (= status 200) "OK" "Accepted"))
  (for-each (lambda (h) (format port "~a: ~a\r\n" (car h) (cdr h))) headers)
  (format port "Content-Length: ~a\r\n\r\n~a"
          (bytevector-length (string->utf8 body)) body)
  (force-output port))

(define (next-event! api)
  (with-mutex (api-mutex api)
    (let ((events (api-events api)))
      (and (pair? events)
           (begin (set-api-events! api (cdr events)) (car events))))))

(define (event-answer port event)
  ;; EVENT: (request-id json . extra-headers); an extra header replaces
  ;; the default of the same name.
  (let* ((extra (cddr event))
         (defaults
           `(("Lambda-Runtime-Aws-Request-Id" . ,(car event))
             ("Lambda-Runtime-Deadline-Ms"
              . ,(number->string (+ (* 1000 (current-time)) 30000)))
             ("Lambda-Runtime-Invoked-Function-Arn"
              . "arn:aws:lambda:us-east-1:000000000000:function:test")
             ("Lambda-Runtime-Trace-Id" . "Root=1-test;Sampled=0")
             ("Content-Type" . "application/json"))))
    (answer port 200
            (append (remove (lambda (h) (assoc (car h) extra)) defaults)
                    extra)
            (cadr event))))

(define (post-record! api target headers body pipelined?)
  (let* ((parts (string-split target #\/))
         (kind (cond ((string-suffix? "/response" target) 'response)
                     ((string-suffix? "/init/error" target) 'init-error)
                     (else 'error)))
         (id (and (not (eq? kind 'init-error))
                  (list-ref parts (- (length parts) 2)))))
    (with-mutex (api-mutex api)
      (set-api-posts! api (cons (make-post kind id headers body pipelined?)
                                (api-posts* api))))))

(define (connection-serve api port)
  (let loop ()
    (let ((line (crlf-line port)))
      (unless (eof-object? line)
        (let* ((fields (string-split line #\space))
               (method (car fields))
               (target (cadr fields))
               (headers (headers-read port))
               (length (string->number
                        (or (assoc-ref headers "content-length") "0")))
               (body (if (> length 0)
                         (utf8->string (get-bytevector-n port length))
                         "")))
          (if (string=? method "GET")
              (let ((event (next-event! api)))
                (if event
                    (begin (event-answer port event) (loop))
                    ;; The long poll: no more events, hold it.
                    (let hold () (sleep 1) (hold))))
              (begin
                (post-record! api target headers body (char-ready? port))
                (answer port 202 '(("Content-Type" . "application/json"))
                        "{\"status\":\"OK\"}")
                (loop))))))))

(define (call-with-runtime-api events proc)
  "Serve EVENTS, a list of (REQUEST-ID JSON . EXTRA-HEADERS), and call
PROC with the API; the server thread ends with the test process."
  ;; A runtime that exits as it posts (an init error) closes its end
  ;; before our answer is written: that must end the connection, not
  ;; kill the test with SIGPIPE.
  (sigaction SIGPIPE SIG_IGN)
  (let ((socket (socket PF_INET SOCK_STREAM 0)))
    (setsockopt socket SOL_SOCKET SO_REUSEADDR 1)
    (bind socket AF_INET INADDR_LOOPBACK 0)
    (listen socket 16)
    (let ((api (make-api (format #f "127.0.0.1:~a"
                                 (sockaddr:port (getsockname socket)))
                         events '() (make-mutex))))
      (call-with-new-thread
       (lambda ()
         (let accept-loop ()
           (let ((conn (car (accept socket))))
             (call-with-new-thread
              (lambda ()
                (catch 'system-error
                  (lambda () (connection-serve api conn))
                  (lambda _ (false-if-exception (close-port conn))))))
             (accept-loop)))))
      (proc api))))
;;; The client side.

(define-record-type <response>
  (make-response status headers body)
  response?
  (status response-status)
  (headers response-headers)            ; alist, names in lower case
  (body response-body))                 ; a string (UTF-8 decoded)

(define (response-header r name)
  (assoc-ref (response-headers r) (string-downcase name)))

(define (http-connect port)
  "A socket connected to 127.0.0.1:PORT, for bytes: what it sends and
reads is Latin-1, so that a string of codes up to 255 goes out as it is."
  (let ((s (socket PF_INET SOCK_STREAM 0)))
    (connect s AF_INET INADDR_LOOPBACK port)
    (set-port-encoding! s "ISO-8859-1")
    s))

(define* (http-send sock method target #:key (headers '()) (body #f))
  "Write a request on SOCK; BODY, a string, is sent as UTF-8 with its
Content-Length."
  (let ((bytes (and body (string->utf8 body))))
    (put-string sock (string-append method " " target " HTTP/1.1\r\n"
                                    "Host: 127.0.0.1\r\n"))
    (for-each (lambda (h) (put-string sock (string-append (car h) ": " (cdr h)
                                                          "\r\n")))
              headers)
    (when bytes
      (put-string sock (format #f "Content-Length: ~a\r\n"
                               (bytevector-length bytes))))
    (put-string sock "\r\n")
    (when bytes (put-bytevector sock bytes))
    (force-output sock)))

(define (readable? sock seconds)
  "Whether SOCK has input, or its end, within SECONDS.  Guile's select
returns early and empty-handed when a signal or another thread wakes
this one, so it is asked again until the time is up."
  (let ((deadline (+ (get-internal-real-time)
                     (* seconds internal-time-units-per-second))))
    (let wait ()
      (or (char-ready? sock)
          (let ((left (/ (- deadline (get-internal-real-time))
                         internal-time-units-per-second)))
            (and (positive? left)
                 (begin
                   (select (list sock) '() '()
                           (floor left)
                           (floor (* 1000000 (- left (floor left)))))
                   (wait))))))))

(define* (http-read sock #:optional (seconds 30))
  "The next response on SOCK: a <response>, 'closed if the server
closed the connection (or reset it) first, or #f if nothing came within
SECONDS."
  (catch 'system-error
    (lambda ()
      (if (not (readable? sock seconds))
          #f
          (let ((line (crlf-line sock)))
            (if (or (eof-object? line) (string-null? line))
                'closed
                (let* ((status (string->number (cadr (string-split line #\space))))
                       (headers (headers-read sock))
                       (length (string->number
                                (or (assoc-ref headers "content-length") "0")))
                       (body (if (> length 0) (get-bytevector-n sock length)
                                 (make-bytevector 0))))
                  (make-response status headers
                                 (if (eof-object? body) "" (utf8->string body))))))))
    (lambda _ 'closed)))

(define* (http-request port method target #:key (headers '()) (body #f)
                       (timeout 60))
  "One request on a connection of its own to 127.0.0.1:PORT: the
response, 'closed, or #f after TIMEOUT seconds."
  (let ((sock (http-connect port)))
    (http-send sock method target #:headers headers #:body body)
    (let ((r (http-read sock timeout)))
      (close-port sock)
      r)))
