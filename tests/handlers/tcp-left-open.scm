;; The article's hang: the callback is called while a connection is
;; open and reading, and the flag is #t, so the loop never empties.  The
;; timeout log must name the tcp handles with the places that made them.
(define (handler event context callback)
  (let ((server (tcp-listen "127.0.0.1" 0 (lambda (err conn) #t))))
    (tcp-connect "127.0.0.1" (tcp-server-port server)
                 (lambda (err conn)
                   (tcp-on-data conn (lambda (err data) #t))
                   (callback #f "connected")))))
