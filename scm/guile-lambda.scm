;;; (guile-lambda): what a handler sees.  Every handler module already
;;; uses it.  Procedures that create handles or requests are macros, so
;;; that each records the place in the handler's source that created it
;;; (DESIGN.md §4).  The I/O bindings live in modules of their own, whose
;;; exports this module passes on.
(define-module (guile-lambda)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda await)
  #:use-module (guile-lambda origin)
  #:re-export (json-string->scm scm->json-string
               log-message log-port
               context? context-event
               context-function-name context-function-version
               context-invoked-function-arn context-memory-limit-in-mb
               context-aws-request-id context-log-group-name
               context-log-stream-name context-identity context-client-context
               context-tenant-id context-remaining-time-in-millis
               context-callback-waits-for-empty-event-loop?
               set-context-callback-waits-for-empty-event-loop!
               context-succeed context-fail context-done
               handle? request? clear-timer handle-close! handle-ref! handle-unref!
               uv-error? uv-error-code uv-error-syscall
               handle-closed? handle-active? handle-ref? handle-type
               handle-id handle-origin handle-details handle-describe
               active-handles active-requests loop-alive?)
  #:export (set-timeout set-interval set-immediate await))

;; (set-timeout PROC [MS]): call PROC once, MS milliseconds from now
;; (1 ms when MS is not a number from 1 to 2^31-1, as in Node).
(define-origin-recording set-timeout %set-timeout)
;; (set-interval PROC MS): call PROC every MS milliseconds.
(define-origin-recording set-interval %set-interval)

;; (set-immediate PROC): call PROC once, after this turn's I/O.
(define-origin-recording set-immediate %set-immediate)

;; (await PROC ARG ...): call PROC with the ARGs and a completion
;; procedure (err value); suspend the handler until PROC's operation
;; completes, then return its value or raise its error.
(define-syntax await
  (lambda (x)
    (syntax-case x ()
      ((_ proc arg ...)
       (let* ((src (or (syntax-source x) '()))
              (what (format #f "(await ~s) at ~a:~a:~a"
                            (syntax->datum #'(proc arg ...))
                            (or (assq-ref src 'filename) "unknown file")
                            (1+ (or (assq-ref src 'line) -1))
                            (1+ (or (assq-ref src 'column) -1)))))
         #`(%await #,what '#,(datum->syntax x (syntax-source x))
                   proc arg ...))))))

(define binding-modules
  '((guile-lambda fs) (guile-lambda tcp) (guile-lambda udp)
    (guile-lambda process) (guile-lambda dns) (guile-lambda signals)))

(for-each (lambda (name)
            (let ((interface (resolve-interface name)))
              (module-use! (current-module) interface)
              (module-re-export! (current-module)
                                 (module-map (lambda (symbol variable) symbol)
                                             interface))))
          binding-modules)
