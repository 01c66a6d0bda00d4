;;; `guile-lambda serve' against bad clients: malformed request lines,
;;; a 100 KB head, bad chunk sizes, bodies shorter than their
;;; Content-Length, a client that sends its head a byte per 100 ms, one
;;; that leaves in the middle of its invocation; each gets a 4xx or a
;;; closed connection, the server answers other clients throughout, the
;;; invocation of the client that left still completes and is logged,
;;; and after 10,000 such requests its descriptors and memory are where
;;; they were (counted in /proc/PID).
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (ice-9 rdelim)
             (ice-9 threads)
             (ice-9 textual-ports)
             (json)
             (tests lib tap)
             (tests lib cli)
             (tests lib runtime-api))

(define handler (fixture "serve.scm"))
(define invocations "/2015-03-31/functions/serve/invocations")

(define (raw port text)
  "Send TEXT (Latin-1) on a connection of its own, half-close it, and
return what came back: a <response>, 'closed, or #f."
  (let ((sock (http-connect port)))
    (catch 'system-error
      (lambda ()
        (put-string sock text)
        (force-output sock)
        (shutdown sock 1))
      (const #f))
    (let ((r (http-read sock 30)))
      (close-port sock)
      r)))

(define (rejected? r)
  "A 4xx or a closed connection: what a bad request must get."
  (or (eq? r 'closed)
      (and (response? r) (<= 400 (response-status r) 499))))

(define (status-of r) (if (response? r) (response-status r) r))

(define (invoke port body)
  (http-request port "POST" invocations #:body body))

(define (answered? r)
  (and (response? r) (= 200 (response-status r))))

;;; The process, seen from /proc.

(define (fd-count pid)
  (length (scandir* (format #f "/proc/~a/fd" pid))))

(define (scandir* dir)
  (let ((d (opendir dir)))
    (let loop ((acc '()))
      (let ((e (readdir d)))
        (if (eof-object? e)
            (begin (closedir d) acc)
            (loop (if (member e '("." "..")) acc (cons e acc))))))))

(define (rss-kb pid)
  (call-with-input-file (format #f "/proc/~a/status" pid)
    (lambda (port)
      (let loop ()
        (let ((line (read-line port)))
          (cond ((eof-object? line) #f)
                ((string-prefix? "VmRSS:" line)
                 (string->number (cadr (string-tokenize line))))
                (else (loop))))))))

(define bad-requests
  ;; Each kind of bad traffic; the last two reach the Invoke API itself.
  (vector
   "GARBAGE\r\n\r\n"
   (string-append "POST " invocations " HTTP/1.1\r\nHost: x\r\n"
                  "Transfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n")
   (string-append "POST " invocations " HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 100\r\n\r\n{\"short\":")
   (string-append "POST /2015-03-31/functions/nope/invocations HTTP/1.1\r\n"
                  "Host: x\r\nContent-Length: 2\r\n\r\n{}")
   (string-append "POST " invocations " HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 5\r\n\r\n{bad}")))

(define (settle pid baseline seconds)
  "Wait up to SECONDS for PID's descriptors to come back to BASELINE
(connections lingering after a rejection close as their clients do);
the count then."
  (let loop ((tries (* seconds 10)))
    (let ((n (fd-count pid)))
      (if (or (<= n baseline) (zero? tries))
          n
          (begin (usleep 100000) (loop (- tries 1)))))))

(run-tests "serve-robustness"
  (lambda ()
    (let* ((p (start-guile-lambda "serve" handler "--port" "0"
                                  "--concurrency" "2"))
           (line (await-log p "serving the Lambda Invoke API on http://"))
           (m (and line (string-match ":([0-9]+) " line)))
           (port (and m (string->number (match:substring m 1))))
           (pid (started-pid p)))
      (test-assert "the server started" port)
      (when port
        (test-assert "a warm-up invocation is answered"
          (answered? (invoke port "{}")))

        (test-equal "a malformed request line: 400"
          400 (status-of (raw port "GET / NOT-HTTP\r\n\r\n")))
        (test-equal "a 100 KB head: 431"
          431 (status-of (raw port (string-append
                                    "POST " invocations " HTTP/1.1\r\n"
                                    "X-Big: " (make-string 102400 #\a)
                                    "\r\n\r\n"))))
        (test-equal "a bad chunk size: 400"
          400 (status-of (raw port (vector-ref bad-requests 1))))
        (test-assert "a body shorter than its Content-Length: closed, unanswered"
          (rejected? (raw port (vector-ref bad-requests 2))))
        (test-assert "and no invocation ran for it"
          (not (string-contains (log-so-far p) "short")))

        ;; A head a byte per 100 ms, while others are served.
        (let* ((head (string-append "POST " invocations " HTTP/1.1\r\n"
                                    "Host: 127.0.0.1\r\n"
                                    "X-Slow: " (make-string 200 #\s)
                                    "\r\nContent-Length: 2\r\n\r\n{}"))
               (slow (call-with-new-thread
                      (lambda ()
                        (let ((sock (http-connect port)))
                          (let loop ((i 0))
                            (when (< i (string-length head))
                              (if (catch 'system-error
                                    (lambda ()
                                      (put-char sock (string-ref head i))
                                      (force-output sock)
                                      #t)
                                    (const #f))
                                  (begin (usleep 100000) (loop (+ i 1)))
                                  #f)))
                          (let ((r (http-read sock 30)))
                            (close-port sock)
                            r)))))
               (others (let loop ((n 0) (ok 0))
                         (if (= n 40)
                             ok
                             (begin
                               (usleep 100000)
                               (loop (+ n 1)
                                     (+ ok (if (answered? (invoke port "{}"))
                                               1 0)))))))
               (r (join-thread slow)))
          (test-equal "meanwhile every other client is answered"
            40 others)
          (test-assert "the slow head gets 408, or a closed connection"
            (or (eq? r 'closed) (equal? 408 (status-of r)))))

        ;; A client that leaves in the middle of its invocation.
        (let ((sock (http-connect port)))
          (http-send sock "POST" invocations
                     #:body "{\"sleepMs\":1000,\"log\":\"client leaves\"}")
          (let* ((line (await-log p "\tINFO\tclient leaves$"))
                 (id (and line (cadr (string-split line #\tab)))))
            (close-port sock)
            (test-assert "a client that leaves mid-invocation is noticed"
              (and id (await-log p (string-append "request " id
                                                  ": the client went away"))))
            (test-assert "its invocation still completes and is logged"
              (and id (await-log p (string-append "^REPORT RequestId: " id))))
            (test-assert "and the server answers the next client"
              (answered? (invoke port "{}")))))

        ;; 10,000 bad requests: nothing kept.
        ;; SEND returns what the requests that were not rejected got, as
        ;; (INDEX KIND ANSWER), so that a failure says which and how.
        (let ((send (lambda (n)
                      (let loop ((i 0) (wrong '()))
                        (if (= i n)
                            (reverse wrong)
                            (let* ((kind (modulo i (vector-length bad-requests)))
                                   (r (raw port (vector-ref bad-requests kind))))
                              (loop (+ i 1)
                                    (if (rejected? r)
                                        wrong
                                        (cons (list i kind (status-of r))
                                              wrong)))))))))
          (send 1000)
          (let* ((fds (settle pid 0 2))
                 (rss (rss-kb pid))
                 (not-rejected (send 10000))
                 (fds-after (settle pid fds 10))
                 (rss-after (rss-kb pid)))
            (format #t "# descriptors ~a -> ~a, resident ~a KB -> ~a KB~%"
                    fds fds-after rss rss-after)
            (test-equal "10,000 bad requests: each rejected (4xx or closed)"
              '() not-rejected)
            (test-assert "descriptors flat after them"
              (<= fds-after fds))
            ;; A leak of 200 bytes a request would be 2 MB.
            (test-assert "memory flat after them (under 2 MB more)"
              (< (- rss-after rss) 2048))
            (test-assert "and the server still answers"
              (answered? (invoke port "{\"after\":true}"))))))
      (kill pid SIGTERM)
      (let ((run (finish-run p #:timeout 30)))
        (test-equal "it stops on SIGTERM with status 0" 0 (run-status run))))))
