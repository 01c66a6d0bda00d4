;;; (tests lib cli): run the guile-lambda binary as a user would and
;;; look at what it printed.
;;;
;;; Every process a test starts runs in a process group of its own, with
;;; its standard output and error in temporary files, and is waited for
;;; with a deadline: one that overruns it is killed with its whole group
;;; and the test fails instead of hanging.  A test that talks to a
;;; running process (start-guile-lambda) waits for what it printed, each
;;; wait with a timeout, never for a fixed time.
(define-module (tests lib cli)
  #:use-module (ice-9 popen)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 regex)
  #:use-module (ice-9 binary-ports)
  #:use-module (rnrs bytevectors)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (json)
  #:export (fixture example temp-file
            run run-status run-stdout run-stderr run-seconds run-json
            run-lines run-records run-leftovers
            guile-lambda
            log-lines-matching stderr-has? log-line-time
            seconds-since-log-line run-ended
            run-request-id report-duration report-line
            json-ref
            start-guile-lambda send-input close-input started-pid
            output-so-far log-so-far records-so-far
            await-records await-log await-output finish-run
            batch-steps
            call-with-batch-process))

(define (srcdir)
  (or (getenv "abs_top_srcdir") (getcwd)))

(define (fixture name)
  (string-append (srcdir) "/tests/handlers/" name))

(define (example name)
  (string-append (srcdir) "/examples/" name))

(define-record-type <run>
  (make-run status stdout stderr seconds ended leftovers)
  run?
  (status run-status)           ; exit value, or #f if killed by a signal
  (stdout run-stdout)
  (stderr run-stderr)
  (seconds run-seconds)         ; wall time, start-up included
  (ended run-ended)             ; epoch seconds when the process had ended
  (leftovers run-leftovers))    ; #t if processes of its group outlived it

