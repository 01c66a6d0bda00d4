;;; (guile-lambda repl-server): the REPLs of `guile-lambda repl`, the
;;; one on standard input and those of `--listen` clients, all run on
;;; the engine's own thread.
;;;
;;; Which thread owns what:
;;;
;;; - The engine thread is the thread that configured the engine (the
;;;   program's main thread; the watchdog interrupts it).  It owns the
;;;   engine, its libuv loop, the registry of handles and the handler's
;;;   module, and every REPL runs on it: evaluation, meta-commands,
;;;   printing, the prompt (which asks the engine for its state), nested
;;;   REPLs such as the debugger's.  Between those it takes operations
;;;   from one queue, one at a time, each to its end.
;;; - A reader thread, one per read, only reads: the text of one
;;;   expression or one meta-command line from its REPL's input port,
;;;   after the prompt the engine thread made.  It never evaluates; it
;;;   queues the operation that hands what it read back to its REPL.
;;; - The accept thread (with --listen) accepts connections and queues
;;;   the operation that starts a REPL on each.
;;;
;;; A REPL waiting at its top level is a suspended delimited
;;; continuation, resumed by the operation its reader queues: any number
;;; of REPLs wait at once while the engine thread is free.  Where no
;;; continuation can be taken (a nested REPL; a meta-command reading its
;;; arguments) the engine thread serves the queue while it waits, so a
;;; wait ends only after those that began above it.  Inside an engine
;;; operation (call-with-engine-busy) it does not: there a read blocks,
;;; as in plain Guile, for the loop must not be entered again.
;;;
;;; Why this is free of races: the engine's state is touched from one
;;; thread only.  Two clients that step at the same moment queue two
;;; operations; the second starts after the first has returned, and sees
;;; a finished turn of the loop with the clock paused again, never half
;;; of one.  A client that evaluates (set-timeout ...) while the
;;; terminal's REPL steps is the same: its expression waits in the queue
;;; until the step is over, then makes its timer on the loop's own
;;; thread, counted from the paused clock; the next step runs it.  What
;;; threads share is the queue, under its mutex, and ports, each used by
;;; one thread at a time: a reader reads only while its REPL is
;;; suspended waiting for it, and hands over through the queue.
(define-module (guile-lambda repl-server)
  #:use-module (ice-9 control)
  #:use-module (ice-9 match)
  #:use-module (ice-9 q)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 threads)
  #:use-module (system repl common)
  #:use-module (system repl repl)
  #:use-module (system repl server)
  #:export (repl-read-hook
            call-with-engine-busy
            repl-listen
            repl-serve))

;; What (system repl coop-server), Guile's own REPL server that
;; evaluates on one thread, takes from the REPL's internals too.
(define start-repl* (@@ (system repl repl) start-repl*))
(define prompting-meta-read (@@ (system repl repl) prompting-meta-read))
(define meta-command-token (@@ (system repl repl) meta-command-token))
(define guard-against-http-request
  (@@ (system repl server) guard-against-http-request))

