;; A connection whose Scheme object nobody references keeps working
;; while it is open, as in Node: the registry holds it.  The handler
;; opens two connections in a procedure of their own and keeps no
;; reference to either; one is closed at once, which ends the registry's
;; hold.  After garbage collection, from a later loop callback (no frame
;; of the connects is left on the stack), a guardian tells which
;; objects were collected: the closed one shows that an object nobody
;; holds is collected here, so the open one surviving is the registry's
;; doing.  The open one is then found again in (active-handles) and used.
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

;; Connect, give the connection to GUARDIAN, close it if CLOSE?, and
;; stream what comes back into ECHOES; return nothing of it.
(define (connect-and-forget port guardian close? k)
  (tcp-connect "127.0.0.1" port
               (lambda (err conn)
                 (guardian conn)
                 (if close?
                     (handle-close! conn)
                     (tcp-on-data conn
                                  (lambda (err data)
                                    (set! echoes (cons (utf8->string data) echoes))
                                    (when on-echo (on-echo #f)))))
                 (k err))))

(define (sleep-ms ms)
  (await (lambda (k) (set-timeout (lambda () (k #f)) ms))))

(define (to-server? port)
  (lambda (h)
    (and (eq? (handle-type h) 'tcp)
         (equal? (assq-ref (assq-ref (handle-details h) 'peer) 'port) port))))

;; Collect garbage and say which guardians gave their object back.
(define (collected guardians)
  (gc) (gc) (gc)
  (map (lambda (g) (if (g) #t #f)) guardians))

(define (handler event context)
  (let* ((server (echo-server))
         (port (tcp-server-port server))
         (kept (make-guardian))
         (closed (make-guardian)))
    (await connect-and-forget port kept #f)
    (await connect-and-forget port closed #t)
    ;; Resume from a timer: the connects' frames are gone.
    (sleep-ms 20)
    (let ((result (collected (list kept closed))))
      (let ((conn (find (to-server? port) (active-handles))))
        (tcp-write conn "still here" (lambda (err) #t))
        (await (lambda (k) (set! on-echo k)))
        (handle-close! conn)
        (handle-close! server)
        `(("found" . ,(handle? conn))
          ("collected" . ,(first result))
          ("controlCollected" . ,(second result))
          ("echo" . ,(apply string-append (reverse echoes))))))))
