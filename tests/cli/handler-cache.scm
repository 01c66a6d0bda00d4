;;; The cache of compiled handlers (scm/guile-lambda/handler-cache.scm):
;;; a second cold start of an unchanged handler runs its cached bytecode
;;; and never loads Guile's compiler; a changed handler, a damaged entry
;;; or a cache that cannot be written means compiling, with the same
;;; results.  Each handler reports whether the compiler module is loaded
;;; in its process when it runs.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 ftw)
             (tests lib tap)
             (tests lib cli))

(define (handler-text greeting)
  (string-append "
(define greeting \"" greeting "\")
(define (handler event context)
  `((\"greeting\" . ,greeting)
    ;; The whole format, not simple-format, with nothing imported.
    (\"formatted\" . ,(format #f \"~,2f\" 1.5))
    (\"compilerLoaded\" . ,(and (resolve-module '(system base compile) #f
                                                #:ensure #f)
                                #t))))
"))

(define (file-write file text)
  (call-with-output-file file (lambda (port) (display text port))))

(define (entries dir)
  (let ((sub (string-append dir "/guile-lambda")))
    (if (file-exists? sub)
        (filter (lambda (name) (string-suffix? ".glc" name))
                (scandir sub))
        '())))

(define (invoke-cached cache handler)
  (guile-lambda "invoke" handler #:env `(("XDG_CACHE_HOME" . ,cache))))

(define (result-check name r greeting compiler?)
  (test-equal (string-append name ": exit status") 0 (run-status r))
  (test-equal (string-append name ": the handler's result") greeting
              (json-ref (run-json r) "greeting"))
  (test-equal (string-append name ": format is (ice-9 format)'s") "1.50"
              (json-ref (run-json r) "formatted"))
  (test-equal (string-append name (if compiler?
                                      ": the compiler was loaded"
                                      ": no compiler module was loaded"))
              compiler? (json-ref (run-json r) "compilerLoaded")))

(define (directory-remove dir)
  (system* "rm" "-rf" dir))

(run-tests "handler-cache"
 (lambda ()
   (let* ((cache (mkdtemp (string-copy "/tmp/gl-test-cache-XXXXXX")))
          (dir (mkdtemp (string-copy "/tmp/gl-test-handler-XXXXXX")))
          (handler (string-append dir "/cached.scm")))
     (file-write handler (handler-text "one"))
     (test-group "first cold start"
       (result-check "empty cache" (invoke-cached cache handler) "one" #t)
       (test-equal "one entry is kept" 1 (length (entries cache))))
     (test-group "second cold start"
       (let ((r (invoke-cached cache handler)))
         (result-check "warm cache" r "one" #f)
         (test-assert "it is a cold start all the same"
                      (stderr-has? r "Init Duration"))))
     (test-group "the handler changes"
       (file-write handler (handler-text "two"))
       (result-check "changed handler" (invoke-cached cache handler) "two" #t)
       (test-equal "its entry is replaced, not added to" 1
                   (length (entries cache)))
       (result-check "changed handler, again" (invoke-cached cache handler)
                     "two" #f))
     (test-group "a damaged entry"
       (let ((entry (string-append cache "/guile-lambda/"
                                   (car (entries cache)))))
         (truncate-file entry 40)
         (result-check "truncated entry" (invoke-cached cache handler)
                       "two" #t)
         (result-check "rewritten entry" (invoke-cached cache handler)
                       "two" #f)))
     (test-group "a cache that cannot be written"
       ;; A regular file where the directory should be: even root cannot
       ;; make a directory under it.
       (let* ((blocker (temp-file "not a directory"))
              (r (invoke-cached blocker handler)))
         (result-check "unwritable cache" r "two" #t)
         (test-assert "a WARN says the handler is compiled every time"
                      (stderr-has? r "WARN\tthe compiled handler could not be kept in the cache"))
         (delete-file blocker)))
     (test-group "what init reports survives the cache"
       (let ((first (invoke-cached cache (fixture "unbound-variable.scm")))
             (second (invoke-cached cache (fixture "unbound-variable.scm"))))
         (for-each
          (lambda (r which)
            (test-equal (string-append which ": result") "fine"
                        (run-json r))
            (test-assert (string-append which ": the unbound variable is warned about, with its line")
                         (stderr-has? r "unbound-variable.scm:6:[0-9]+: possibly unbound variable `undefined-helper'")))
          (list first second) '("compiled" "cached"))))
     (test-group "a handler with a module of its own"
       (let ((own (string-append dir "/own.scm")))
         (file-write own "
(define-module (cache-test own)
  #:use-module (guile-lambda)
  #:use-module ((srfi srfi-1) #:select (fold)))
(define (handler event context)
  `((\"sum\" . ,(fold + 0 '(1 2 3)))
    (\"compilerLoaded\" . ,(and (resolve-module '(system base compile) #f
                                                #:ensure #f)
                                #t))))
")
         (let ((first (invoke-cached cache own))
               (second (invoke-cached cache own)))
           (test-equal "compiled: its imports are seen" 6
                       (json-ref (run-json first) "sum"))
           (test-equal "cached: its imports are seen" 6
                       (json-ref (run-json second) "sum"))
           (test-equal "cached: no compiler module was loaded" #f
                       (json-ref (run-json second) "compilerLoaded")))))
     (directory-remove cache)
     (directory-remove dir))))
