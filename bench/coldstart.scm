;;; bench/coldstart.scm: cold starts and their memory, each against its
;;; yardstick measured in the same run: `guile -c 1' (Guile's own
;;; start-up), and node's own start-up (`node -e 1') for comparison.
;;; The commands take turns, run after run, so that a machine whose
;;; load changes meanwhile weighs on all of them alike; each figure is
;;; the fastest of its runs, as in bench/throughput.sh: on a shared
;;; machine that is what the code can do, not what the neighbours took
;;; (the medians are printed too).  BENCH_COLD_RUNS=N changes the number
;;; of runs (default 21).
;;; Run it with `make bench'.
(use-modules (ice-9 format) (ice-9 popen) (ice-9 rdelim) (ice-9 regex)
             (srfi srfi-1))

(define srcdir
  (or (getenv "abs_top_srcdir")
      (dirname (dirname (current-filename)))))

(define runs
  (or (and=> (getenv "BENCH_COLD_RUNS") string->number) 21))

(define handler (string-append srcdir "/bench/trivial.scm"))

;; The cache of compiled handlers starts empty: the first run of the
;; handler compiles it, the others find it.
(define cache-dir
  (let ((template (string-append (or (getenv "TMPDIR") "/tmp")
                                 "/gl-coldstart.XXXXXX")))
    (mkdtemp template)))
(setenv "XDG_CACHE_HOME" cache-dir)

(define (program-found? name)
  (zero? (status:exit-val
          (system* "sh" "-c" (string-append "command -v " name " >/dev/null")))))

(define gnu-time
  (and (file-exists? "/usr/bin/time") "/usr/bin/time"))

(define (seconds-since start)
  (/ (- (get-internal-real-time) start)
     (exact->inexact internal-time-units-per-second)))

;; Run ARGS with standard output thrown away; return the wall time in
;; ms and standard error as a string.
(define (run-timed args)
  (let* ((start (get-internal-real-time))
         (port (apply open-pipe* OPEN_READ "sh" "-c"
                      "exec \"$@\" 2>&1 >/dev/null" "sh" args))
         (err (read-string port))
         (status (close-pipe port))
         (ms (* 1000 (seconds-since start))))
    (unless (zero? (status:exit-val status))
      (format (current-error-port) "coldstart: ~a exited with ~a:~%~a~%"
              (string-join args " ") (status:exit-val status) err)
      (exit 1))
    (values ms err)))

;; The peak resident size in KiB of ARGS, as GNU time reports it.
(define (peak-kib args)
  (and gnu-time
       (call-with-values (lambda ()
                           (run-timed (append (list gnu-time "-f" "peak %M")
                                              args)))
         (lambda (ms err)
           (let ((m (string-match "peak ([0-9]+)" err)))
             (and m (string->number (match:substring m 1))))))))

(define (init-ms err)
  (let ((m (string-match "Init Duration: ([0-9.]+) ms" err)))
    (and m (string->number (match:substring m 1)))))

(define (median xs)
  (let ((v (list->vector (sort xs <))))
    (vector-ref v (quotient (vector-length v) 2))))

(define (fastest xs)
  (apply min xs))

(define guile-1 '("guile" "-c" "1"))
(define node-1 '("node" "-e" "1"))
(define version '("guile-lambda" "--version"))
(define invoke (list "guile-lambda" "invoke" handler "{\"id\": 1}"))

(define node? (program-found? "node"))

;; The first cold start, which compiles the handler and fills the cache.
(define first-ms
  (call-with-values (lambda () (run-timed invoke))
    (lambda (ms err) (cons ms (init-ms err)))))

(define samples
  (let loop ((i 0) (acc '()))
    (if (= i runs)
        acc
        (loop (+ i 1)
              (cons (list (run-timed guile-1)
                          (call-with-values (lambda () (run-timed invoke))
                            (lambda (ms err) (cons ms (init-ms err))))
                          (run-timed version)
                          (if node? (run-timed node-1) #f))
                    acc)))))

(define guile-ms (fastest (map first samples)))
(define invoke-ms (fastest (map (compose car second) samples)))
(define init (fastest (map (compose cdr second) samples)))
(define version-ms (fastest (map third samples)))
(define node-ms (and node? (fastest (map fourth samples))))
(define medians
  (map (lambda (select) (median (map select samples)))
       (list first (compose car second) (compose cdr second) third)))
(define guile-kib (peak-kib guile-1))
(define invoke-kib (peak-kib invoke))

(define (verdict ok?) (if ok? "met" "NOT met"))

(format #t "cold start: handler bench/trivial.scm, ~a runs each, the fastest wall time~%" runs)
(format #t "  ~36a ~9@a  ~a~%" "" "ms" "ratio to `guile -c 1'")
(format #t "  ~36a ~9,1f  1.00x  (the yardstick)~%" "guile -c 1" guile-ms)
(format #t "  ~36a ~9,1f  ~,2fx  target <= 1.5x: ~a~%"
        "invoke, warm handler cache" invoke-ms (/ invoke-ms guile-ms)
        (verdict (<= invoke-ms (* 1.5 guile-ms))))
(format #t "  ~36a ~9,1f  ~,2fx  target <= 10 ms: ~a~%"
        "  its REPORT Init Duration" init (/ init guile-ms)
        (verdict (<= init 10)))
(format #t "  ~36a ~9,1f  ~,2fx  (compiles the handler, fills the cache)~%"
        "invoke, first run (empty cache)" (car first-ms)
        (/ (car first-ms) guile-ms))
(format #t "  ~36a ~9,1f  ~,2fx  (first run)~%"
        "  its REPORT Init Duration" (cdr first-ms)
        (/ (cdr first-ms) guile-ms))
(format #t "  ~36a ~9,1f  ~,2fx  target <= 1.2x: ~a~%"
        "guile-lambda --version" version-ms (/ version-ms guile-ms)
        (verdict (<= version-ms (* 1.2 guile-ms))))
(if node?
    (format #t "  ~36a ~9,1f  ~,2fx  (for comparison)~%"
            "node -e 1" node-ms (/ node-ms guile-ms))
    (format #t "  ~36a skipped: node not found~%" "node -e 1"))
(apply format #t "  medians: guile -c 1 ~,1f ms, invoke ~,1f ms (init ~,1f ms), --version ~,1f ms~%"
       medians)
(if (and guile-kib invoke-kib)
    (begin
      (format #t "peak memory (GNU time, maximum resident set size):~%")
      (format #t "  ~36a ~6,1f MiB  1.00x  (the yardstick)~%"
              "guile -c 1" (/ guile-kib 1024.))
      (format #t "  ~36a ~6,1f MiB  ~,2fx  target <= 16 MiB: ~a~%"
              "invoke, warm handler cache" (/ invoke-kib 1024.)
              (/ invoke-kib guile-kib 1.) (verdict (<= invoke-kib (* 16 1024)))))
    (format #t "peak memory: skipped, /usr/bin/time (GNU time) not found~%"))

(system* "rm" "-rf" cache-dir)
