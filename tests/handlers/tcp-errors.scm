;; TCP's error paths.  Each case returns what the error said: its
;; libuv code, the system call and the message, whether it came
;; through a callback or was raised.
(use-modules (ice-9 exceptions)
             (rnrs bytevectors))

(define (error->alist err)
  `(("uvError" . ,(uv-error? err))
    ("code" . ,(if (uv-error? err) (uv-error-code err) 'null))
    ("syscall" . ,(if (uv-error? err) (uv-error-syscall err) 'null))
    ("message" . ,(if (exception-with-message? err)
                      (exception-message err)
                      'null))))

;; The error of THUNK's await, or of what it raises.
(define (caught thunk)
  (guard (err (#t (error->alist err)))
    (thunk)
    '(("noError" . #t))))

;; A port nobody listens on: the system gave it to a server, which is
;; closed again.
(define (free-port)
  (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t)))
         (port (tcp-server-port server)))
    (handle-close! server)
    port))

(define (sleep-ms ms)
  (await (lambda (k) (set-timeout (lambda () (k #f)) ms))))

(define (refused event context)
  (let ((port (free-port)))
    (append (caught (lambda () (await tcp-connect "127.0.0.1" port)))
            `(("port" . ,port)
              ("handles" . ,(length (active-handles)))))))

;; Callback style: the error is the callback's first argument.
(define (refused-callback event context callback)
  (tcp-connect "127.0.0.1" (free-port)
               (lambda (err conn)
                 (callback #f (append (error->alist err)
                                      `(("conn" . ,conn)))))))

(define (unknown-host event context)
  (caught (lambda () (await tcp-connect "no-such-host.invalid" 80))))

(define (address-in-use event context)
  (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t)))
         (port (tcp-server-port server))
         (result (caught (lambda ()
                           (tcp-listen "127.0.0.1" port
                                       (lambda (err conn) #t))))))
    (handle-close! server)
    (append result `(("handles" . ,(length (active-handles)))))))

;; The peer closes at once; our writes then fail with EPIPE or
;; ECONNRESET through their callbacks (the first may still succeed:
;; the system accepts it before the peer's reset arrives).
(define (peer-closed event context)
  (let* ((server (tcp-listen "127.0.0.1" 0
                             (lambda (err conn) (handle-close! conn))))
         (conn (await tcp-connect "127.0.0.1" (tcp-server-port server)))
         (end (await tcp-read conn)))
    (let loop ((i 1))
      (let ((err (guard (err (#t err))
                   (await tcp-write conn (make-bytevector 1024 65))
                   #f)))
        (cond
         ((and (not err) (< i 50))
          (sleep-ms 10)
          (loop (+ i 1)))
         (else
          (handle-close! conn)
          (handle-close! server)
          (append (if err (error->alist err) '(("noError" . #t)))
                  `(("eofFirst" . ,(eof-object? end))
                    ("writes" . ,i)))))))))

;; Written after our own close: EBADF through the write's callback.
(define (closed-locally event context)
  (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t)))
         (conn (await tcp-connect "127.0.0.1" (tcp-server-port server))))
    (handle-close! conn)
    (handle-close! server)
    (let ((write-error (caught (lambda () (await tcp-write conn "late"))))
          (read-error (caught (lambda () (await tcp-read conn))))
          (shutdown-error (caught (lambda () (await tcp-shutdown conn)))))
      `(("write" . ,write-error)
        ("read" . ,read-error)
        ("shutdown" . ,shutdown-error)))))

;; A read waiting when its connection is closed completes with
;; ECANCELED, so an await on it does not hang.
(define (closed-while-reading event context)
  (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t)))
         (conn (await tcp-connect "127.0.0.1" (tcp-server-port server))))
    (set-timeout (lambda () (handle-close! conn) (handle-close! server)) 20)
    (caught (lambda () (await tcp-read conn)))))

;; Arguments that are wrong are raised at once, with what was expected.
(define (bad-arguments event context)
  (define (raised thunk)
    (guard (err (#t (list (symbol->string (exception-kind err))
                          (apply format #f (exception-message err)
                                 (exception-irritants err)))))
      (thunk)
      "no error"))
  (let* ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t)))
         (conn (await tcp-connect "127.0.0.1" (tcp-server-port server))))
    (let ((result
           `(("listenName" . ,(list->vector
                               (raised (lambda ()
                                         (tcp-listen "localhost" 0
                                                     (lambda (e c) #t))))))
             ("port" . ,(list->vector
                         (raised (lambda ()
                                   (tcp-connect "127.0.0.1" 70000
                                                (lambda (e c) #t))))))
             ("notProcedure" . ,(list->vector
                                 (raised (lambda ()
                                           (tcp-connect "127.0.0.1" 80 #t)))))
             ("readServer" . ,(list->vector
                               (raised (lambda ()
                                         (tcp-read server
                                                   (lambda (e d) #t))))))
             ("notTcp" . ,(list->vector
                           (raised (lambda ()
                                     (tcp-read (set-timeout (lambda () #t) 1)
                                               (lambda (e d) #t))))))
             ("writeData" . ,(list->vector
                              (raised (lambda ()
                                        (tcp-write conn 42
                                                   (lambda (e) #t)))))))))
      (handle-close! conn)
      (handle-close! server)
      result)))

(define (handler event context)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "refused") (refused event context))
     ((equal? case "unknown-host") (unknown-host event context))
     ((equal? case "address-in-use") (address-in-use event context))
     ((equal? case "peer-closed") (peer-closed event context))
     ((equal? case "closed-locally") (closed-locally event context))
     ((equal? case "closed-while-reading") (closed-while-reading event context))
     ((equal? case "bad-arguments") (bad-arguments event context))
     (else (error "unknown case" case)))))

(define (callback-handler event context callback)
  (refused-callback event context callback))
