;;; A Runtime API client that misbehaves before it behaves: run as a
;;; container with `batch --runtime-command', it sends the Runtime API
;;; of $AWS_LAMBDA_RUNTIME_API malformed and out-of-turn requests,
;;; writes each answer's status (or "closed") to the file
;;; $GL_ROGUE_ANSWERS as "PROBE STATUS" lines, then serves every event
;;; with the event itself as the response.
(use-modules (ice-9 rdelim) (ice-9 binary-ports) (rnrs bytevectors)
             (srfi srfi-1))

(define api (getenv "AWS_LAMBDA_RUNTIME_API"))
(define host (car (string-split api #\:)))
(define port (string->number (cadr (string-split api #\:))))
(define answers (open-file (getenv "GL_ROGUE_ANSWERS") "a"))
(define prefix "/2018-06-01/runtime")

(define (connect!)
  (let ((s (socket PF_INET SOCK_STREAM 0)))
    (connect s AF_INET (inet-pton AF_INET host) port)
    s))

(define (send s text)
  (put-bytevector s (string->utf8 text))
  (force-output s))

;; Whether S has input, or its end, within SECONDS; select may return
;; early, empty-handed, when a signal wakes the thread.
(define (readable-within? s seconds)
  (let ((deadline (+ (current-time) seconds)))
    (let wait ()
      (or (char-ready? s)
          (let ((left (- deadline (current-time))))
            (and (positive? left)
                 (begin (select (list s) '() '() left) (wait))))))))

;; The status of the answer on S, "closed" if the server closed it
;; without one, "none" if nothing came within 5 s.
(define (answer-status s)
  (if (not (readable-within? s 5))
      "none"
      (let ((line (read-line s)))
        (if (eof-object? line)
            "closed"
            (let ((words (string-split line #\space)))
              (if (>= (length words) 2) (cadr words) "closed"))))))

(define (note! probe status)
  (format answers "~a ~a~%" probe status)
  (force-output answers))

;; Send TEXT on a connection of its own, then (if HALF-CLOSE) end the
;; writing side, and note the answer.
(define* (probe! name text #:key half-close)
  (let ((s (connect!)))
    (catch 'system-error
      (lambda ()
        (send s text)
        (when half-close (shutdown s 1))
        (note! name (answer-status s)))
      (lambda _ (note! name "closed")))
    (close-port s)))

(define (post path body)
  (string-append "POST " prefix path " HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: " (number->string (string-length body))
                 "\r\n\r\n" body))

;; A whole answer: status, headers (names in lower case), body.
(define (read-answer s)
  (let* ((status (string->number (cadr (string-split (read-line s) #\space))))
         (headers (let loop ((acc '()))
                    (let ((l (string-trim-right (read-line s) #\return)))
                      (if (string-null? l)
                          acc
                          (let ((c (string-index l #\:)))
                            (loop (cons (cons (string-downcase (substring l 0 c))
                                              (string-trim (substring l (+ c 1))))
                                        acc)))))))
         (len (string->number (or (assoc-ref headers "content-length") "0")))
         (body (if (zero? len) "" (utf8->string (get-bytevector-n s len)))))
    (list status headers body)))

(define (request s text)
  (send s text)
  (read-answer s))

(define (next s)
  (request s (string-append "GET " prefix "/invocation/next HTTP/1.1\r\n"
                            "Host: x\r\n\r\n")))

;; Malformed traffic, during init.
(probe! "bad-request-line" "THIS IS NOT HTTP\r\n\r\n")
(probe! "bad-version" "GET / HTTP/9.9.9\r\n\r\n")
(probe! "huge-header"
        (string-append "GET " prefix "/invocation/next HTTP/1.1\r\nX-Big: "
                       (make-string 200000 #\a) "\r\n\r\n"))
(probe! "wrong-id-response"
        (post "/invocation/00000000-0000-0000-0000-000000000000/response" "{}"))

(define s (connect!))
(define first-event (next s))
(define id (assoc-ref (cadr first-event) "lambda-runtime-aws-request-id"))

;; Malformed and out-of-turn traffic while an invocation is running:
;; none of it may end the invocation.
(probe! "bad-chunk"
        (string-append "POST " prefix "/invocation/" id "/response HTTP/1.1\r\n"
                       "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\nnot a chunk\r\n0\r\n\r\n"))
(probe! "truncated-body"
        (string-append "POST " prefix "/invocation/" id "/response HTTP/1.1\r\n"
                       "Host: x\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
        #:half-close #t)
(probe! "init-error-after-init"
        (post "/init/error" "{\"errorType\":\"Late\",\"errorMessage\":\"late\"}"))
(probe! "wrong-id-response-busy"
        (post "/invocation/00000000-0000-0000-0000-000000000000/response" "{}"))
(probe! "bad-path" (post "/invocation/nowhere" "{}"))

;; The real response, then a second one for the same id.
(note! "first-response" (car (request s (post (string-append "/invocation/" id "/response")
                                              (caddr first-event)))))
(probe! "second-response"
        (post (string-append "/invocation/" id "/response") "{\"again\":true}"))
(probe! "second-error"
        (post (string-append "/invocation/" id "/error")
              "{\"errorType\":\"Again\",\"errorMessage\":\"again\"}"))
(note! "done" "-")
(close-port answers)

;; Behave from now on.
(let loop ()
  (let* ((event (next s))
         (id (assoc-ref (cadr event) "lambda-runtime-aws-request-id")))
    (request s (post (string-append "/invocation/" id "/response")
                     (caddr event)))
    (loop)))