(define* (temp-file #:optional (contents ""))
  "A new file made by mkstemp holding CONTENTS; return its name."
  (let* ((port (mkstemp! (string-copy "/tmp/gl-test-XXXXXX")))
         (name (port-filename port)))
    (display contents port)
    (close-port port)
    name))

(define (now-seconds)
  (let ((t (gettimeofday)))
    (+ (car t) (/ (cdr t) 1e6))))

(define (diagnostic fmt . args)
  (format #t "# ~a~%" (apply format #f fmt args))
  (force-output))

;;; Processes started in a group of their own, their output in files
;;; (a <started> process).

(define-record-type <started>
  (make-started pid input out err started status)
  started?
  (pid started-pid)
  (input started-input)         ; a port to its standard input, or #f
  (out started-out)             ; file of its standard output
  (err started-err)             ; file of its standard error
  (started started-time)
  (status started-status set-started-status!)) ; waitpid status once reaped

(define (cloexec! port)
  (fcntl port F_SETFD FD_CLOEXEC)
  port)

;; Start ARGS (program and arguments, found in PATH) in a process group
;; of its own with ENV added to the environment.  Its standard input is
;; the file INPUT-FILE, or a pipe if INPUT-FILE is #f.
(define (spawn args env input-file)
  (let* ((out (temp-file))
         (err (temp-file))
         (pipe-ends (and (not input-file) (pipe)))
         (in (if input-file
                 (cloexec! (open-input-file input-file #:binary #t))
                 (cloexec! (car pipe-ends))))
         (out-port (cloexec! (open-file out "w")))
         (err-port (cloexec! (open-file err "w")))
         (started (now-seconds)))
    ;; A test writes to processes that may have ended: an error, not
    ;; death.  (Not when this module loads: Guile starts its signal
    ;; thread then, which deadlocks with the loading.)
    (sigaction SIGPIPE SIG_IGN)
    (when pipe-ends (cloexec! (cdr pipe-ends)))
    (let ((pid (primitive-fork)))
      (when (zero? pid)
        ;; Only system calls between fork and exec.
        (catch #t
          (lambda ()
            (setpgid 0 0)
            (sigaction SIGPIPE SIG_DFL)
            (dup2 (fileno in) 0)
            (dup2 (fileno out-port) 1)
            (dup2 (fileno err-port) 2)
            (for-each (lambda (p) (setenv (car p) (cdr p))) env)
            (apply execlp (car args) args))
          (lambda _ (primitive-_exit 127))))
      ;; Put it in its group from this side too, so that a kill of the
      ;; group cannot miss it whichever process ran first.
      (false-if-exception (setpgid pid pid))
      (close-port in)
      (close-port out-port)
      (close-port err-port)
      (let ((input (and pipe-ends (cdr pipe-ends))))
        (when input (setvbuf input 'line))
        (make-started pid input out err started #f)))))

(define (file-bytes file)
  (call-with-input-file file get-bytevector-all #:binary #t))

;; FILE's text up to its last newline: the lines written so far.
(define (file-complete-lines file)
  (let ((bv (file-bytes file)))
    (if (eof-object? bv)
        ""
        (let loop ((i (- (bytevector-length bv) 1)))
          (cond ((< i 0) "")
                ((= (bytevector-u8-ref bv i) 10)
                 (let ((head (make-bytevector (+ i 1))))
                   (bytevector-copy! bv 0 head 0 (+ i 1))
                   (utf8->string head)))
                (else (loop (- i 1))))))))

(define (file-text file)
  (let ((bv (file-bytes file)))
    (if (eof-object? bv) "" (utf8->string bv))))

(define (output-so-far p)
  "The complete lines P has written to its standard output so far."
  (file-complete-lines (started-out p)))

(define (log-so-far p)
  "The complete lines P has written to its standard error so far."
  (file-complete-lines (started-err p)))

(define (text-records text)
  (map (lambda (line) (json-string->scm line #:ordered #t))
       (remove string-null? (string-split text #\newline))))

(define (records-so-far p)
  "The NDJSON records P has written so far."
  (text-records (output-so-far p)))

(define (send-input p text)
  "Write TEXT to P's standard input."
  (display text (started-input p))
  (force-output (started-input p)))

(define (close-input p)
  (when (and (started-input p) (not (port-closed? (started-input p))))
    (close-port (started-input p))))

(define (reap! p)
  "Has P ended?  Reap it if so."
  (or (started-status p)
      (let ((r (waitpid (started-pid p) WNOHANG)))
        (and (not (zero? (car r)))
             (begin (set-started-status! p (cdr r)) #t)))))

(define (group-alive? pgid)
  (catch 'system-error
    (lambda () (kill (- pgid) 0) #t)
    (lambda _ #f)))

(define* (await-output p found #:key (timeout 30) (what "output"))
  "Call FOUND with P every few milliseconds until it returns a true
value, and return that value; after TIMEOUT seconds, or once P has ended
without FOUND being true, return #f."
  (let ((deadline (+ (now-seconds) timeout)))
    (let loop ()
      (let ((ended (reap! p)))
        (cond
         ((found p) => identity)
         (ended
          (diagnostic "~a: the process ended before it came" what)
          #f)
         ((> (now-seconds) deadline)
          (diagnostic "~a: not there after ~a s" what timeout)
          #f)
         (else (usleep 10000) (loop)))))))

(define* (await-records p n #:key (timeout 30))
  "The first N records of P, once it has written them; #f if it does
not within TIMEOUT seconds."
  (await-output p (lambda (p)
                    (let ((records (records-so-far p)))
                      (and (>= (length records) n) (take records n))))
                #:timeout timeout #:what (format #f "record ~a" n)))

(define* (await-log p pattern #:key (timeout 30))
  "The first line of P's standard error that matches PATTERN, once it is
there; #f if it is not within TIMEOUT seconds."
  (await-output p (lambda (p)
                    (find (lambda (line) (string-match pattern line))
                          (string-split (log-so-far p) #\newline)))
                #:timeout timeout
                #:what (format #f "a log line matching ~s" pattern)))

(define* (finish-run p #:key (timeout 60))
  "Close P's standard input, wait up to TIMEOUT seconds for it to end,
kill its process group if it does not, and return what it did as a
<run>.  Processes of its group that outlive it are killed too, and
noted in the run's leftovers."
  (close-input p)
  (let ((deadline (+ (now-seconds) timeout)))
    (let loop ()
      (unless (or (reap! p) (> (now-seconds) deadline))
        (usleep 10000)
        (loop))))
  (unless (started-status p)
    (diagnostic "~a still running after ~a s: killed" (started-pid p) timeout)
    (false-if-exception (kill (- (started-pid p)) SIGKILL))
    (set-started-status! p (cdr (waitpid (started-pid p)))))
  (let* ((ended (now-seconds))
         ;; Children it killed as it ended may take a moment to go.
         (leftovers
          (let wait ((tries 0))
            (cond ((not (group-alive? (started-pid p))) #f)
                  ((< tries 200) (usleep 10000) (wait (+ tries 1)))
                  (else
                   (diagnostic "processes of group ~a outlived it: killed"
                               (started-pid p))
                   (false-if-exception (kill (- (started-pid p)) SIGKILL))
                   #t))))
         (r (make-run (status:exit-val (started-status p))
                      (file-text (started-out p))
                      (file-text (started-err p))
                      (- ended (started-time p))
                      ended
                      leftovers)))
    (delete-file (started-out p))
    (delete-file (started-err p))
    r))

(define* (start-guile-lambda #:rest args)
  "Start guile-lambda with ARGS (strings), its standard input a pipe
written with send-input; #:env as for run."
  (let loop ((args args) (plain '()) (env '()))
    (cond
     ((null? args)
      (spawn (cons "guile-lambda" (reverse plain)) env #f))
     ((eq? (car args) #:env) (loop (cddr args) plain (cadr args)))
     (else (loop (cdr args) (cons (car args) plain) env)))))

(define* (run args #:key (input "") (env '()) (timeout 60))
  "Run ARGS (a list of strings) with INPUT on standard input and the
variables of ENV (an alist) added; return a <run>.  A process still
running after TIMEOUT seconds is killed, with its process group."
  (let* ((in (temp-file input))
         (p (spawn args env in)))
    (delete-file in)
    (finish-run p #:timeout timeout)))

(define* (guile-lambda #:rest args)
  "Run guile-lambda with ARGS; keyword arguments as for run."
  (let loop ((args args) (plain '()) (keys '()))
    (cond
     ((null? args) (apply run (cons "guile-lambda" (reverse plain)) keys))
     ((keyword? (car args))
      (loop (cddr args) plain (append keys (list (car args) (cadr args)))))
     (else (loop (cdr args) (cons (car args) plain) keys)))))

;;; What a run printed.

(define (run-json r)
  "The JSON value that R printed on standard output."
  (json-string->scm (run-stdout r) #:ordered #t))

(define (run-lines r)
  (remove string-null? (string-split (run-stdout r) #\newline)))

(define (run-records r)
  "The NDJSON records of a batch run."
  (text-records (run-stdout r)))

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
  "Lines of R's standard error (a <run> or the text itself) that match
the regular expression PATTERN."
  (filter (lambda (line) (string-match pattern line))
          (string-split (if (string? r) r (run-stderr r)) #\newline)))

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
    ;; As in spawn: writing to a process that ended is an error, not death.
    (sigaction SIGPIPE SIG_IGN)
    (let ((pid (primitive-fork)))
      (if (zero? pid)
          (catch #t
            (lambda ()
              (sigaction SIGPIPE SIG_DFL)
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

(define (run-request-id r)
  "The request id of R's first START line."
  (let ((lines (log-lines-matching r "^START RequestId: ")))
    (and (pair? lines)
         (caddr (string-split (car lines) #\space)))))

(define* (report-line r #:optional id)
  "The REPORT line of R (of the request ID, if given), or #f."
  (let ((lines (log-lines-matching
                r (string-append "^REPORT RequestId: "
                                 (if id (regexp-quote id) "")))))
    (and (pair? lines) (car lines))))

(define* (report-duration r #:optional id)
  "The Duration of R's REPORT line (of the request ID, if given), in
milliseconds, as the engine measured it; #f if there is none."
  (let* ((line (report-line r id))
         (m (and line (string-match "\tDuration: ([0-9.]+) ms" line))))
    (and m (string->number (match:substring m 1)))))

(define* (batch-steps handler steps #:key (args '()) (env '()))
  "Run guile-lambda batch HANDLER ARGS... and feed it STEPS, in order: a
string is an event, sent once every earlier record came back; a number
is a pause of that many seconds after the record before (a lower bound
on the time the container stays frozen); (log . PATTERN) waits for a log
line matching PATTERN; a procedure is called with the running process.
Return the <run>.  If something awaited does not come, the rest is not
sent."
  (let ((p (apply start-guile-lambda "batch" handler
                  (append args (list #:env env)))))
    (let loop ((steps steps) (sent 0))
      (unless (null? steps)
        (let ((step (car steps)))
          (cond
           ((string? step)
            (send-input p (string-append step "\n"))
            (when (await-records p (+ sent 1))
              (loop (cdr steps) (+ sent 1))))
           ((real? step)
            (usleep (inexact->exact (round (* step 1e6))))
            (loop (cdr steps) sent))
           ((and (pair? step) (eq? (car step) 'log))
            (when (await-log p (cdr step))
              (loop (cdr steps) sent)))
           ((procedure? step)
            (step p)
            (loop (cdr steps) sent))
           (else (error "batch-steps: a step is a string, a number, (log . PATTERN) or a procedure:"
                        step))))))
    (finish-run p)))
