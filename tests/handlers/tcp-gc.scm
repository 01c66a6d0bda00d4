;; A connection whose Scheme object nobody references keeps working
;; while it is open, as in Node: the registry holds it.  The handler
;; opens one, keeps no reference, collects garbage, then finds it again
;; in (active-handles) and uses it.
(use-modules (rnrs bytevectors)
             (srfi srfi-1))

(define echoes '())
(define on-echo #f)

(define (echo-server)
  (tcp-listen "127.0.0.1" 0
              (lambda (err conn)
                (tcp-on-data conn
                             (lambda (err data)
                               (if (bytevector? data)
                                   (tcp-write conn data (lambda (err) #t))
                                   (handle-close! conn)))))))

;; Connect and stream what comes back into ECHOES; return nothing of it.
(define (connect-and-forget port guardian k)
  (tcp-connect "127.0.0.1" port
               (lambda (err conn)
                 (guardian conn)
                 (tcp-on-data conn
                              (lambda (err data)
                                (set! echoes (cons (utf8->string data) echoes))
                                (when on-echo (on-echo #f))))
                 (k err))))

(define (to-server? port)
  (lambda (h)
    (and (eq? (handle-type h) 'tcp)
         (equal? (assq-ref (assq-ref (handle-details h) 'peer) 'port) port))))

(define (handler event context)
  (let* ((server (echo-server))
         (port (tcp-server-port server))
         (guardian (make-guardian)))
    (await connect-and-forget port guardian)
    (gc) (gc) (gc)
    (let ((conn (find (to-server? port) (active-handles))))
      (tcp-write conn "still here" (lambda (err) #t))
      (await (lambda (k) (set! on-echo k)))
      (handle-close! conn)
      (handle-close! server)
      `(("found" . ,(handle? conn))
        ("collected" . ,(if (guardian) #t #f))
        ("echo" . ,(apply string-append (reverse echoes)))))))
