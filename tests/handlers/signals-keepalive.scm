;; A signal watcher keeps the loop alive: with the flag #t (the
;; default) the callback waits for an empty loop, which never comes.
(define (handler event context callback)
  (signal-watch 'SIGUSR2 (lambda (name) (display "never sent\n")))
  (callback #f "called back"))
