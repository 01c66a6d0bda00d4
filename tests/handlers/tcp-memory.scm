;; Opens and closes many timers and loopback connections, 100 at a time,
;; and reports resident memory after a warm-up (the first tenth) and at
;; the end.  Event: {"count": N} (default 100000 of each), "leak": #t to
;; leave the long timers unref'd instead of clearing them (the check
;; that the measure sees a leak), "connections": #f to skip them.
(use-modules (ice-9 rdelim))

(define batch 100)

;; Resident memory in kB, from the kernel.
(define (rss-kb)
  (call-with-input-file "/proc/self/status"
    (lambda (port)
      (let loop ()
        (let ((line (read-line port)))
          (cond ((eof-object? line) (error "no VmRSS in /proc/self/status"))
                ((string-prefix? "VmRSS:" line)
                 (string->number (cadr (string-tokenize line))))
                (else (loop))))))))

;; N timers, then (K #f) once all are done: half fire (and close
;; themselves), half are cleared before they would fire.
(define (timers n leak? k)
  (let ((left n))
    (define (one-done)
      (set! left (- left 1))
      (when (zero? left) (k #f)))
    (do ((i 0 (+ i 1))) ((= i n))
      (if (even? i)
          (set-timeout one-done 1)
          (let ((timer (set-timeout one-done 60000)))
            (if leak? (handle-unref! timer) (clear-timer timer))
            (one-done))))))

;; N connections to PORT, each closed once the server has closed its
;; end; then (K #f).  The server closes first, so the TIME_WAIT state
;; of each connection is on its side: the client's ephemeral ports are
;; free again at once, whatever net.ipv4.tcp_tw_reuse says, and 100,000
;; connects do not run through the ephemeral range.
(define (connections port n k)
  (let ((left n))
    (do ((i 0 (+ i 1))) ((= i n))
      (tcp-connect "127.0.0.1" port
                   (lambda (err conn)
                     (if err
                         (k err)
                         (tcp-read conn
                                   (lambda (err data)
                                     (handle-close! conn)
                                     (set! left (- left 1))
                                     (when (zero? left) (k #f))))))))))

(define (measure)
  (gc)
  (rss-kb))

(define (handler event context)
  (let* ((count (or (assoc-ref event "count") 100000))
         (leak? (assoc-ref event "leak"))
         (connections? (let ((given (assoc "connections" event)))
                         (or (not given) (cdr given))))
         (server (tcp-listen "127.0.0.1" 0 (lambda (err conn)
                                             (unless err (handle-close! conn)))))
         (port (tcp-server-port server))
         (start (get-internal-real-time)))
    (define (round!)
      (await timers batch leak?)
      (when connections? (await connections port batch)))
    (let loop ((done 0))
      (when (< done (quotient count 10))
        (round!)
        (loop (+ done batch))))
    (let ((warm (measure)))
      (format #t "after the warm-up of ~a timers and ~a connections: VmRSS ~a kB~%"
              (quotient count 10) (if connections? (quotient count 10) 0) warm)
      (let loop ((done (quotient count 10)))
        (when (< done count)
          (round!)
          (loop (+ done batch))))
      (handle-close! server)
      (let ((end (measure))
            (seconds (exact->inexact
                      (/ (- (get-internal-real-time) start)
                         internal-time-units-per-second))))
        (format #t "after ~a timers and ~a connections: VmRSS ~a kB (~@d kB), GC heap ~a kB, in ~,1f s~%"
                count (if connections? count 0) end (- end warm)
                (quotient (assq-ref (gc-stats) 'heap-size) 1024) seconds)
        `(("warmKb" . ,warm)
          ("endKb" . ,end)
          ("handles" . ,(length (active-handles)))
          ("seconds" . ,seconds))))))
