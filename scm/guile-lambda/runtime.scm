;;; (guile-lambda runtime): the Scheme half of the engine.  Loading a
;;; handler (the init phase), calling user code so that nothing escapes,
;;; and turning what user code raised or passed as an error into the
;;; {errorType, errorMessage, stackTrace} objects Lambda reports.
(define-module (guile-lambda runtime)
  #:use-module (guile-lambda core)
  #:use-module (ice-9 exceptions)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  ;; The compiler is loaded only when a handler is compiled from its
  ;; source: one compiled ahead of time (guile-lambda package) starts
  ;; without it, and a packaged runtime does not ship it.
  #:autoload (language scheme compile-tree-il) (compile-tree-il)
  #:autoload (language tree-il) (tree-il-src tree-il-fold
                                 <toplevel-ref> <toplevel-set>)
  #:autoload (system base compile) (compile)
  #:autoload (system base language) (lookup-language language-reader)
  #:use-module ((system vm loader) #:select (load-thunk-from-file))
  #:use-module ((system vm vm) #:select (call-with-stack-overflow-handler))
  ;; Loaded now: printing an error may need it, and loading it then can
  ;; fail, e.g. with no file descriptor left.
  #:use-module (system repl debug)
  #:export (parse-handler-name
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

;; Each top-level form is compiled to bytecode and run before the next
;; one is read, as the REPL would: handlers run as compiled code, never
;; in the slower evaluator, and a macro may use what the forms before it
;; defined.  A form is expanded in the module that the forms before it
;; left current and runs in the module its expansion left current: a
;; define-module at the top makes its module, with its imports, the one
;; that the rest of the file is compiled and run in.
(define (handler-module)
  "A fresh module for a handler file: it uses (guile-lambda)."
  (let ((module (make-fresh-user-module)))
    (module-use! module (resolve-interface '(guile-lambda)))
    module))

(define (handler-file-load file)
  "Load FILE into a fresh module that uses (guile-lambda); return the
module current at its end and the Tree-IL of its forms, in order."
  (let ((module (handler-module))
        (read-form (language-reader (lookup-language 'scheme))))
    (save-module-excursion
     (lambda ()
       (set-current-module module)
       (call-with-input-file file
         (lambda (port)
           (let loop ((trees '()))
             (let ((form (read-form port (current-module))))
               (if (eof-object? form)
                   (values (current-module) (reverse trees))
                   (call-with-values
                       (lambda () (compile-tree-il form (current-module) '()))
                     (lambda (tree _ next)
                       (set-current-module next)
                       ;; Form by form, a reference to a later definition
                       ;; would be reported as unbound: no warnings here,
                       ;; the check comes after the whole file ran.
                       (compile tree #:from 'tree-il #:to 'value #:env next
                                #:warning-level 0)
                       (loop (cons tree trees))))))))
         ;; UTF-8 unless the file says otherwise in a coding: comment,
         ;; whatever the locale.
         #:guess-encoding #t #:encoding "UTF-8")))))

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
(define (unbound-variable-uses module trees)
  "The (NAME . SOURCE) of each top-level variable that TREES use and
that is unbound, at its first use; SOURCE is the nearest source location
known, or #f."
  (define (unbound? mod name)
    (let ((m (if mod (resolve-module mod #f #:ensure #f) module)))
      (and m
           (let ((var (module-variable m name)))
             (not (and var (variable-bound? var)))))))
  (define (down tree acc)
    (match acc
      ((src . uses)
       (let ((src (or (tree-il-src tree) src)))
         (cons src
               (match tree
                 ((or ($ <toplevel-ref> _ mod name) ($ <toplevel-set> _ mod name))
                  (if (and (not (assq name uses)) (unbound? mod name))
                      (acons name src uses)
                      uses))
                 (_ uses)))))))
  (reverse
   (fold (lambda (tree uses)
           (cdr (tree-il-fold down (lambda (tree acc) acc) (cons #f uses)
                              tree)))
         '() trees)))

(define (unbound-variables-warn module trees file)
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
   (unbound-variable-uses module trees)))

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
                                 (lambda (module trees)
                                   (unbound-variables-warn module trees file)
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

;; Describing an error must not fail in turn, whatever user code raised
;; (a printer that raises, say): nothing may escape guarded-apply into
;; the engine.  The words are the Node runtime's for the same case.
(define (error-object-safely key args stack)
  (catch #t
    (lambda () (throw->alist key args stack))
    (lambda _
      (error-object "handled"
                    "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack"
                    #()))))

(%hook-set! 'guarded-apply guarded-apply)
(%hook-set! 'error->alist error->alist)
(%hook-set! 'error-message-prefix error-message-prefix)
(%hook-set! 'load-handler load-handler)
