;;; (guile-lambda repl): `guile-lambda repl`.  Guile's own REPL, in the
;;; handler's module, with meta-commands that step the engine through an
;;; invocation: call the handler, run the loop one turn at a time, see
;;; which callbacks ran and whether (and why) the invocation completed.
;;; The loop runs only inside these commands; while the person types,
;;; the container is frozen, as on Lambda.  (guile-lambda repl-server)
;;; runs every REPL, that of --listen clients too, on the engine's
;;; thread.
(define-module (guile-lambda repl)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda events)
  #:use-module (guile-lambda repl-server)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 rdelim)
  #:use-module (srfi srfi-1)
  #:use-module (system repl command)
  #:use-module (system repl common)
  #:use-module (system repl repl)
  #:export (run-repl))

;;; The engine, with the handler's output going to the log.

;; PROC is an engine operation: it may run the loop and user code, so
;; the REPL server must not interleave another with it.
(define (engine-call proc . args)
  (call-with-engine-busy
   (lambda ()
     (with-output-to-port (log-port 'info)
       (lambda ()
         (with-error-to-port (log-port 'error)
           (lambda () (apply proc args))))))))

(define (say fmt . args)
  (apply format #t fmt args)
  (force-output))

;; A REPL's home is the container's module, or a stand-in while there is
;; none.  A REPL at home follows the container into the module of each
;; new init phase, whichever REPL caused it; one that the person moved
;; elsewhere (,m) stays there.
(define homes (make-weak-key-hash-table))

(define home-stand-in
  (let ((module #f))
    (lambda ()
      (unless module
        (set! module (make-fresh-user-module))
        (module-use! module (resolve-interface '(guile-lambda))))
      module)))

(define (home)
  (let ((module (or (%engine-module) (home-stand-in))))
    (hashq-set! homes module #t)
    module))

(define (home-set!)
  (set-current-module (home)))

;; The container may have had a new init phase, from another REPL or at
;; a cold start, since this REPL last read.
(define (home-follow!)
  (let ((module (%engine-module)))
    (when (and module
               (not (eq? module (current-module)))
               (hashq-ref homes (current-module)))
      (home-set!)
      (say "The handler was loaded afresh: this is its new module.~%"))))

(add-hook! repl-read-hook home-follow!)

(define (container-load!)
  (let ((r (engine-call %engine-load!)))
    (if (eq? r #t)
        (begin
          (home-set!)
          (say "Init phase done: the handler is loaded, and this is its module.~%"))
        (say "Init phase failed: ~a~%" r))))

(define (running?)
  (eq? (%engine-state) 'running))

(define (require-idle what)
  (when (running?)
    (error (format #f "~a: an invocation is running; use ,step or ,continue to finish it" what))))

(define (require-running what)
  (unless (running?)
    (error (format #f "~a: no invocation is running; start one with ,start EVENT" what))))

;;; Events: JSON text, a Scheme string holding JSON, or an expression
;;; evaluated in the current module that yields guile-json data.

(define (event-parse text)
  (let ((text (string-trim-both text)))
    (cond
     ((string-null? text) '())
     ((memv (string-ref text 0) '(#\{ #\[))
      (json-string->scm text))
     (else
      (let ((value (eval (with-input-from-string text read) (current-module))))
        (if (string? value) (json-string->scm value) value))))))

(define (rest-of-line)
  (let ((line (read-line)))
    (if (eof-object? line) "" line)))

;;; History of finished invocations.

(define history '())                    ; newest first

(define (history-add! report)
  (set! history (cons report history)))

(define (report-ref report key)
  (assq-ref report key))

(define (finish!)
  (let ((report (engine-call %engine-finish!)))
    (history-add! report)
    (say "Invocation ~a ~a (completed by ~a) in ~,2f ms~@[, init ~,2f ms~]:~%~a~%"
         (length history)
         (report-ref report 'status)
         (report-ref report 'completed-by)
         (report-ref report 'duration-ms)
         (report-ref report 'init-ms)
         (report-ref report 'json))
    ;; A timeout, an uncaught exception in a callback or an exit reset
    ;; the container.  Its next init phase runs now, as after ,reset, so
    ;; that the person's next expression is in the new module, not in
    ;; the discarded one.  (A failed init phase is not run again here.)
    (when (and (eq? (%engine-state) 'cold)
               (not (equal? (report-ref report 'completed-by) "init")))
      (say "Container reset: every handle closed.~%")
      (container-load!))))

(define (alive-summary)
  (let ((handles (length (filter handle-ref? (active-handles))))
        (requests (length (active-requests))))
    (format #f "~a handle~:p and ~a request~:p keep the loop alive"
            handles requests)))

(define (clock-catch-up!)
  ;; Moves the deadline past the time spent at the prompt.
  (%engine-clock-resume!)
  (%engine-clock-pause!))

(define (completed?)
  (clock-catch-up!)
  (engine-call %engine-completed?))

(define (completion-check)
  (if (completed?)
      (finish!)
      (let ((status (%engine-status)))
        (say "Not complete: ~a~a.~%"
             (cond
              ((assq-ref status 'awaiting)
               => (lambda (what) (format #f "the handler is suspended in ~a; " what)))
              ((assq-ref status 'callback-called)
               "the callback was called, but the flag is #t, so it waits for the empty loop; ")
              (else "nothing completed it yet; "))
             (alive-summary)))))

(define (start! event)
  (require-idle "start")
  (let ((id (engine-call %engine-start! event)))
    (%engine-clock-pause!)
    (say "Handler called for request ~a.~%" id)))

;; One turn of the loop, on the invocation's clock, which otherwise
;; stands still while the person types.
(define (loop-turn!)
  (dynamic-wind
    %engine-clock-resume!
    (lambda () (engine-call %engine-step!))
    %engine-clock-pause!))

(define (step! n)
  (let loop ((i 1))
    (when (and (<= i n) (running?))
      (let ((ran (loop-turn!)))
        (if (null? ran)
            (say "Step ~a: no callback ran.~%" i)
            (for-each (lambda (what) (say "Step ~a: ran ~a~%" i what)) ran))
        (completion-check)
        (loop (+ i 1))))))

(define (continue!)
  (require-running "continue")
  (let loop ()
    (when (running?)
      (let ((ran (loop-turn!)))
        (for-each (lambda (what) (say "Ran ~a~%" what)) ran)
        (if (completed?)
            (finish!)
            (loop))))))

(define (invoke! event)
  (start! event)
  (if (completed?)
      (finish!)
      (continue!)))

;;; Tables.

(define (origin->string origin)
  (format #f "~a:~a:~a (request ~a)"
          (or (assq-ref origin 'file) "?") (assq-ref origin 'line)
          (assq-ref origin 'column) (assq-ref origin 'request-id)))

(define (details->string details)
  (string-join (map (match-lambda
                      ((key . value) (format #f "~a=~a" key value)))
                    details)
               " "))

(define (table-print handles empty)
  (if (null? handles)
      (say "~a~%" empty)
      (begin
        (say "~4a ~12a ~7a ~4a ~40a ~a~%" "id" "type" "active" "ref"
             "origin" "details")
        (for-each
         (lambda (h)
           (say "~4a ~12a ~7a ~4a ~40a ~a~%" (handle-id h) (handle-type h)
                (if (handle-active? h) "yes" "no")
                (if (handle-ref? h) "yes" "no")
                (origin->string (handle-origin h))
                (details->string (handle-details h))))
         handles))))

(define (context-print context)
  (for-each
   (match-lambda
     ((label . accessor) (say "~30a ~s~%" label (accessor context))))
   `(("function-name" . ,context-function-name)
     ("function-version" . ,context-function-version)
     ("invoked-function-arn" . ,context-invoked-function-arn)
     ("memory-limit-in-mb" . ,context-memory-limit-in-mb)
     ("aws-request-id" . ,context-aws-request-id)
     ("log-group-name" . ,context-log-group-name)
     ("log-stream-name" . ,context-log-stream-name)
     ("identity" . ,context-identity)
     ("client-context" . ,context-client-context)
     ("tenant-id" . ,context-tenant-id)
     ("remaining-time-in-millis" . ,context-remaining-time-in-millis)
     ("callback-waits-for-empty-event-loop?"
      . ,context-callback-waits-for-empty-event-loop?))))

;;; Meta-commands.  define-meta-command would read the rest of the line
;;; as Scheme data, and raw JSON is not that: these take the line as
;;; text, through the procedure define-meta-command itself uses.

(define add-meta-command! (@@ (system repl command) add-meta-command!))

;; Guile makes ,continue an alias of ,quit; here it continues an
;; invocation (,q and ,quit still quit).
(let ((module (resolve-module '(system repl command))))
  (module-set! module '*command-table*
               (map (match-lambda
                      ((category . commands)
                       (cons category
                             (map (match-lambda
                                    (('quit . names) (cons 'quit (delq 'continue names)))
                                    (command command))
                                  commands))))
                    (module-ref module '*command-table*))))

(define-syntax-rule (define-lambda-command (name line) docstring body ...)
  (add-meta-command! 'name 'lambda
                     (lambda (repl line) docstring body ...)
                     (lambda (repl) (list (rest-of-line)))))

(define-lambda-command (invoke line)
  "invoke EVENT
Run one invocation to completion: the result, its log lines, REPORT.
EVENT is JSON, a string of JSON, or a Scheme expression giving guile-json
data; nothing means {}."
  (invoke! (event-parse line)))

(define-lambda-command (start line)
  "start EVENT
Call the handler with EVENT and stop before the loop runs."
  (start! (event-parse line))
  (completion-check))

(define-lambda-command (step line)
  "step [N]
Run N turns of the loop (default 1) and say what ran.
Each callback that ran is named with its origin, then whether the
invocation completed and why."
  (let* ((text (string-trim-both line))
         (n (if (string-null? text) 1 (string->number text))))
    (require-running "step")
    (unless (and (integer? n) (positive? n))
      (error (format #f "step: N is a positive integer, not ~s" text)))
    (step! n)))

(define-lambda-command (continue line)
  "continue
Run the loop until the invocation completes or times out.
Completion follows Lambda's rules (README, \"When is an invocation
finished?\")."
  (continue!))

(define-lambda-command (status line)
  "status
The container's state, the request, the flag and the time left.
The state is cold, warm, running or frozen; for a running invocation,
also whether the callback was called and what the handler awaits."
  (clock-catch-up!)
  (let* ((status (%engine-status))
         (state (assq-ref status 'state))
         (context (assq-ref status 'context)))
    (say "Container: ~a~%"
         (case state
           ((warm) (if (null? (active-handles)) "warm" "warm, frozen with pending handles"))
           (else state)))
    (say "Timeout: ~,2f s~%" (%engine-timeout))
    (if context
        (begin
          (say "Request: ~a~%" (assq-ref status 'request-id))
          (say "Outcome: ~a~@[ (by ~a)~]~%" (assq-ref status 'outcome)
               (assq-ref status 'completed-by))
          (say "Callback called: ~a~%" (if (assq-ref status 'callback-called) "yes" "no"))
          (say "callback-waits-for-empty-event-loop: ~a~%"
               (context-callback-waits-for-empty-event-loop? context))
          (say "Remaining time: ~a ms~%" (context-remaining-time-in-millis context))
          (when (assq-ref status 'awaiting)
            (say "Suspended in: ~a~%" (assq-ref status 'awaiting))))
        (say "No invocation is running.~%"))
    (say "Loop: ~a.~%" (alive-summary))))

(define-lambda-command (handles line)
  "handles
The live handles of the registry, with their origins."
  (table-print (active-handles) "No live handle."))

(define-lambda-command (requests line)
  "requests
The requests in flight, with their origins."
  (table-print (active-requests) "No request in flight."))

(define-lambda-command (context line)
  "context
The fields of the current invocation's context, or of the last one."
  (let ((context (or (assq-ref (%engine-status) 'context)
                     (and (pair? history) (report-ref (car history) 'context)))))
    (if context
        (context-print context)
        (say "No invocation yet.~%"))))

(define-lambda-command (history line)
  "history
Past invocations: status, duration and result."
  (if (null? history)
      (say "No invocation yet.~%")
      (for-each
       (lambda (n report)
         (let ((json (report-ref report 'json)))
           (say "~3a ~a ~8a ~10,2f ms  ~a~%" n (report-ref report 'request-id)
                (report-ref report 'status) (report-ref report 'duration-ms)
                (if (> (string-length json) 60)
                    (string-append (substring json 0 57) "...")
                    json))))
       (iota (length history) 1)
       (reverse history))))

(define-lambda-command (result line)
  "result N
The whole result (or error) of invocation N of ,history."
  (let* ((text (string-trim-both line))
         (n (string->number text)))
    (unless (and (integer? n) (<= 1 n (length history)))
      (error (format #f "result: N is from 1 to ~a, not ~s" (length history) text)))
    (say "~a~%" (report-ref (list-ref (reverse history) (- n 1)) 'json))))

(define-lambda-command (reset line)
  "reset
Cold start: close every user handle and load the handler afresh."
  (require-idle "reset")
  (engine-call %engine-reset!)
  (say "Container reset: every handle closed.~%")
  (container-load!))

(define-lambda-command (timeout line)
  "timeout SECONDS
Set the time limit of the next invocations."
  (let* ((text (string-trim-both line))
         (s (string->number text)))
    (unless (real? s)
      (error (format #f "timeout: SECONDS is a number, not ~s" text)))
    (%engine-timeout-set! s)
    (say "Timeout: ~,2f s~%" (%engine-timeout))))

(define-lambda-command (event-file line)
  "event-file FILE
Run one invocation with the JSON event in FILE."
  (let ((file (string-trim-both line)))
    (invoke! (json-string->scm (call-with-input-file file read-string)))))

(define-lambda-command (generate-event line)
  "generate-event KIND
Print a sample event of KIND as JSON, to copy into ,invoke.
KIND is apigw-v2, sqs, s3-put, eventbridge-scheduled, apigw-v1, sns or
dynamodb."
  (let ((kind (string-trim-both line)))
    (say "~a~%" (scm->json-string (event-template kind)))))

;;; The REPL.

(define (prompt)
  (let ((pending (length (active-handles)))
        (level (length (cond ((fluid-ref *repl-stack*) => cdr)
                             (else '())))))
    (format #f "guile-lambda [~a~@[, ~a pending~]]~@[ [~a]~]> "
            (case (%engine-state)
              ((warm) (if (zero? pending) "warm" "frozen"))
              (else (%engine-state)))
            (and (positive? pending) pending)
            (and (positive? level) level))))

(define (readline-activate)
  (when (isatty? (current-input-port))
    (false-if-exception
     (let ((activate (module-ref (resolve-interface '(ice-9 readline))
                                 'activate-readline)))
       (activate)))))

(define (run-repl listen-port)
  "Start the REPL; with LISTEN-PORT, also serve it on 127.0.0.1 for
Geiser (0: on a port the kernel chooses).  The port goes to standard
error."
  (when (getenv "_HANDLER")
    (container-load!))
  (when listen-port
    (format (current-error-port) "REPL server listening on 127.0.0.1:~a~%"
            (repl-listen listen-port home))
    (force-output (current-error-port)))
  (say "guile-lambda REPL: ,help lambda lists the commands that step invocations.~%")
  (repl-default-option-set! 'prompt prompt)
  ;; Compiled, each expression would load a code object that the
  ;; collector keeps as a root set of its own, and after some 1900 of
  ;; them Guile aborts ("Too many root sets"); interpreted, a session
  ;; has no such end.
  (repl-default-option-set! 'interp #t)
  (readline-activate)
  (repl-serve (home)))

(%hook-set! 'run-repl run-repl)
