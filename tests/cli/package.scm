;;; guile-lambda package: the zip runs with nothing else installed.
;;;
;;; Each zip is unpacked into an empty directory that becomes the root
;;; of a chroot holding nothing but it, /tmp, /dev/null, /proc and a
;;; static /bin/sh (busybox: Amazon Linux has a shell; /bin/wc is the
;;; same busybox, for the example that runs wc), and is run by our
;;; supervisor through --runtime-command, started with `env -i' and only
;;; Lambda's variables.  The mounts need root: elsewhere those checks are
;;; skipped, saying why; the zip's contents and the refusals are checked
;;; everywhere.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 binary-ports)
             (ice-9 match)
             (ice-9 regex)
             (system vm elf)
             (tests lib tap)
             (tests lib cli))

(define (skip name reason)
  "A check that cannot be made here: say why, count it as skipped."
  (format #t "# ~a: skipped: ~a~%" name reason)
  (test-skip 1)
  (test-assert name #t))

(define (temp-dir)
  (mkdtemp "/tmp/gl-package-test-XXXXXX"))

(define (delete-tree path)
  (if (eq? 'directory (stat:type (lstat path)))
      (begin
        (for-each (lambda (name)
                    (unless (member name '("." ".."))
                      (delete-tree (string-append path "/" name))))
                  (let ((d (opendir path)))
                    (let loop ((names '()))
                      (let ((n (readdir d)))
                        (if (eof-object? n)
                            (begin (closedir d) names)
                            (loop (cons n names)))))))
        (rmdir path))
      (delete-file path)))

(define (file-bytes file)
  (call-with-input-file file get-bytevector-all #:binary #t))

(define (command-ok? . args)
  (zero? (status:exit-val (apply system* args))))

(define fixture-dir (fixture "package"))
(define examples-dir (string-append (or (getenv "abs_top_srcdir") (getcwd))
                                    "/examples"))

(define (package dir output . options)
  (apply guile-lambda "package" dir "-o" output options))

(define (zip-names zip)
  (let ((r (run (list "unzip" "-Z1" zip))))
    (remove string-null? (string-split (run-stdout r) #\newline))))

;;; The chroot.

(define busybox "/bin/busybox")

(define (static-program? file)
  (and (file-exists? file)
       (not (find (lambda (s) (= (elf-segment-type s) PT_INTERP))
                  (elf-segments (parse-elf (file-bytes file)))))))

(define chroot-program
  (let ((r (run '("sh" "-c" "command -v chroot || ls /usr/sbin/chroot"))))
    (and (zero? (run-status r)) (string-trim-both (run-stdout r)))))

(define (chroot-unavailable)
  "Why the zips cannot be run in a chroot here, or #f."
  (cond
   ((not (zero? (getuid))) "not root: the chroot and its mounts of /proc and /dev/null need root")
   ((not chroot-program) "no chroot program")
   ((not (command-ok? "sh" "-c" "command -v unzip >/dev/null"))
    "no unzip program (Debian: apt-get install unzip)")
   ((not (static-program? busybox))
    (string-append "no static " busybox " for the chroot's /bin/sh (Debian: apt-get install busybox-static)"))
   (else #f)))

;; A root holding ZIPS, as ((DIR . ZIP) ...), DIR such as "var/task";
;; #f and the reason if the mounts failed.
(define (chroot-make zips)
  (let ((root (temp-dir)))
    (for-each (lambda (dir) (system* "mkdir" "-p" (string-append root "/" dir)))
              '("var/task" "opt" "bin" "tmp" "dev" "proc"))
    (chmod (string-append root "/tmp") #o1777)
    (for-each (match-lambda
                ((dir . zip)
                 (system* "unzip" "-q" zip "-d" (string-append root "/" dir))))
              zips)
    (copy-file busybox (string-append root "/bin/sh"))
    (symlink "sh" (string-append root "/bin/wc"))
    (close-port (open-output-file (string-append root "/dev/null")))
    (if (and (command-ok? "mount" "--bind" "/dev/null"
                          (string-append root "/dev/null"))
             (command-ok? "mount" "-t" "proc" "proc"
                          (string-append root "/proc")))
        root
        (begin (chroot-remove root) #f))))

(define (chroot-remove root)
  (for-each (lambda (mount)
              (let ((path (string-append root mount)))
                (system* "sh" "-c" "mountpoint -q \"$1\" && umount \"$1\"; :"
                         "sh" path)))
            '("/proc" "/dev/null"))
  (delete-tree root))

;; Lambda's variables, from the supervisor's, and nothing else.
(define lambda-variables
  '("AWS_LAMBDA_RUNTIME_API" "_HANDLER" "AWS_LAMBDA_FUNCTION_NAME"
    "AWS_LAMBDA_FUNCTION_VERSION" "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    "AWS_REGION" "AWS_LAMBDA_LOG_GROUP_NAME" "AWS_LAMBDA_LOG_STREAM_NAME"))

(define (runtime-command root bootstrap)
  "The command that runs BOOTSTRAP as Lambda starts a runtime: in the
chroot ROOT, or if ROOT is #f, where it is (LAMBDA_TASK_ROOT its
directory)."
  (string-append
   "exec env -i "
   (string-join (map (lambda (v) (string-append v "=\"$" v "\""))
                     lambda-variables))
   " LANG=en_US.UTF-8 TZ=:UTC PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin"
   (if root
       (string-append " LAMBDA_TASK_ROOT=/var/task " chroot-program " " root
                      " " bootstrap)
       (string-append " LAMBDA_TASK_ROOT=" (dirname bootstrap) " " bootstrap))))

(define (call-with-chroot zips proc)
  (let ((root (chroot-make zips)))
    (if root
        (dynamic-wind (const #t) (lambda () (proc root))
                      (lambda () (chroot-remove root)))
        (proc #f))))

(define* (chroot-batch root bootstrap handler events #:key (timeout "2"))
  (guile-lambda "batch" handler "--timeout" timeout
                "--runtime-command" (runtime-command root bootstrap)
                #:input (string-append (string-join events "\n") "\n")))

(define (status-of records)
  (map (lambda (r) (json-ref r "status")) records))

;; The function of tests/handlers/package: hello, an error, a warm
;; second invocation, a timeout, then a cold start.
(define (function-checks name root bootstrap)
  (let* ((r (chroot-batch root bootstrap "function.handler"
                          '("{}" "{\"raise\":true}" "{}" "{\"sleepS\":5}"
                            "{}")))
         (records (run-records r)))
    (test-equal (string-append name ": success, error, warm, timeout, cold")
                '("success" "error" "success" "timeout" "success")
                (status-of records))
    (match records
      ((hello error warm timeout cold)
       (test-equal (string-append name ": its own module, which uses SRFI 19")
                   1970 (json-ref hello "result" "epochYear"))
       (test-assert (string-append name ": a cold start has an Init Duration")
                    (number? (json-ref hello "initDurationMs")))
       (test-equal (string-append name ": the error, with its place in the source")
                   '("misc-error" "at handler (function.scm:12:5)")
                   (list (json-ref error "error" "errorType")
                         (json-ref error "error" "stackTrace" 0)))
       (test-assert (string-append name ": the third event is warm: same process, state kept")
                    (and (equal? 3 (json-ref warm "result" "calls"))
                         (equal? (json-ref hello "result" "pid")
                                 (json-ref warm "result" "pid"))
                         (not (json-ref warm "initDurationMs"))))
       (test-equal (string-append name ": the timeout is Lambda's")
                   '("Sandbox.Timedout" "Task timed out after 2.00 seconds")
                   (list (json-ref timeout "error" "errorType")
                         (json-ref timeout "error" "errorMessage")))
       (test-assert (string-append name ": after it, a cold start in a new process")
                    (and (equal? 1 (json-ref cold "result" "calls"))
                         (not (equal? (json-ref hello "result" "pid")
                                      (json-ref cold "result" "pid")))
                         (number? (json-ref cold "initDurationMs")))))
      (_ (test-assert (string-append name ": five records") #f)))
    (test-assert (string-append name ": the runtime wrote no START/END/REPORT of its own")
                 (= 5 (length (log-lines-matching r "^REPORT "))))))

(define (example-checks root)
  (let ((records (run-records
                  (chroot-batch root "/var/task/bootstrap" "direct-style.handler"
                                '("{\"text\":\"hello\"}")))))
    (test-equal "examples: direct-style: a file, a TCP round trip and a child process, awaited"
                '("hello" "hello" 5)
                (map (lambda (k) (json-ref (car records) "result" k))
                     '("fromFile" "echoed" "bytes"))))
  (let ((records (run-records
                  (chroot-batch root "/var/task/bootstrap" "interval.handler"
                                '("{\"wait\":false}" "{}") #:timeout "1"))))
    (test-equal "examples: interval: frozen with its container, it times out the next event"
                '("success" "timeout") (status-of records)))
  (let ((records (run-records
                  (chroot-batch root "/var/task/bootstrap" "cached-result.handler"
                                '("{\"n\":10}" "{\"n\":20}")))))
    (test-equal "examples: cached-result: computed cold, reused warm"
                '(#f #t) (map (lambda (r) (json-ref r "result" "cached")) records)))
  (let ((records (run-records
                  (chroot-batch root "/var/task/bootstrap" "own-module.handler"
                                '("{\"words\":[\"a\",\"bcd\"]}")))))
    (test-equal "examples: own-module: a module of its own, with its imports"
                "bcd" (json-ref (car records) "result" "longest"))))

(run-tests "package"
 (lambda ()
   (let* ((dir (temp-dir))
          (zip (string-append dir "/function.zip"))
          (layer-dir (string-append dir "/layered"))
          (layer-zip (string-append layer-dir "/function.zip"))
          (layer (string-append layer-dir "/layer.zip"))
          (examples-zip (string-append dir "/examples.zip"))
          (again-dir (string-append dir "/again")))
     (mkdir layer-dir)
     (mkdir again-dir)

     (test-group "the zip"
       (let ((r (package fixture-dir zip)))
         (test-equal "package succeeds" 0 (run-status r))
         (test-assert "it prints the zip's size and what each part costs"
                      (and (string-match "function.zip: [0-9.]+ MB \\([0-9]+ bytes\\)"
                                         (run-stdout r))
                           (string-match "Guile's modules +[0-9]+ files +[0-9]+ bytes compressed"
                                         (run-stdout r)))))
       (let ((names (zip-names zip)))
         (test-assert "bootstrap, the program, the dynamic loader and libc are in it"
                      (every (lambda (n) (member n names))
                             '("bootstrap" "guile-lambda/bin/guile-lambda"
                               "guile-lambda/lib/ld-linux-x86-64.so.2"
                               "guile-lambda/lib/libc.so.6"
                               "guile-lambda/lib/libguile-lambda.so"
                               "guile-lambda/go/ice-9/boot-9.go")))
         (test-assert "the function, compiled, and its own module too"
                      (every (lambda (n) (member n names))
                             '("function.scm" "lib/calendar.scm"
                               "guile-lambda/ccache/function.go"
                               "guile-lambda/ccache/lib/calendar.go")))
         (test-assert "and the module it imports, which the runtime does not use"
                      (member "guile-lambda/go/srfi/srfi-19.go" names))
         (test-assert "but not the compiler: nothing is compiled at run time"
                      (not (find (lambda (n) (string-prefix? "guile-lambda/go/language/cps" n))
                                 names)))
         (test-assert "nor the REPL" (not (member "guile-lambda/go/guile-lambda/repl.go" names))))
       (test-assert "the same inputs give the same bytes"
                    (begin (package fixture-dir (string-append again-dir "/function.zip"))
                           (equal? (file-bytes zip)
                                   (file-bytes (string-append again-dir "/function.zip")))))
       (let ((r (package fixture-dir layer-zip "--layer")))
         (test-equal "--layer succeeds" 0 (run-status r))
         (test-assert "--layer: the function zip holds the function only"
                      (lset= equal? (zip-names layer-zip)
                             '("function.scm" "lib/calendar.scm"
                               "guile-lambda/ccache/function.go"
                               "guile-lambda/ccache/lib/calendar.go")))
         (test-assert "--layer: layer.zip beside it holds the runtime and its bootstrap"
                      (let ((names (zip-names layer)))
                        (and (member "bootstrap" names)
                             (member "guile-lambda/bin/guile-lambda" names)
                             (not (member "function.scm" names))))))
       (test-equal "the examples package" 0 (run-status (package examples-dir examples-zip))))

     (test-group "refusals"
       (let* ((missing (string-append dir "/no-such-dir"))
              (r (package missing (string-append dir "/x.zip"))))
         (test-equal "a missing directory: status 2" 2 (run-status r))
         (test-assert "it says so" (stderr-has? r "no-such-dir: no such directory")))
       (let* ((empty (string-append dir "/empty"))
              (r (begin (mkdir empty)
                        (call-with-output-file (string-append empty "/README")
                          (lambda (p) (display "no Scheme here\n" p)))
                        (package empty (string-append dir "/x.zip")))))
         (test-equal "no handler in it: status 2" 2 (run-status r))
         (test-assert "it says so" (stderr-has? r "holds no handler: no Scheme file")))
       (let* ((broken (string-append dir "/broken"))
              (r (begin (mkdir broken)
                        (copy-file (fixture "syntax-error.scm")
                                   (string-append broken "/handler.scm"))
                        (package broken (string-append dir "/x.zip")))))
         (test-equal "a handler that does not compile: status 2" 2 (run-status r))
         (test-assert "with the compiler's message and location"
                      (stderr-has? r "handler.scm does not compile: handler.scm:4:1: unexpected end of input")))
       (let ((r (package fixture-dir (string-append dir "/x.zip")
                         "--memory" "512" "--env" "A=1")))
         (test-equal "options of a function's run (--memory, --env): status 2"
                     2 (run-status r))
         (test-assert "it says they are set on AWS Lambda"
                      (stderr-has? r "package builds a zip and runs nothing")))
       (test-assert "no zip was written for any of them"
                    (not (file-exists? (string-append dir "/x.zip")))))

     ;; Without a chroot, as any user: the host's libraries and Guile
     ;; are there, but the bootstrap does not look at them.
     (let ((unpacked (temp-dir)))
       (system* "unzip" "-q" zip "-d" unpacked)
       (test-group "unpacked, started with env -i, under the supervisor"
         (function-checks "function zip" #f (string-append unpacked "/bootstrap")))
       (delete-tree unpacked))

     (let ((why (chroot-unavailable)))
       (test-group "in a chroot, under the supervisor"
         (if why
             (for-each (lambda (name) (skip name why))
                       '("function zip" "examples" "layer"))
             (begin
               (call-with-chroot `(("var/task" . ,zip))
                 (lambda (root)
                   (if root
                       (function-checks "function zip" root "/var/task/bootstrap")
                       (skip "function zip" "cannot mount /proc and /dev/null in a chroot here"))))
               (call-with-chroot `(("var/task" . ,examples-zip))
                 (lambda (root)
                   (if root
                       (example-checks root)
                       (skip "examples" "cannot mount /proc and /dev/null in a chroot here"))))
               ;; Lambda runs /opt/bootstrap when the function has none.
               (call-with-chroot `(("var/task" . ,layer-zip) ("opt" . ,layer))
                 (lambda (root)
                   (if root
                       (function-checks "layer" root "/opt/bootstrap")
                       (skip "layer" "cannot mount /proc and /dev/null in a chroot here"))))))))
     (delete-tree dir))))
