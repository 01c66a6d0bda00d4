;; Child processes with Node-style callbacks: the completion procedure
;; gets (err result); the event's "case" says what to run.
(use-modules (ice-9 exceptions))

(define (result->json result)
  "RESULT, an alist with symbol keys, as a JSON object."
  (map (lambda (p)
         (cons (symbol->string (car p))
               (if (symbol? (cdr p)) (symbol->string (cdr p)) (cdr p))))
       result))

(define (error->json err)
  `(("code" . ,(uv-error-code err))
    ("message" . ,(exception-message err))))

(define (report callback)
  "A completion procedure that reports err and result as the result."
  (lambda (err result)
    (callback #f `(("err" . ,(if err (error->json err) 'null))
                   ("result" . ,(if result (result->json result) 'null))))))

(define (handler event context callback)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "args")
      (process-spawn "echo" '("one" "two three") '() (report callback)))
     ((equal? case "exit-3")
      (process-spawn "sh" '("-c" "echo out; echo oops >&2; exit 3") '()
                     (report callback)))
     ((equal? case "missing")
      (let ((p (process-spawn "gl-test-no-such-program" '("x") '()
                              (report callback))))
        ;; The spawn failed, yet nothing was raised: the handle exists
        ;; and says so until the error is reported from the loop.
        (display (handle-describe p))
        (newline)))
     ((equal? case "bad-cwd")
      (process-spawn "pwd" '() '((cwd . "/gl-test-no-such-directory"))
                     (report callback)))
     ((equal? case "kill")
      (let ((p #f))
        (set! p (process-spawn
                 "sleep" '("30") '()
                 (lambda (err result)
                   ;; Once the child has exited, a signal is an error.
                   (let ((after (catch #t
                                  (lambda () (process-kill p 'SIGTERM) "sent")
                                  (lambda (key . args)
                                    (uv-error-code (car args))))))
                     (callback #f `(("err" . ,(if err "error" 'null))
                                    ("result" . ,(result->json result))
                                    ("kill-after-exit" . ,after)
                                    ("pid-after-exit"
                                     . ,(or (process-pid p) 'null))))))))
        (display (format #f "pid ~a\n" (process-pid p)))
        (set-timeout (lambda () (process-kill p 'SIGKILL)) 50)))
     ((equal? case "kill-number")
      (let ((p (process-spawn "sleep" '("30") '() (report callback))))
        (process-kill p 15)))
     ((equal? case "leave-running")
      ;; Success at once, the child still running when the container's
      ;; process ends: it must not outlive it.
      (set-context-callback-waits-for-empty-event-loop! context #f)
      (let ((p (process-spawn "sleep" '("30") '() (lambda (err result) #t))))
        (call-with-output-file (assoc-ref event "pidfile")
          (lambda (port) (display (process-pid p) port)))
        (callback #f "left running")))
     ((equal? case "ignore-inherit")
      (process-spawn "sh" '("-c" "echo to-the-log-out; echo to-the-log-err >&2")
                     '((stdout . inherit) (stderr . ignore))
                     (report callback))))))
