;; The supervisor's containers seen from inside: the event's "do" says
;; what this invocation does; without one it counts its invocations in
;; module state (warm reuse shows as a count above 1).  With
;; GL_SERVICE_INIT_FAIL set, the init phase raises.
(use-modules (system foreign) (rnrs bytevectors))

(when (getenv "GL_SERVICE_INIT_FAIL")
  (error "init fails on purpose"))

(define (c-function name ret args)
  (pointer->procedure ret (dynamic-func name (dynamic-link)) args))

(define count 0)
(define hoard '())

(define (stuck-in-c)
  ;; A default mutex locked twice: nothing interrupts that.
  (let ((lock (c-function "pthread_mutex_lock" int '(*)))
        (mutex (make-bytevector 64 0)))
    (lock (bytevector->pointer mutex))
    (lock (bytevector->pointer mutex))))

(define (handler event context)
  (set! count (+ count 1))
  (let ((what (or (assoc-ref event "do") "count")))
    (cond
     ((string=? what "count") count)
     ((string=? what "exit") (primitive-exit 7))
     ((string=? what "segv") ((pointer->procedure void (make-pointer 8) '())))
     ((string=? what "stuck-c") (stuck-in-c))
     ((string=? what "spin") (let loop () (loop)))
     ((string=? what "hoard")
      ;; Each 10 MB held is logged with the time since the invocation
      ;; began, which tells the time spent allocating (long on a loaded
      ;; machine) from the time the supervisor took to notice.
      (let ((t0 (get-internal-real-time)))
        (let loop ((mb 10))
          (set! hoard (cons (make-bytevector 10000000 1) hoard))
          (format #t "hoarded ~a MB at ~a ms~%" mb
                  (quotient (* 1000 (- (get-internal-real-time) t0))
                            internal-time-units-per-second))
          (loop (+ mb 10)))))
     ((string=? what "ticker")
      ;; A child that appends a timestamp to FILE every 50 ms, left
      ;; running: between invocations it is frozen with the container.
      (system (string-append "sh -c 'while :; do date +%s%N >> "
                             (assoc-ref event "file")
                             "; sleep 0.05; done' >/dev/null 2>&1 &"))
      ;; Return once it is running.
      (let wait ()
        (unless (and (file-exists? (assoc-ref event "file"))
                     (positive? (stat:size (stat (assoc-ref event "file")))))
          (usleep 10000)
          (wait)))
      count)
     ((string=? what "sleep")
      (usleep (* 1000 (assoc-ref event "ms")))
      count)
     ((string=? what "wait")
      ;; Until the test creates FILE: an event that stays running as long
      ;; as the test wants, without a fixed time.
      (let wait ()
        (unless (file-exists? (assoc-ref event "file"))
          (usleep 10000)
          (wait)))
      count)
     ((string=? what "child-alloc")
      ;; tail holds the whole line: 200 MB without a newline, and keeps
      ;; it for half a second before the end of its input, so that a
      ;; poll every 50 ms sees it even on a loaded machine.
      (system "(head -c 200M /dev/zero; sleep 0.5) | tail >/dev/null")
      count)
     (else (error "no such thing to do" what)))))
