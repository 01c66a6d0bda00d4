;;; polled-connection.scm: the article's hanging handler, made real.  A
;;; handler keeps a connection to a database open across invocations and
;;; polls it with an interval, as a connection pool's keep-alive does.
;;; The "database" is a small TCP server of the example's own, on
;;; loopback, so the example runs anywhere.
;;;
;;; With the flag #t (Lambda's default) the callback is called, but the
;;; open connection and the interval keep the event loop alive: after a
;;; second the log says what keeps it open, and the invocation times out
;;; with the handles listed, each with the line that created it:
;;;
;;;   guile-lambda invoke examples/polled-connection.scm --timeout 2
;;;
;;; With the flag #f the callback ends the invocation at once; the
;;; connection is frozen with the container, and the next invocation
;;; finds it open and uses it again:
;;;
;;;   printf '{"wait":false}\n{"wait":false}\n' | guile-lambda batch examples/polled-connection.scm

(use-modules (rnrs bytevectors) (ice-9 rdelim))

;;; The database: answers "PONG" to "PING" and the count of queries so
;;; far to anything else, one line at a time.
(define queries 0)

(define (database-start)
  (tcp-listen "127.0.0.1" 0
              (lambda (err conn)
                (tcp-on-data conn
                             (lambda (err data)
                               (if (bytevector? data)
                                   (tcp-write conn (database-answer data)
                                              (lambda (err) #t))
                                   (handle-close! conn)))))))

(define (database-answer data)
  (if (string-prefix? "PING" (utf8->string data))
      "PONG\n"
      (begin
        (set! queries (+ queries 1))
        (format #f "~a\n" queries))))

;;; The client: one connection for the life of the container, polled
;;; every 100 ms so that the database does not drop it.
(define database #f)
(define connection #f)
(define polls 0)

;; One query at a time on the connection: the poll and the handler's
;; query take turns.
(define busy? #f)
(define waiting '())

(define (query text k)
  (if busy?
      (set! waiting (append waiting (list (cons text k))))
      (begin
        (set! busy? #t)
        (tcp-write connection text
                   (lambda (err)
                     (if err
                         (query-done k err #f)
                         (tcp-read connection
                                   (lambda (err data)
                                     (query-done k err
                                                 (and (bytevector? data)
                                                      (string-trim-right
                                                       (utf8->string data))))))))))))

(define (query-done k err answer)
  (set! busy? #f)
  (k err answer)
  (unless (or busy? (null? waiting))
    (let ((next (car waiting)))
      (set! waiting (cdr waiting))
      (query (car next) (cdr next)))))

(define (connection-open k)
  (set! database (database-start))
  (tcp-connect "127.0.0.1" (tcp-server-port database)
               (lambda (err conn)
                 (set! connection conn)
                 (set-interval (lambda ()
                                 (query "PING\n"
                                        (lambda (err answer)
                                          (set! polls (+ polls 1)))))
                               100)
                 (k err))))

(define (answer callback)
  (query "SELECT count(*)\n"
         (lambda (err count)
           (callback err `(("queries" . ,(string->number count))
                           ("polls" . ,polls)
                           ("localPort" . ,(assq-ref (tcp-local-address connection)
                                                     'port)))))))

(define (handler event context callback)
  (let ((wait (assoc "wait" event)))
    (set-context-callback-waits-for-empty-event-loop! context
                                                      (if wait (cdr wait) #t)))
  (if connection
      (answer callback)
      (connection-open (lambda (err)
                         (if err (callback err) (answer callback))))))