(define engine-thread #f)

;;; The queue of operations for the engine thread.

(define queue (make-q))
(define queue-mutex (make-mutex))
(define queue-changed (make-condition-variable))

(define (engine-enqueue! thunk)
  (with-mutex queue-mutex
    (enq! queue thunk)
    (signal-condition-variable queue-changed)))

(define (engine-dequeue!)
  (with-mutex queue-mutex
    (let wait ()
      (if (q-empty? queue)
          (begin
            (wait-condition-variable queue-changed queue-mutex)
            (wait))
          (deq! queue)))))

(define (engine-serve-until done?)
  (let loop ()
    (unless (done?)
      ((engine-dequeue!))
      (loop))))

;; Inside an engine operation the queue is not served: the engine is
;; in the middle of a turn of its loop, or of user code called from one.
(define engine-busy? (make-parameter #f))

(define (call-with-engine-busy thunk)
  (parameterize ((engine-busy? #t))
    (thunk)))

;; Run on the engine thread when a REPL has read an expression, before
;; the REPL acts on it: the world may have changed while it waited.
(define repl-read-hook (make-hook))

;;; Reading off the engine thread.

;; What a thunk did: (values . VALUES) or (throw . ARGS).
(define (outcome-of thunk)
  (catch #t
    (lambda () (call-with-values thunk (lambda vals (cons 'values vals))))
    (lambda args (cons 'throw args))))

(define (outcome-replay outcome)
  (match outcome
    (('values . vals) (apply values vals))
    (('throw . args) (apply throw args))))

;; Run THUNK on a thread of its own, in the dynamic state STATE (its
;; REPL's ports, module and language); DELIVER gets its outcome on the
;; engine thread.
(define (read-elsewhere state thunk deliver)
  (call-with-new-thread
   (lambda ()
     (let ((outcome (with-dynamic-state state (lambda () (outcome-of thunk)))))
       (engine-enqueue! (lambda () (deliver outcome)))))))

;; The meta-command is read on the engine thread; make sure its whole
;; line is there to read, so that it does not wait for the rest.
(define (read-meta-command-line exp)
  (when (eq? exp meta-command-token)
    (let ((line (read-line)))
      (unless (eof-object? line)
        (unread-string (string-append line "\n") (current-input-port)))))
  exp)

;; A REPL waiting at its top level is suspended to this tag.
(define repl-tag (make-prompt-tag "repl"))
(define top-level-read? (make-fluid #f))

(define (repl-suspended k thunk state)
  (read-elsewhere state thunk (lambda (outcome) (repl-resume k outcome))))

(define (repl-resume k outcome)
  (call-with-prompt repl-tag (lambda () (k outcome)) repl-suspended))

(define (repl-launch thunk)
  (call-with-prompt repl-tag thunk repl-suspended))

(define (read-off-engine thunk)
  (outcome-replay
   (if (fluid-ref top-level-read?)
       (abort-to-prompt repl-tag thunk (current-dynamic-state))
       (let ((outcome #f))
         (read-elsewhere (current-dynamic-state) thunk
                         (lambda (o) (set! outcome o)))
         (engine-serve-until (lambda () outcome))
         outcome))))

;; Every REPL reads through repl-reader (boot-9's, or readline's).
(define (engine-repl-reader inner)
  (lambda* (prompt #:optional (reader (fluid-ref current-reader)))
    (if (not (eq? (current-thread) engine-thread))
        (inner prompt reader)
        (let* ((prompt (if (string? prompt) prompt (prompt)))
               (read (lambda ()
                       (read-meta-command-line (inner prompt reader))))
               (exp (if (engine-busy?)
                        (read)
                        (read-off-engine read))))
          (run-hook repl-read-hook)
          exp))))

(define (top-level-read repl)
  (with-fluids ((top-level-read? #t))
    (prompting-meta-read repl)))

(define (repl-run module)
  (with-fluids ((*repl-stack* '()))
    (save-module-excursion
     (lambda ()
       (set-current-module module)
       (start-repl* (current-language) #f top-level-read)))))

;;; Clients.

(define (repl-client-launch client home)
  (guard-against-http-request client)
  (repl-launch
   (lambda ()
     ;; A client that goes away mid-answer ends its own REPL only.
     (false-if-exception
      (parameterize ((current-input-port client)
                     (current-output-port client)
                     (current-error-port client)
                     (current-warning-port client))
        (repl-run (home))))
     (false-if-exception (close-port client)))))

(define (accept-loop socket home)
  (let loop ()
    (match (catch 'system-error
             (lambda () (accept socket))
             (lambda args
               ;; Out of descriptors, say: try again later.
               (sleep 1)
               #f))
      ((client . _)
       (engine-enqueue! (lambda () (repl-client-launch client home))))
      (#f #f))
    (loop)))

(define (repl-listen port home)
  "Serve REPLs to clients on 127.0.0.1:PORT (0: a port the kernel
chooses), each starting in the module that (HOME) returns then; return
the port.  The clients' REPLs run once repl-serve runs."
  (let ((socket (make-tcp-server-socket #:host "127.0.0.1" #:port port)))
    (listen socket 5)
    (call-with-new-thread (lambda () (accept-loop socket home)))
    (sockaddr:port (getsockname socket))))

;;; The engine thread.

(define (repl-serve module)
  "Run the REPL of the current ports in MODULE, and serve the engine
thread's queue until it ends; return its exit status.  Must be called
on the engine thread, after readline (if any) is active."
  (set! engine-thread (current-thread))
  (set! repl-reader (engine-repl-reader repl-reader))
  (call-with-escape-continuation
   (lambda (return)
     (engine-enqueue!
      (lambda ()
        (repl-launch
         (lambda ()
           (repl-run module)
           (return 0)))))
     (engine-serve-until (const #f)))))
