;; Child processes in a direct-style handler: (await process-run ...)
;; returns the result alist, and a failed spawn raises at the await.
(use-modules (ice-9 exceptions)
             (rnrs bytevectors))

(define (result->json result)
  (map (lambda (p)
         (cons (symbol->string (car p))
               (if (symbol? (cdr p)) (symbol->string (cdr p)) (cdr p))))
       result))

(define (run program args options)
  (result->json (await process-run program args options)))

(define (handler event context)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "hi")
      (run "sh" '("-c" "echo hi") '()))
     ((equal? case "env-inherit")
      (run "sh" '("-c" "echo \"$GL_TEST_PARENT\"") '()))
     ((equal? case "env-replace")
      (run "sh" '("-c" "echo \"$FOO:$GL_TEST_PARENT\"")
           '((env . ("FOO=bar")))))
     ((equal? case "cwd")
      (run "pwd" '() '((cwd . "/tmp"))))
     ((equal? case "stdin")
      (run "cat" '() '((stdin . "hello\nworld"))))
     ((equal? case "stdin-bytevector")
      (run "wc" '("-c") `((stdin . ,(make-bytevector 100000 65)))))
     ((equal? case "stdin-unread")
      ;; The child never reads its input: the write fails with EPIPE
      ;; or is cancelled, and neither ends the container.
      (run "true" '() `((stdin . ,(make-string 1000000 #\x)))))
     ((equal? case "not-utf-8")
      (run "printf" '("a\\377b") '()))
     ((equal? case "sequence")
      ;; awaits in a loop, each child's output feeding the next
      (let loop ((i 0) (text "x"))
        (if (= i 3)
            text
            (loop (+ i 1)
                  (assq-ref (await process-run "sed" '("s/x/xx/g")
                                   `((stdin . ,text)))
                            'stdout)))))
     ((equal? case "missing")
      (catch #t
        (lambda () (await process-run "gl-test-no-such-program" '() '()))
        (lambda (key . args)
          `(("caught" . ,(uv-error-code (car args)))
            ("message" . ,(exception-message (car args)))))))
     ((equal? case "handles")
      ;; What the registry says about a running child and its pipes.
      (let* ((p (process-spawn "sleep" '("30") '() (lambda (err result) #t)))
             (listed (map (lambda (h)
                            `(("type" . ,(symbol->string (handle-type h)))
                              ("details"
                               . ,(map (lambda (d)
                                         (cons (symbol->string (car d))
                                               (if (symbol? (cdr d))
                                                   (symbol->string (cdr d))
                                                   (cdr d))))
                                       (handle-details h)))))
                          (active-handles)))
             (origin (handle-origin p)))
        (process-kill p 'SIGKILL)
        `(("handles" . ,(list->vector listed))
          ("pid" . ,(process-pid p))
          ("origin-line" . ,(assq-ref origin 'line))
          ("origin-file" . ,(assq-ref origin 'file)))))
     ((equal? case "close-kills")
      ;; Closing a running child's handle kills it; its callback never runs.
      (let* ((p (process-spawn "sleep" '("30") '()
                               (lambda (err result) (display "on-exit ran\n"))))
             (pid (process-pid p)))
        (handle-close! p)
        ;; The kill comes with the close callback, a turn of the loop or
        ;; two later: give it up to ten seconds on a loaded machine.
        (let wait ((tries 0))
          (let ((alive (catch 'system-error
                         (lambda () (kill pid 0) #t)
                         (lambda args #f))))
            (if (and alive (< tries 500))
                (begin
                  (await (lambda (k) (set-timeout (lambda () (k #f #t)) 20)))
                  (wait (+ tries 1)))
                `(("alive" . ,alive)
                  ("pid-after-close" . ,(or (process-pid p) 'null))))))))
     ((equal? case "bad-option")
      (process-spawn "true" '() '((colour . "blue")) (lambda (err result) #t)))
     ((equal? case "bad-program")
      (process-spawn 'true '() '() (lambda (err result) #t)))
     ((equal? case "await-sleep")
      ;; Never resumed before the timeout: the report names the child,
      ;; created at the await.
      (await process-run "sleep" '("30") '()))
     ((equal? case "bad-signal")
      (let ((p (process-spawn "sleep" '("30") '() (lambda (err result) #t))))
        (dynamic-wind
          (lambda () #t)
          (lambda () (process-kill p 'SIGNOPE))
          (lambda () (process-kill p 'SIGKILL))))))))
