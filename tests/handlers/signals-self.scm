;; Signal watchers that the handler triggers itself with kill.
(use-modules (ice-9 exceptions))

;; Callback style: complete from the watcher.
(define (handler event context callback)
  (let ((watcher #f))
    (set! watcher
          (signal-watch 'SIGUSR1
                        (lambda (name)
                          (handle-close! watcher)
                          (callback
                           #f
                           `(("signal" . ,(symbol->string name))
                             ("origin-line"
                              . ,(assq-ref (handle-origin watcher) 'line))
                             ("still-listed"
                              . ,(and (memq watcher (active-handles)) #t)))))))
    (format #t "watching: ~a~%" (handle-describe watcher))
    (kill (getpid) SIGUSR1)))

;; Return style: a watcher that counts, and an awaited signal-once.
(define (await-handler event context)
  (let* ((count 0)
         (watcher (signal-watch SIGUSR2 (lambda (name) (set! count (+ count 1))))))
    (set-timeout (lambda () (kill (getpid) SIGUSR2)) 10)
    (let ((first (await signal-once 'SIGUSR2)))
      (set-timeout (lambda () (kill (getpid) SIGHUP)) 10)
      (let ((second (await signal-once "SIGHUP"))
            (details (handle-details watcher)))
        (handle-close! watcher)
        `(("first" . ,(symbol->string first))
          ("second" . ,(symbol->string second))
          ("count" . ,count)
          ("details" . ,(symbol->string (assq-ref details 'signal)))
          ("left" . ,(length (active-handles))))))))

;; Bad arguments: the message of each error.
(define (errors-handler event context)
  (map (lambda (sig)
         (guard (e (#t (cons (format #f "~a" sig)
                             (apply format #f (exception-message e)
                                    (exception-irritants e)))))
           (handle-close! (signal-watch sig (lambda (name) #t)))
           (cons (format #f "~a" sig) "accepted")))
       (list 'SIGFOO 'SIGKILL 'SIGURG 'SIGSEGV 'SIGXCPU 0 1000 3.5
             'SIGRTMIN+1)))

(define (tick k)
  (set-timeout (lambda () (k #f)) 10))

;; An ignored signal is ignored again once its last watcher is closed
;; (libuv would leave it at its default action, which for SIGPIPE kills).
(define (ignored-handler event context)
  (sigaction SIGPIPE SIG_IGN)
  (let ((a (signal-watch 'SIGPIPE (lambda (name) #t)))
        (b (signal-watch 'SIGPIPE (lambda (name) #t))))
    (handle-close! a)
    (await tick)
    (let ((with-one (car (sigaction SIGPIPE))))
      (handle-close! b)
      (await tick)
      `(("while-watched" . ,(eqv? with-one SIG_IGN))
        ("after" . ,(eqv? (car (sigaction SIGPIPE)) SIG_IGN))))))
