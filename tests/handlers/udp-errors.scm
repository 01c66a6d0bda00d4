;; UDP's error paths: addresses that cannot be sent to, a port in use,
;; a closed socket.  Each is raised at once, as Node's dgram does; the
;; case returns the error's kind and message.
(use-modules (ice-9 exceptions))

(define (error->list err)
  (list->vector
   (if (uv-error? err)
       (list (uv-error-code err) (exception-message err))
       (list (symbol->string (exception-kind err))
             (apply format #f (exception-message err)
                    (exception-irritants err))))))

(define (raised thunk)
  (guard (err (#t (error->list err)))
    (thunk)
    "no error"))

(define (handler event context)
  (let* ((sock (udp-bind "127.0.0.1" 0 #f))
         (port (udp-port sock))
         (send (lambda (host port)
                 (raised (lambda ()
                           (udp-send sock "x" host port (lambda (err) #t))))))
         (result
          `(("malformed" . ,(send "300.1.2.3" 9))
            ("name" . ,(send "localhost" 9))
            ("portZero" . ,(send "127.0.0.1" 0))
            ("portRange" . ,(send "127.0.0.1" 65536))
            ("inUse" . ,(raised (lambda () (udp-bind "127.0.0.1" port #f))))
            ("bindName" . ,(raised (lambda () (udp-bind "nowhere" 0 #f))))
            ("notProcedure" . ,(raised (lambda () (udp-bind "127.0.0.1" 0 5))))
            ("requests" . ,(length (active-requests))))))
    (handle-close! sock)
    (append result
            `(("closed" . ,(send "127.0.0.1" 9))
              ("handles" . ,(length (active-handles)))))))
