;;; (tests lib cli): run the guile-lambda binary as a user would and
;;; look at what it printed.
(define-module (tests lib cli)
  #:use-module (ice-9 popen)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 textual-ports)
  #:use-module (ice-9 regex)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (json)
  #:export (fixture example
            run run-status run-stdout run-stderr run-seconds run-json
            run-lines run-records
            guile-lambda
            log-lines-matching stderr-has? log-line-time
            seconds-since-log-line run-ended
            json-ref
            call-with-batch-process))

(define (srcdir)
  (or (getenv "abs_top_srcdir") (getcwd)))

(define (fixture name)
  (string-append (srcdir) "/tests/handlers/" name))

(define (example name)
  (string-append (srcdir) "/examples/" name))

(define-record-type <run>
  (make-run status stdout stderr seconds ended)
  run?
  (status run-status)
  (stdout run-stdout)
  (stderr run-stderr)
  (seconds run-seconds)
  (ended run-ended))            ; epoch seconds when the process had ended

(define (temp-file contents)
  (let* ((port (mkstemp! (string-copy "/tmp/gl-test-XXXXXX")))
         (name (port-filename port)))
    (display contents port)
    (close-port port)
    name))

(define (now-seconds)
  (let ((t (gettimeofday)))
    (+ (car t) (/ (cdr t) 1e6))))

(define* (run args #:key (input "") (env '()))
  "Run ARGS (a list of strings) with INPUT on standard input and the
variables of ENV (an alist) added; return a <run>."
  (let* ((in (temp-file input))
         (err (temp-file ""))
         (cmd (append '("env")
                      (map (lambda (p) (string-append (car p) "=" (cdr p)))
                           env)
                      args))
         (t0 (now-seconds))
         (port (apply open-pipe* OPEN_READ "sh" "-c"
                      "in=$1; err=$2; shift 2; exec \"$@\" <\"$in\" 2>\"$err\""
                      "sh" in err cmd))
         (out (get-string-all port))
         (status (status:exit-val (close-pipe port)))
         (t1 (now-seconds))
         (errors (call-with-input-file err get-string-all)))
    (delete-file in)
    (delete-file err)
    (make-run status out errors (- t1 t0) t1)))

(define* (guile-lambda #:rest args)
  "Run guile-lambda with ARGS; keyword arguments as for run."
  (let loop ((args args) (plain '()) (keys '()))
    (cond
     ((null? args) (apply run (cons "guile-lambda" (reverse plain)) keys))
     ((keyword? (car args))
      (loop (cddr args) plain (append keys (list (car args) (cadr args)))))
     (else (loop (cdr args) (cons (car args) plain) keys)))))

(define (run-json r)
  "The JSON value that R printed on standard output."
  (json-string->scm (run-stdout r) #:ordered #t))

(define (run-lines r)
  (remove string-null? (string-split (run-stdout r) #\newline)))

(define (run-records r)
  "The NDJSON records of a batch run."
  (map (lambda (line) (json-string->scm line #:ordered #t)) (run-lines r)))

(define (json-ref obj . keys)
  (fold (lambda (key obj)
          (and obj
               (if (integer? key)
                   (and (vector? obj) (< key (vector-length obj))
                        (vector-ref obj key))
                   (let ((p (assoc key obj))) (and p (cdr p))))))
        obj keys))

(define (log-line-time line)
  "Epoch seconds of a log line's ISO timestamp (millisecond precision)."
  (let ((m (string-match "^([0-9-]+T[0-9:]+)\\.([0-9]{3})Z\t" line)))
    (and m
         (+ (car (mktime (car (strptime "%Y-%m-%dT%H:%M:%S" (match:substring m 1)))
                         "UTC"))
            (/ (string->number (match:substring m 2)) 1000.)))))

(define (seconds-since-log-line r pattern)
  "Seconds from the first log line of R matching PATTERN to the end of
the process: how long it took after that line was written."
  (let ((lines (log-lines-matching r pattern)))
    (and (pair? lines)
         (let ((t (log-line-time (car lines))))
           (and t (- (run-ended r) t))))))

(define (log-lines-matching r pattern)
  "Lines of R's standard error that match the regular expression PATTERN."
  (filter (lambda (line) (string-match pattern line))
          (string-split (run-stderr r) #\newline)))

(define (stderr-has? r pattern)
  (pair? (log-lines-matching r pattern)))

(define (call-with-batch-process args proc)
  "Start guile-lambda batch with ARGS, its standard error discarded; call
PROC with a port that writes its standard input and reads its standard
output; close it and return what PROC returned."
  (let* ((port (apply open-pipe* OPEN_BOTH "sh" "-c"
                      "exec \"$@\" 2>/dev/null" "sh" "guile-lambda" "batch"
                      args))
         (result (proc port)))
    (close-pipe port)
    result))
