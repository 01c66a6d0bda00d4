;;; direct-style.scm: a return-style handler that reads like blocking
;;; code but never blocks the loop.  Each await gives the loop back until
;;; its operation completes: a file, a TCP round trip to a small echo
;;; server of its own, and a child process.
;;;
;;;   guile-lambda invoke examples/direct-style.scm '{"text": "hello"}'

(use-modules (rnrs bytevectors))

(define (echo-server)
  (tcp-listen "127.0.0.1" 0
              (lambda (err conn)
                (tcp-on-data conn
                             (lambda (err data)
                               (if (bytevector? data)
                                   (tcp-write conn data (lambda (err) #t))
                                   (handle-close! conn)))))))

(define (handler event context)
  (let* ((text (or (assoc-ref event "text") "hello"))
         (file (string-append "/tmp/direct-style-"
                              (context-aws-request-id context))))
    ;; A file: write it, read it back.
    (await fs-write-file file text)
    (let ((from-file (await fs-read-file-string file)))
      (await fs-unlink file)
      ;; A TCP round trip.
      (let* ((server (echo-server))
             (conn (await tcp-connect "127.0.0.1" (tcp-server-port server))))
        (await tcp-write conn from-file)
        (let ((echoed (utf8->string (await tcp-read conn))))
          (handle-close! conn)
          (handle-close! server)
          ;; A child process, fed on its standard input.
          (let ((counted (await process-run "wc" '("-c")
                                `((stdin . ,echoed)))))
            `(("fromFile" . ,from-file)
              ("echoed" . ,echoed)
              ("bytes" . ,(string->number
                           (string-trim-both (assq-ref counted 'stdout)))))))))))
