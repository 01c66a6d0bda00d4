;;; (guile-lambda runtime) in a plain Guile: how a handler string is
;;; read (DESIGN.md §2).
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
     (test-equal "no procedure name" "Runtime.MalformedHandlerName" (parse "core."))))))
