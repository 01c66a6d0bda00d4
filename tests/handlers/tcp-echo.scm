;; A TCP round trip on loopback: the handler starts an echo server on
;; 127.0.0.1, port 0, connects to it, writes, reads the echo, closes
;; both ends and returns the text.  Callback style (the procedure
;; callback-handler) uses Node-style callbacks; return style (handler)
;; the same steps with await.  Both also report
;; what the registry says about the handles and requests they made.
(use-modules (rnrs bytevectors))

;; The server echoes every chunk, and closes its end at the end of the
;; client's stream.
(define (echo-server)
  (tcp-listen "127.0.0.1" 0
              (lambda (err conn)
                (tcp-on-data conn
                             (lambda (err data)
                               (if (bytevector? data)
                                   (tcp-write conn data (lambda (err) #t))
                                   (handle-close! conn)))))))

(define (address->string a)
  (format #f "~a:~a/~a" (assq-ref a 'address) (assq-ref a 'port)
          (assq-ref a 'family)))

(define (types-of handles)
  (list->vector (map (lambda (h) (symbol->string (handle-type h))) handles)))

(define (with-callbacks event context callback)
  (let* ((server (echo-server))
         (port (tcp-server-port server)))
    (tcp-connect "127.0.0.1" port
      (lambda (err conn)
        (if err
            (callback err)
            (tcp-write conn "hello, tcp"
              (lambda (err)
                (tcp-read conn
                  (lambda (err data)
                    (let ((peer (tcp-peer-address conn)))
                      (handle-close! conn)
                      (handle-close! server)
                      (callback err
                                `(("echo" . ,(utf8->string data))
                                  ("peerPort" . ,(assq-ref peer 'port))
                                  ("serverPort" . ,port)))))))))))))

(define (with-await event context)
  (let* ((server (echo-server))
         (port (tcp-server-port server))
         (conn (await tcp-connect "127.0.0.1" port)) ; origin: line 49, column 16
         (listed (types-of (active-handles))))
    (await tcp-write conn (string->utf8 "hello, await"))
    (let* ((echo (await tcp-read conn))
           (origin (handle-origin conn))
           (result
            `(("echo" . ,(utf8->string echo))
              ("local" . ,(address->string (tcp-local-address conn)))
              ("peer" . ,(address->string (tcp-peer-address conn)))
              ("serverPort" . ,port)
              ("handlesAfterConnect" . ,listed)
              ("serverDescribed" . ,(handle-describe server))
              ("connDescribed" . ,(handle-describe conn))
              ("details" . ,(list->vector
                              (map (lambda (p) (symbol->string (car p)))
                                   (handle-details conn))))
              ("originLine" . ,(assq-ref origin 'line))
              ("originColumn" . ,(assq-ref origin 'column))
              ("originFile" . ,(assq-ref origin 'file)))))
      ;; The end of the stream: shut down our side, the server closes.
      (await tcp-shutdown conn)
      (let* ((end (await tcp-read conn))
             (again (await tcp-read conn)))
        (handle-close! conn)
        (handle-close! server)
        (append result
                `(("eofAfterShutdown" . ,(eof-object? end))
                  ("eofAgain" . ,(eof-object? again))
                  ("handlesAtEnd" . ,(types-of (active-handles)))))))))

;; Which requests are listed while in flight, and the tcp handle while
;; it reads; none once they are done.
(define (requests event context)
  (let* ((server (echo-server))
         (port (tcp-server-port server))
         (seen '()))
    (define (note! what) (set! seen (cons what seen)))
    (let ((conn (tcp-connect "127.0.0.1" port (lambda (err conn) #t))))
      (note! (types-of (active-requests)))
      (await (lambda (k) (set-timeout (lambda () (k #f)) 20)))
      (tcp-write conn "x" (lambda (err) #t))
      (note! (types-of (active-requests)))
      (await (lambda (k) (set-timeout (lambda () (k #f)) 20)))
      (tcp-read conn (lambda (err data) #t))
      (note! (types-of (active-requests)))
      (await (lambda (k) (set-timeout (lambda () (k #f)) 20)))
      (tcp-shutdown conn (lambda (err) #t))
      (note! (types-of (active-requests)))
      (await (lambda (k) (set-timeout (lambda () (k #f)) 20)))
      (note! (types-of (active-requests)))
      (handle-close! conn)
      (handle-close! server)
      (list->vector (reverse seen)))))

;; tcp-on-data: every chunk, then the end of the stream.
(define (streaming event context)
  (let* ((server (tcp-listen "127.0.0.1" 0
                             (lambda (err conn)
                               (tcp-write conn "one,"
                                 (lambda (err)
                                   (tcp-write conn "two"
                                     (lambda (err)
                                       (tcp-shutdown conn
                                         (lambda (err)
                                           (handle-close! conn))))))))))
         (conn (await tcp-connect "127.0.0.1" (tcp-server-port server)))
         (text (await (lambda (k)
                        (let ((chunks '()))
                          (tcp-on-data conn
                            (lambda (err data)
                              (cond
                               (err (k err))
                               ((eof-object? data)
                                (k #f (apply string-append
                                             (reverse chunks))))
                               (else
                                (set! chunks (cons (utf8->string data)
                                                   chunks)))))))))))
    (handle-close! conn)
    (handle-close! server)
    text))

;; A name is looked up first.
(define (by-name event context)
  (let* ((server (echo-server))
         (conn (await tcp-connect "localhost" (tcp-server-port server))))
    (await tcp-write conn "by name")
    (let ((echo (await tcp-read conn)))
      (handle-close! conn)
      (handle-close! server)
      (utf8->string echo))))

(define (callback-handler event context callback)
  (with-callbacks event context callback))

(define (handler event context)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "await") (with-await event context))
     ((equal? case "requests") (requests event context))
     ((equal? case "streaming") (streaming event context))
     ((equal? case "by-name") (by-name event context))
     (else (error "unknown case" case)))))
