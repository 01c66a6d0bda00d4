;;; (guile-lambda runtime): the Scheme half of the engine.  Loading a
;;; handler (the init phase), calling user code so that nothing escapes,
;;; and turning what user code raised or passed as an error into the
;;; {errorType, errorMessage, stackTrace} objects Lambda reports.
(define-module (guile-lambda runtime)
  #:use-module (guile-lambda core)
  #:use-module (ice-9 exceptions)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (guile-lambda handler-cache)
  #:use-module (ice-9 binary-ports)
  #:use-module ((system vm loader) #:select (load-thunk-from-file))
  #:use-module ((system vm vm) #:select (call-with-stack-overflow-handler))
  #:export (runtime-lazy-modules
            parse-handler-name
            load-handler
            guarded-apply
            error-message-prefix
            error->alist))

(define (init-error type fmt . args)
  (throw 'guile-lambda-init-error type (apply format #f fmt args)))

(define (task-root)
  (or (getenv "LAMBDA_TASK_ROOT") (getcwd)))

(define (parse-handler-name spec)
  "Return the file and the procedure name that SPEC names: FILE.scm,
FILE.scm:PROC, or NAME.PROC as on Lambda."
  (define (malformed why)
    (init-error "Runtime.MalformedHandlerName" "Bad handler '~a': ~a" spec why))
  (cond
   ((not spec)
    (init-error "Runtime.HandlerNotFound"
                "No handler was given: name one, as in guile-lambda repl examples/hello.scm"))
   ((string-null? spec)
    (malformed "it is empty; use FILE.scm, FILE.scm:PROC or NAME.PROC"))
   ((string-suffix? ".scm" spec)
    (values spec 'handler))
   ((string-contains spec ".scm:")
    => (lambda (i)
         (let ((proc (substring spec (+ i 5))))
           (when (string-null? proc)
             (malformed "no procedure name after ':'"))
           (values (substring spec 0 (+ i 4)) (string->symbol proc)))))
   (else (parse-lambda-handler-name spec malformed))))

;; Lambda's NAME.PROC, read as the Node runtime reads it: '..' anywhere
;; is refused before anything else, then the last path component is
;; split at its first dot, so that the procedure name may hold dots of
;; its own (nestedHandler.nested.somethingComplex.handler).
(define (parse-lambda-handler-name spec malformed)
  (when (string-contains spec "..")
    (malformed "'..' is not allowed anywhere in NAME.PROC: the handler must be under LAMBDA_TASK_ROOT (use FILE.scm:PROC to name a file elsewhere)"))
  (when (string-prefix? "/" spec)
    (malformed "NAME.PROC names a file relative to LAMBDA_TASK_ROOT; use FILE.scm:PROC for an absolute path"))
  (let* ((slash (string-rindex spec #\/))
         (base (if slash (1+ slash) 0))
         (dot (string-index spec #\. base)))
    (unless dot
      (malformed "expected FILE.scm, FILE.scm:PROC or NAME.PROC"))
    (let ((name (substring spec 0 dot))
          (proc (substring spec (1+ dot))))
      (when (or (= dot base) (string-null? proc))
        (malformed "expected NAME.PROC, with a file name and a procedure name"))
      (values (string-append (task-root) "/" name ".scm")
              (string->symbol proc)))))

(define (handler-file-check file)
  (cond
   ((not (file-exists? file))
    ;; Only a relative name was looked for in the current directory.
    (if (absolute-file-name? file)
        (init-error "Runtime.ImportModuleError"
                    "Error: Cannot find the handler file '~a'" file)
        (init-error "Runtime.ImportModuleError"
                    "Error: Cannot find the handler file '~a' (looked in ~a)"
                    file (getcwd))))
   ((file-is-directory? file)
    (init-error "Runtime.ImportModuleError"
                "Error: '~a' is a directory, not a handler file" file))
   ((not (access? file R_OK))
    (init-error "Runtime.ImportModuleError"
                "Error: Cannot read the handler file '~a': permission denied"
                file))))

(define (handler-module)
  "A fresh module for a handler file: it uses (guile-lambda)."
  (let ((module (make-fresh-user-module)))
    (module-use! module (resolve-interface '(guile-lambda)))
    module))

;; A handler file is compiled form by form and each form run before the
;; next is read (guile-lambda compile).  The bytecode is kept in the
;; cache of compiled handlers: when the file has the same bytes at the
;; next cold start, the forms are run from there, in the same order and
;; modules, without loading the compiler.
(define (handler-file-load file)
  "Load FILE into a fresh module that uses (guile-lambda); return the
module current at its end and the top-level variables its forms use,
as (MODULE-NAME NAME SOURCE) lists."
  (let ((module (handler-module))
        (source (file-bytes file)))
    (call-with-values
        (lambda ()
          (match (handler-cache-read file source)
            ((codes . uses)
             (values (forms-run module codes) uses))
            (#f (handler-compile-and-keep file source module))))
      (lambda (last uses)
        (values last (map (match-lambda
                            ((#t name src) (list (module-name module) name src))
                            (use use))
                          uses))))))

(define (file-bytes file)
  (let ((bytes (call-with-input-file file get-bytevector-all #:binary #t)))
    (if (eof-object? bytes) #vu8() bytes)))

;; As compile-file's output is loaded: each form runs in the module that
;; the forms before it left current, which a define-module changes.
(define (forms-run module codes)
  (save-module-excursion
   (lambda ()
     (set-current-module module)
     (for-each (lambda (code) ((%bytecode-load code))) codes)
     (current-module))))

(define (handler-compile-and-keep file source module)
  (let ((compile (module-ref (resolve-interface '(guile-lambda compile))
                             'handler-compile)))
    (call-with-values (lambda () (compile file source module))
      (lambda (module uses codes)
        (let ((failure (handler-cache-write file source codes uses)))
          (when failure
            (log-message
             'warn
             (format #f "the compiled handler could not be kept in the cache (~a), so every cold start compiles it again; set XDG_CACHE_HOME to a writable directory"
                     failure))))
        (values module uses)))))

;; A handler compiled ahead of time (guile-lambda package compiles every
;; file of the function in a module that uses (guile-lambda), as
;; handler-file-load would) starts without the compiler: FILE.scm under
;; LAMBDA_TASK_ROOT loads from $GUILE_LAMBDA_HANDLER_CCACHE/FILE.go.  Its
;; unbound variables were reported when it was compiled.
(define (handler-compiled-file file)
  "The compiled file of the handler FILE, or #f if it has none."
  (let ((ccache (getenv "GUILE_LAMBDA_HANDLER_CCACHE"))
        (root (string-append (string-trim-right (task-root) #\/) "/")))
    (and ccache (not (string-null? ccache))
         (string-prefix? root file)
         (string-suffix? ".scm" file)
         (let ((go (string-append
                    ccache "/"
                    (substring file (string-length root)
                               (- (string-length file) 4))
                    ".go")))
           (and (file-exists? go) go)))))

(define (handler-compiled-load go)
  "Run the compiled handler file GO in a fresh module that uses
(guile-lambda); return the module current at its end."
  (let ((module (handler-module)))
    (save-module-excursion
     (lambda ()
       (set-current-module module)
       ((load-thunk-from-file go))
       (current-module)))))

;; After init every definition the file makes has been made: a
;; top-level variable that its code uses and that is still unbound is
;; a mistake (a typo, a missing import) that would otherwise surface at
;; the first invocation that reaches it.
(define (unbound-variable-uses module uses)
  "The (NAME . SOURCE) of each variable of USES that is unbound, at its
first use."
  (define (unbound? mod name)
    (let ((m (if mod (resolve-module mod #f #:ensure #f) module)))
      (and m
           (let ((var (module-variable m name)))
             (not (and var (variable-bound? var)))))))
  (reverse
   (fold (lambda (use found)
           (match use
             ((mod name src)
              (if (and (not (assq name found)) (unbound? mod name))
                  (acons name src found)
                  found))))
         '() uses)))

(define (unbound-variables-warn module uses file)
  (for-each
   (match-lambda
     ((name . src)
      (log-message
       'warn
       (format #f "~a:~a: possibly unbound variable `~a': nothing defines it after the init phase, in the file or in a module it uses"
               (or (and src (assq-ref src 'filename)) file)
               (if src
                   (format #f "~a:~a" (1+ (assq-ref src 'line))
                           (1+ (assq-ref src 'column)))
                   "?")
               name))))
   (unbound-variable-uses module uses)))

(define (handler-procedure module name file)
  (let ((var (module-variable module name)))
    (unless (and var (variable-bound? var))
      (init-error "Runtime.HandlerNotFound" "~a:~a is undefined" file name))
    (let ((proc (variable-ref var)))
      (unless (procedure? proc)
        (init-error "Runtime.HandlerNotFound"
                    "~a:~a is not a procedure but ~s" file name proc))
      proc)))

;; How many of (event context callback) the handler receives; three
;; required arguments make it callback style, as handler.length does in
;; Node.
(define (handler-arity proc file name)
  (match (procedure-minimum-arity proc)
    ((req opt rest?)
     (cond
      ((> req 3)
       (init-error "Runtime.HandlerNotFound"
                   "~a:~a takes ~a arguments; a handler takes (event context) or (event context callback)"
                   file name req))
      ((= req 3) 3)
      ((or rest? (>= (+ req opt) 2)) 2)
      (else (+ req opt))))
    (_ 2)))

(define (load-handler spec)
  "The init phase: (ok MODULE PROC ARITY) or (error . ERROR-OBJECT)."
  (let ((r (guarded-apply
            (lambda ()
              (call-with-values (lambda () (parse-handler-name spec))
                (lambda (file name)
                  (handler-file-check file)
                  (let ((module
                         (match (handler-compiled-file file)
                           (#f (call-with-values
                                   (lambda () (handler-file-load file))
                                 (lambda (module uses)
                                   (unbound-variables-warn module uses file)
                                   module)))
                           (go (handler-compiled-load go)))))
                    (let ((proc (handler-procedure module name file)))
                      (list module proc (handler-arity proc file name)))))))
            '())))
    (match r
      (('ok . value) (cons 'ok value))
      (('timeout)
       (cons 'error (error-object "Sandbox.Timedout"
                                  "The init phase timed out after 10 seconds"
                                  #())))
      ((_ . error) (cons 'error error)))))

;;; Errors.

(define (error-object type message trace)
  `(("errorType" . ,(percent-encode type header-unsafe-char?))
    ("errorMessage" . ,(percent-encode message del-char?))
    ("stackTrace" . ,(list->vector
                       (map (lambda (line)
                              (if (string? line)
                                  (percent-encode line del-char?)
                                  line))
                            (vector->list trace))))))

;; The Node runtime percent-encodes DEL in errorType, errorMessage and
;; the trace, since errorType travels in the Runtime API's
;; Lambda-Runtime-Function-Error-Type header, where DEL may not appear.
;; No other control character may appear in a header value either (a
;; newline would end it), so errorType has them encoded too; a message
;; and a trace keep their newlines and tabs, as in Node.
(define (del-char? c)
  (char=? c #\delete))

(define (header-unsafe-char? c)
  (or (char=? c #\delete)
      (and (char<? c #\space) (not (char=? c #\tab)))))

(define (percent-encode str unsafe?)
  (if (not (string-any unsafe? str))
      str
      (string-concatenate
       (map (lambda (c)
              (if (unsafe? c)
                  (let ((hex (string-upcase
                              (number->string (char->integer c) 16))))
                    (string-append (if (< (char->integer c) 16) "%0" "%")
                                   hex))
                  (string c)))
            (string->list str)))))

(define (internal-file? file)
  (or (string-suffix? "ice-9/boot-9.scm" file)
      (string-suffix? "guile-lambda.scm" file)
      (string-contains file "guile-lambda/")))

(define (frame-description frame)
  (match (frame-source frame)
    ((_ (? string? file) line . column)
     (and (not (internal-file? file))
          (format #f "at ~a (~a:~a:~a)"
                  (or (frame-procedure-name frame) "<anonymous>")
                  file (1+ line) (1+ column))))
    (_ #f)))

;; The frames that have a place in some source file, innermost first,
;; without the runtime's own.
(define (stack->trace stack)
  (if (not stack)
      #()
      (let loop ((i 0) (acc '()))
        (if (or (>= i (stack-length stack)) (>= (length acc) 32))
            (list->vector (reverse acc))
            (loop (1+ i)
                  (match (frame-description (stack-ref stack i))
                    (#f acc)
                    (line (cons line acc))))))))

(define (throw-message key args)
  (string-trim-right
   (call-with-output-string
     (lambda (port) (print-exception port #f key args)))))

(define (exception-with-kind-and-args? exn)
  (not (eq? (exception-kind exn) '%exception)))

(define (exception-type-name exn)
  (if (exception-with-kind-and-args? exn)
      (symbol->string (exception-kind exn))
      (match (simple-exceptions exn)
        ((first . _)
         (string-trim (symbol->string
                       (record-type-name (record-type-descriptor first)))
                      #\&))
        (() "exception"))))

(define (exception-text exn)
  (cond
   ((exception-with-kind-and-args? exn)
    (throw-message (exception-kind exn) (exception-args exn)))
   ((exception-with-message? exn)
    (let ((irritants (if (exception-with-irritants? exn)
                         (exception-irritants exn)
                         '())))
      (string-join (cons (format #f "~a" (exception-message exn))
                         (map (lambda (x) (format #f "~s" x)) irritants))
                   " ")))
   (else (format #f "~s" exn))))

(define (error-object-alist? obj)
  (and (pair? obj) (every pair? obj) (assoc "errorType" obj)))

(define* (error->alist err #:optional (trace #()))
  "The error object that Lambda reports for ERR: an exception, a string,
or an alist that already has errorType (and errorMessage)."
  (cond
   ((error-object-alist? err)
    (error-object (format #f "~a" (assoc-ref err "errorType"))
                  (format #f "~a" (or (assoc-ref err "errorMessage") ""))
                  (let ((t (assoc-ref err "stackTrace")))
                    (if (vector? t) t trace))))
   ((exception? err)
    (error-object (exception-type-name err) (exception-text err) trace))
   ;; As the Node runtime reports a thrown value that is not an Error:
   ;; its type, and its text.
   ((string? err) (error-object "string" err trace))
   ((symbol? err) (error-object "symbol" (symbol->string err) trace))
   ((number? err) (error-object "number" (number->string err) trace))
   (else (error-object "object" (format #f "~s" err) trace))))

(define (throw->alist key args stack)
  (let ((trace (stack->trace stack)))
    (match (cons key args)
      (('%exception obj) (error->alist obj trace))
      (('guile-lambda-init-error type message)
       (error-object type message trace))
      (((or 'read-error 'syntax-error) . _)
       (error-object "Runtime.UserCodeSyntaxError" (throw-message key args)
                     trace))
      (('quit . status)
       (error-object "Runtime.ExitError"
                     (format #f "Runtime exited with error: exit status ~a"
                             (match status
                               (((? integer? n) . _) n)
                               (((? boolean? b) . _) (if b 0 1))
                               (_ 0)))
                     trace))
      (_ (error-object (symbol->string key) (throw-message key args) trace)))))

(define (error-message-prefix error where)
  "ERROR, an error object, with WHERE before its message."
  (map (lambda (pair)
         (if (equal? (car pair) "errorMessage")
             (cons (car pair) (string-append where ": " (cdr pair)))
             pair))
       error))

(define guard-tag (make-prompt-tag "guarded-apply"))

(define (stack-overflow)
  ;; As Node's RangeError, under a name that says what happened.
  (throw 'stack-overflow #f
         "Maximum call stack size exceeded (~a MB, a quarter of the function's memory): is there a recursion that never ends?"
         (list (quotient (* 8 (%stack-limit)) (* 1024 1024))) #f))

(define (guarded-apply proc args)
  "Apply PROC to ARGS and return (ok . VALUE), (error . ERROR-OBJECT),
(exit . ERROR-OBJECT) when it called exit, or (timeout) when the
watchdog interrupted it.  The stack PROC may use is bounded: a
recursion without end is an error, not the container's memory."
  (call-with-prompt guard-tag
    (lambda ()
      (with-exception-handler
          (lambda (exn)
            (let ((key (exception-kind exn)))
              (abort-to-prompt guard-tag key (exception-args exn)
                               (and (not (memq key '(guile-lambda-timeout quit)))
                                    (make-stack #t)))))
        (lambda ()
          (call-with-values
              (lambda ()
                (with-fluids ((%user-code? #t))
                  (call-with-stack-overflow-handler (%stack-limit)
                    (lambda () (apply proc args))
                    stack-overflow)))
            (case-lambda
              (() (cons 'ok *unspecified*))
              ((value . _) (cons 'ok value)))))))
    (lambda (k key rest stack)
      (if (eq? key 'guile-lambda-timeout)
          '(timeout)
          (cons (if (eq? key 'quit) 'exit 'error)
                (error-object-safely key rest stack))))))

;; frame-source and frame-procedure-name load (system vm frame), and a
;; dozen modules with it, when first called: at start-up that would
;; make every cold start half as slow again, so it happens when the
;; first error is described.  A handler that has used up its file
;; descriptors must still get its error described: one descriptor is
;; held in reserve until then and given up for the loading.
(define reserve-fd
  (false-if-exception (open-fdes "/dev/null" (logior O_RDONLY O_CLOEXEC))))

(define runtime-lazy-modules
  ;; What the runtime loads after start-up, which no import names:
  ;; `guile-lambda package' must ship these too.
  '((system vm frame)))

(define (frame-modules-load)
  (unless (every (lambda (name) (resolve-module name #f #:ensure #f))
                 runtime-lazy-modules)
    (when reserve-fd
      (close-fdes reserve-fd)
      (set! reserve-fd #f))
    (for-each resolve-interface runtime-lazy-modules)))

;; Describing an error must not fail in turn, whatever user code raised
;; (a printer that raises, say): nothing may escape guarded-apply into
;; the engine.  The words are the Node runtime's for the same case.
(define (error-object-safely key args stack)
  (catch #t
    (lambda ()
      (when stack
        (frame-modules-load))
      (throw->alist key args stack))
    (lambda _
      (error-object "handled"
                    "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack"
                    #()))))

(%hook-set! 'guarded-apply guarded-apply)
(%hook-set! 'error->alist error->alist)
(%hook-set! 'error-message-prefix error-message-prefix)
(%hook-set! 'load-handler load-handler)
