;; File system requests with Node-style completion procedures, and what
;; the registry says about a request while it is in flight.
(define (describe-request req)
  `(("type" . ,(symbol->string (handle-type req)))
    ("request" . ,(request? req))
    ("listed" . ,(and (memq req (active-requests)) #t))
    ("operation" . ,(symbol->string (assq-ref (handle-details req) 'operation)))
    ("path" . ,(assq-ref (handle-details req) 'path))
    ("file" . ,(assq-ref (handle-origin req) 'file))
    ("line" . ,(assq-ref (handle-origin req) 'line))
    ("column" . ,(assq-ref (handle-origin req) 'column))
    ("describe" . ,(handle-describe req))))

(define (write-read-stat file callback)
  (define req
    (fs-write-file file "{\"n\":1}"
      (lambda (err)
        (if err
            (callback err)
            (fs-read-file-string file
              (lambda (err text)
                (if err
                    (callback err)
                    (fs-stat file
                      (lambda (err st)
                        (callback err
                                  `(("text" . ,text)
                                    ("size" . ,(assq-ref st 'size))
                                    ("finished" . ,(handle-closed? req))
                                    ("in-flight" . ,info))))))))))))
  (define info (describe-request req))
  req)

(define (handler event context callback)
  (let ((file (string-append (assoc-ref event "dir") "/data.json")))
    (cond
     ((assoc-ref event "fail")
      (fs-read-file (string-append file ".missing")
                    (lambda (err bytes) (callback err bytes))))
     ((assoc-ref event "early")
      ;; With the flag #t, the invocation waits for the request.
      (fs-append-file file "more"
                      (lambda (err) (format #t "appended: ~a~%" (not err))))
      (callback #f "called before the append completed"))
     (else
      (write-read-stat file callback)))))
