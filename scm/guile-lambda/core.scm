;;; (guile-lambda core): the primitives of the C core.  Handlers use
;;; (guile-lambda), which re-exports what is meant for them.
(define-module (guile-lambda core)
  #:use-module (guile-lambda config)
  #:use-module (ice-9 exceptions)
  ;; Loading it makes the `format' every module sees the whole one
  ;; (~d, ~,2f...), not simple-format: handlers have always had it.
  #:use-module (ice-9 format)
  #:use-module (srfi srfi-1)
  #:export (;; JSON codec
            json-string->scm scm->json-string %json-check
            ;; logging
            log-message log-port
            ;; context and completion
            <context> context? context-event
            context-function-name context-function-version
            context-invoked-function-arn context-memory-limit-in-mb
            context-aws-request-id context-log-group-name
            context-log-stream-name context-identity context-client-context
            context-tenant-id context-remaining-time-in-millis
            context-callback-waits-for-empty-event-loop?
            set-context-callback-waits-for-empty-event-loop!
            context-succeed context-fail context-done
            %context-callback make-callback %user-code?
            %invocation-suspend! %invocation-resume
            ;; handles and the registry
            <handle> handle? request? %set-timeout %set-interval %set-immediate
            clear-timer make-uv-error uv-error? uv-error-code uv-error-syscall
            handle-close! handle-ref! handle-unref! handle-closed?
            handle-active? handle-ref? handle-type handle-id handle-origin
            handle-details handle-describe
            active-handles active-requests loop-alive?
            ;; the command line
            %guile-lambda-main))

;; Loaded at expansion time too, so that the compiler knows the
;; primitives' names.
(eval-when (expand load eval)
  (load-extension (if (getenv "GUILE_LAMBDA_UNINSTALLED")
                      "libguile-lambda"
                      (string-append %guile-lambda-extension-dir
                                     "/libguile-lambda"))
                  "gl_extension_init"))

(eval-when (expand load eval)
  ;; The I/O bindings' primitives, %NAME, are for the modules that wrap
  ;; them: export whatever the extension defined under such a name.
  (module-export! (current-module)
                  (filter (lambda (symbol)
                            (string-prefix? "%" (symbol->string symbol)))
                          (module-map (lambda (symbol variable) symbol)
                                      (current-module)))))

(define-exception-type &uv-error &external-error
  make-uv-error-record uv-error?
  (code uv-error-code)
  (syscall uv-error-syscall))

(define (make-uv-error code syscall message)
  "The error a binding passes to its callback, or raises: CODE is
libuv's error name, such as \"ECONNREFUSED\"."
  (make-exception (make-uv-error-record code syscall)
                  (make-exception-with-message message)))

(define (make-callback context)
  "The callback procedure of CONTEXT's invocation, as a handler of three
arguments receives it: (callback), (callback err), (callback err result)."
  (case-lambda
    (() (%context-callback context))
    ((err) (%context-callback context err))
    ((err result) (%context-callback context err result))))

(define (clear-timer timer)
  "Stop TIMER, as clearTimeout does: it is closed; closing it again does
nothing."
  (handle-close! timer))

(%hook-set! 'make-callback make-callback)
(%hook-set! 'raise raise-exception)
(%hook-set! 'make-uv-error make-uv-error)
