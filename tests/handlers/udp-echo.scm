;; UDP on loopback: two sockets bound to port 0, a datagram from one to
;; the other; the handler completes with what was received and from
;; where.  Callback style (callback-handler) and return style (handler,
;; with await).
(use-modules (rnrs bytevectors))

(define (callback-handler event context callback)
  (let* ((receiver #f)
         (sender (udp-bind "127.0.0.1" 0 #f)))
    (set! receiver
          (udp-bind "127.0.0.1" 0
                    (lambda (err data from)
                      (let ((sender-port (udp-port sender)))
                        (handle-close! receiver)
                        (handle-close! sender)
                        (callback err
                                  `(("text" . ,(utf8->string data))
                                    ("fromPort" . ,(assq-ref from 'port))
                                    ("fromAddress" . ,(assq-ref from 'address))
                                    ("senderPort" . ,sender-port)))))))
    (udp-send sender "hello, udp" "127.0.0.1" (udp-port receiver)
              (lambda (err) (when err (callback err))))))

(define (types-of handles)
  (list->vector (map (lambda (h) (symbol->string (handle-type h))) handles)))

(define (handler event context)
  (let* ((on-message #f)
         (receiver (udp-bind "127.0.0.1" 0           ; origin: line 29, column 20
                             (lambda (err data from)
                               (on-message err (utf8->string data)))))
         (sender (udp-bind "127.0.0.1" 0 #f))
         (handles (types-of (active-handles))))
    (udp-send sender (string->utf8 "hello, await") "127.0.0.1"
              (udp-port receiver) (lambda (err) #t))
    (let* ((requests (types-of (active-requests)))
           (details (handle-details receiver))
           (described (handle-describe receiver))
           (text (await (lambda (k) (set! on-message k))))
           (origin (handle-origin receiver))
           (port (udp-port receiver)))
      (handle-close! receiver)
      (handle-close! sender)
      `(("text" . ,text)
        ("handlesListed" . ,handles)
        ("requestsInFlight" . ,requests)
        ("requestsAfter" . ,(types-of (active-requests)))
        ("receiving" . ,(assq-ref details 'receiving))
        ("localPort" . ,(assq-ref (assq-ref details 'local) 'port))
        ("port" . ,port)
        ("described" . ,described)
        ("originFile" . ,(assq-ref origin 'file))
        ("originLine" . ,(assq-ref origin 'line))
        ("originColumn" . ,(assq-ref origin 'column))))))
