;;; The README's command lines and transcripts are what the program
;;; does: each is run, and each line the README shows must appear in
;;; order in what the program printed.  "…" in the README stands for
;;; anything, and so does any number or request id (they vary).  The
;;; REPL's stepping session is checked in tests/cli/repl.scm, through a
;;; terminal.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (ice-9 textual-ports)
             (tests lib tap)
             (tests lib cli))

(define srcdir (or (getenv "abs_top_srcdir") (getcwd)))

(define readme
  (call-with-input-file (string-append srcdir "/README.md") get-string-all))

(define (guile-lambda-in-srcdir args input)
  "Run guile-lambda with ARGS and INPUT from the top of the source tree,
as the README's command lines are, so that origins are the same
relative names."
  (run (cons* "sh" "-c" "cd \"$0\" && exec guile-lambda \"$@\"" srcdir args)
       #:input input))

(define (block-after marker)
  "The lines of the first fenced block after MARKER in the README."
  (let* ((at (string-contains readme marker))
         (open (and at (string-contains readme "```" (+ at (string-length marker)))))
         (start (and open (+ 1 (string-index readme #\newline open))))
         (end (and start (string-contains readme "```" start))))
    (if end
        (remove string-null?
                (string-split (substring readme start (- end 1)) #\newline))
        '())))

(define variable
  ;; A request id (whole or cut short), or a number.
  (make-regexp "[0-9a-f]{8}(-[0-9a-f]{4}){0,3}(-[0-9a-f]{12})?-?|[0-9]+(\\.[0-9]+)?"))

(define (part->pattern text)
  (let loop ((start 0) (acc '()))
    (let ((m (regexp-exec variable text start)))
      (if (not m)
          (string-concatenate-reverse acc (regexp-quote (substring text start)))
          (loop (match:end m)
                (cons* "[0-9a-f.-]+"
                       (regexp-quote (substring text start (match:start m)))
                       acc))))))

(define (line->pattern line)
  (string-append "^"
                 (string-join (map part->pattern (string-split line #\…)) ".*")
                 "$"))

(define (missing-lines expected text)
  "The lines of EXPECTED that do not appear in TEXT in that order."
  (let loop ((expected expected)
             (lines (string-split text #\newline))
             (missing '()))
    (cond
     ((null? expected) (reverse missing))
     ((find-tail (lambda (l) (string-match (line->pattern (car expected)) l))
                 lines)
      => (lambda (rest) (loop (cdr expected) (cdr rest) missing)))
     (else (loop (cdr expected) lines (cons (car expected) missing))))))

(run-tests "readme"
 (lambda ()
   (test-group "quick start"
     (let ((r (guile-lambda "invoke" (example "hello.scm") "{\"name\": \"Ada\"}")))
       (test-assert "the README runs examples/hello.scm with Ada"
                    (string-contains readme "guile-lambda invoke examples/hello.scm '{\"name\": \"Ada\"}'"))
       (test-assert "and says what it prints"
                    (string-contains readme "`{\"message\":\"Hello, Ada!\"}`"))
       (test-equal "which it does" "{\"message\":\"Hello, Ada!\"}\n" (run-stdout r))))

   (test-group "freeze and thaw with examples/interval.scm"
     (let ((command (block-after "`examples/interval.scm` shows the whole story:"))
           (log (block-after "the log says what kept it open:")))
       (test-equal "the command"
                   '("printf '{\"wait\":false}\\n{}\\n' | ./pre-inst-env guile-lambda batch examples/interval.scm --timeout 1")
                   command)
       (let ((r (guile-lambda-in-srcdir
                 '("batch" "examples/interval.scm" "--timeout" "1")
                 "{\"wait\":false}\n{}\n")))
         (test-assert "the README shows log lines" (pair? log))
         (test-equal "the log has each, in order" '()
                     (missing-lines log (run-stderr r))))))

   (test-group "deploying to AWS Lambda"
     (let ((command (block-after "`guile-lambda package DIR` makes of"))
           (parts (block-after "prints what each part costs:"))
           (zip (string-append (mkdtemp "/tmp/gl-readme-XXXXXX") "/function.zip")))
       (test-equal "the command" '("guile-lambda package examples -o function.zip")
                   command)
       (let ((r (guile-lambda-in-srcdir (list "package" "examples" "-o" zip) "")))
         (test-assert "the README shows the parts" (> (length parts) 5))
         (test-equal "package prints each, in order" '()
                     (missing-lines parts (run-stdout r))))
       (when (file-exists? zip) (delete-file zip))
       (rmdir (dirname zip)))
     (test-equal "examples/Dockerfile is the README's"
                 (block-after "for custom runtimes; `examples/Dockerfile`:")
                 (remove string-null?
                         (string-split (call-with-input-file
                                           (example "Dockerfile") get-string-all)
                                       #\newline))))))
