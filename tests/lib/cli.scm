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

;;; Processes to talk with: standard input, output and error each on a
;;; pipe of their own, every read bounded by a timeout, and the process
;;; stopped (killed if it must be) by call-with-process however PROC
;;; leaves.

(export process-input process-output process-errors process-pid
        call-with-process process-wait read-line-within read-until
        connect-within)

(define-record-type <process>
  (make-process pid input output errors)
  process?
  (pid process-pid)
  (input process-input)                 ; writes its standard input
  (output process-output)               ; reads its standard output
  (errors process-errors))              ; reads its standard error

(define (process-start args)
  (let ((in (pipe)) (out (pipe)) (err (pipe)))
    (let ((pid (primitive-fork)))
      (if (zero? pid)
          (catch #t
            (lambda ()
              (dup2 (fileno (car in)) 0)
              (dup2 (fileno (cdr out)) 1)
              (dup2 (fileno (cdr err)) 2)
              (let loop ((fd 3))
                (when (< fd 256)
                  (false-if-exception (close-fdes fd))
                  (loop (+ fd 1))))
              (apply execlp (car args) args))
            (lambda _ (primitive-_exit 127)))
          (begin
            (close-port (car in))
            (close-port (cdr out))
            (close-port (cdr err))
            (setvbuf (cdr in) 'line)
            (make-process pid (cdr in) (car out) (car err)))))))

(define* (process-wait p #:optional (seconds 30))
  "Close P's standard input and wait up to SECONDS for it to end; kill it
if it has not.  Return its exit status, or #f if it had to be killed."
  (false-if-exception (close-port (process-input p)))
  (let ((deadline (+ (now-seconds) seconds)))
    (let loop ()
      (let ((r (waitpid (process-pid p) WNOHANG)))
        (cond
         ((not (zero? (car r))) (status:exit-val (cdr r)))
         ((< (now-seconds) deadline) (usleep 20000) (loop))
         (else
          (kill (process-pid p) SIGKILL)
          (waitpid (process-pid p))
          #f))))))

(define (call-with-process args proc)
  "Start ARGS (a list of strings) and call PROC with the process; stop
the process when PROC returns or raises, and return what PROC returned."
  (let ((p (process-start args)))
    (dynamic-wind
      (const #t)
      (lambda () (proc p))
      (lambda ()
        ;; Unless process-wait reaped it already.
        (false-if-exception
         (when (zero? (car (waitpid (process-pid p) WNOHANG)))
           (kill (process-pid p) SIGKILL)
           (waitpid (process-pid p))))
        (for-each (lambda (port) (false-if-exception (close-port port)))
                  (list (process-input p) (process-output p)
                        (process-errors p)))))))

(define (read-line-within port seconds)
  "A line from PORT, the end-of-file object, or #f if no whole line came
within SECONDS."
  (let ((deadline (+ (now-seconds) seconds)))
    (let loop ((chars '()))
      (if (char-ready? port)
          (let ((c (read-char port)))
            (cond
             ((eof-object? c)
              (if (null? chars) c (list->string (reverse chars))))
             ((eqv? c #\newline) (list->string (reverse chars)))
             (else (loop (cons c chars)))))
          (let ((left (- deadline (now-seconds))))
            (and (positive? left)
                 (begin
                   (select (list port) '() '()
                           (inexact->exact (floor left))
                           (inexact->exact (floor (* 1e6 (- left (floor left))))))
                   (loop chars))))))))

(define (read-until port pattern seconds)
  "Read lines from PORT until one matches the regular expression PATTERN,
for at most SECONDS in all.  Return the lines read, oldest first: the
last one matches, unless time or the input ran out first."
  (let ((deadline (+ (now-seconds) seconds)))
    (let loop ((lines '()))
      (let ((line (read-line-within port (max 0 (- deadline (now-seconds))))))
        (cond
         ((not (string? line)) (reverse lines))
         ((string-match pattern line) (reverse (cons line lines)))
         (else (loop (cons line lines))))))))

(define (connect-within port seconds)
  "A socket connected to 127.0.0.1:PORT, retried for at most SECONDS."
  (let ((deadline (+ (now-seconds) seconds)))
    (let retry ()
      (let ((s (socket PF_INET SOCK_STREAM 0)))
        (catch 'system-error
          (lambda ()
            (connect s AF_INET (inet-pton AF_INET "127.0.0.1") port)
            (setvbuf s 'line)
            s)
          (lambda args
            (close-port s)
            (if (< (now-seconds) deadline)
                (begin (usleep 50000) (retry))
                (apply throw args))))))))
