;;; (guile-lambda runtime) in a plain Guile: how a handler string is
;;; read (DESIGN.md §2), and the error objects a caller sees (§3).
(use-modules (srfi srfi-64)
             (tests lib tap)
             (guile-lambda runtime))

(define (parse spec)
  "What SPEC names, as (FILE . PROC), or the errorType it is refused with."
  (catch 'guile-lambda-init-error
    (lambda ()
      (call-with-values (lambda () (parse-handler-name spec)) cons))
    (lambda (key type message) type)))

(setenv "LAMBDA_TASK_ROOT" "/var/task")

(run-tests "runtime"
 (lambda ()
   (test-group "handler names"
     (test-equal "FILE.scm" '("dir/h.scm" . handler) (parse "dir/h.scm"))
     (test-equal "FILE.scm:PROC, the way to name a file with dots"
                 '("dir/h.v2.scm" . run) (parse "dir/h.v2.scm:run"))
     (test-equal "NAME.PROC" '("/var/task/core.scm" . echo) (parse "core.echo"))
     (test-equal "NAME.PROC splits at the first dot, as Node does"
                 '("/var/task/nestedHandler.scm" . nested.somethingComplex.handler)
                 (parse "nestedHandler.nested.somethingComplex.handler"))
     (test-equal "of the last path component"
                 '("/var/task/a.b/nestedHandler.scm" . nested.handler)
                 (parse "a.b/nestedHandler.nested.handler"))
     (test-equal "'..' anywhere is malformed" "Runtime.MalformedHandlerName"
                 (parse "malformed..handler"))
     (test-equal "in a directory too" "Runtime.MalformedHandlerName"
                 (parse "a/../b.handler"))
     (test-equal "no dot is malformed" "Runtime.MalformedHandlerName"
                 (parse "malformedHandler"))
     (test-equal "nor a dot in a directory only" "Runtime.MalformedHandlerName"
                 (parse "a.b/handler"))
     (test-equal "no file name" "Runtime.MalformedHandlerName" (parse "dir/.handler"))
     (test-equal "no procedure name" "Runtime.MalformedHandlerName" (parse "core.")))

   (test-group "error objects"
     (let ((e (error->alist '(("errorType" . "Bad\x7fType\nX-Injected: yes")
                              ("errorMessage" . "a\x7fb\nc\td")
                              ("stackTrace" . #("at f (x\x7f.scm:1:2)"))))))
       (test-equal "control characters in errorType are percent-encoded"
                   "Bad%7FType%0AX-Injected: yes" (assoc-ref e "errorType"))
       (test-equal "DEL in errorMessage is; newline and tab stay, as in Node"
                   "a%7Fb\nc\td" (assoc-ref e "errorMessage"))
       (test-equal "DEL in the trace is" #("at f (x%7F.scm:1:2)")
                   (assoc-ref e "stackTrace")))
     (test-equal "an error without control characters is as it was"
                 '(("errorType" . "string") ("errorMessage" . "boom")
                   ("stackTrace" . #()))
                 (error->alist "boom")))))
