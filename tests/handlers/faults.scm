;; One handler for every fault the container must survive or report:
;; the event's "fault" names it; an event without one succeeds.  With
;; GL_FAULT_INIT set, the init phase itself has that fault.
(use-modules (system foreign) (rnrs bytevectors) (srfi srfi-9)
             (srfi srfi-9 gnu))

(define (c-function name ret args)
  (pointer->procedure ret (dynamic-func name (dynamic-link)) args))

(define mutex-lock (c-function "pthread_mutex_lock" int '(*)))
(define mutex (make-bytevector 64 0))

(define (stuck-in-c)
  ;; A default mutex locked twice: nothing interrupts that.
  (mutex-lock (bytevector->pointer mutex))
  (mutex-lock (bytevector->pointer mutex)))

(define-record-type <unprintable> (make-unprintable) unprintable?)
(set-record-type-printer! <unprintable>
                          (lambda (r port) (error "this printer raises")))

(define (recurse n) (+ 1 (recurse n)))

(define hoard '())

(define (fault! name)
  (cond
   ((string=? name "exit") (exit 3))
   ((string=? name "primitive-exit") (primitive-exit 7))
   ((string=? name "segv") ((pointer->procedure void (make-pointer 8) '())))
   ((string=? name "abort") ((c-function "abort" void '())))
   ((string=? name "sigterm") (kill (getpid) SIGTERM) (sleep 10))
   ((string=? name "spin") (let loop () (loop)))
   ((string=? name "syscall") (sleep 30))
   ((string=? name "stuck-c") (stuck-in-c))
   ((string=? name "stack") (recurse 0))
   ((string=? name "memory")
    (let loop ()
      (set! hoard (cons (make-bytevector 50000000 1) hoard))
      (loop)))
   ((string=? name "async")
    (await (lambda (done) (set-timeout (lambda () (error "async boom")) 10))))
   ((string=? name "printer-result") (make-unprintable))
   ((string=? name "printer-raise") (raise-exception (make-unprintable)))
   (else (error "no such fault" name))))

(let ((init (getenv "GL_FAULT_INIT")))
  (when init (fault! init)))

;; Child processes that must die with the container: a background
;; grandchild of a shell, and a child on the loop, both sleeping SECONDS.
(define (children! seconds)
  (system (string-append "sleep " seconds " &"))
  (process-spawn "sleep" (list seconds) '() (lambda (err result) #t)))

(define (handler event context)
  (let ((name (assoc-ref event "fault"))
        (children (assoc-ref event "children")))
    (when children (children! children))
    (if name (fault! name) "ok")))
