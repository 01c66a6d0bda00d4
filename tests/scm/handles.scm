;;; The handle API of (guile-lambda) in a plain Guile, without the engine
;;; running the loop: the registry, origins, ref and unref, closing.
(use-modules (srfi srfi-64)
             (ice-9 regex)
             (system foreign)
             (tests lib tap)
             (guile-lambda))

;; (gl_uv_bufs_split BYTES LEN ...) through the FFI, as a list of
;; (offset . length) pieces.  It only computes addresses: lengths of
;; 4 GiB and more are tested without allocating them.
(define uv-bufs-split
  (false-if-exception
   (pointer->procedure size_t
                       (dynamic-func "gl_uv_bufs_split"
                                     (dynamic-link "libguile-lambda"))
                       (list '* size_t '* size_t))))

(define (bufs-split len room)
  (let* ((split (or uv-bufs-split (lambda _ 0)))
         (base #x10000000)
         (buf-type (list '* size_t))          ; uv_buf_t on Unix
         (bufs (make-c-struct (make-list (* 2 room) (car buf-type))
                              (make-list (* 2 room) %null-pointer)))
         (count (split (make-pointer base) len bufs room)))
    (let loop ((i 0) (acc '()))
      (if (= i (min count room))
          (values count (reverse acc))
          (let ((piece (parse-c-struct
                        (make-pointer (+ (pointer-address bufs)
                                         (* i (sizeof buf-type))))
                        buf-type)))
            (loop (+ i 1)
                  (cons (cons (- (pointer-address (car piece)) base)
                              (cadr piece))
                        acc)))))))

(define gib (expt 2 30))

(run-tests "handles"
 (lambda ()
   (let ((timeout (set-timeout (lambda () #t) 5000))   ; line 42
         (interval (set-interval (lambda () #t) 250)))  ; line 43
     (test-assert "set-timeout returns a handle" (handle? timeout))
     (test-equal "its type" 'timer (handle-type timeout))
     (test-assert "it is active" (handle-active? timeout))
     (test-assert "and ref'd" (handle-ref? timeout))
     (test-equal "both are listed, in creation order" (list timeout interval)
                 (active-handles))
     (test-assert "they keep the loop alive" (loop-alive?))
     (let ((origin (handle-origin timeout)))
       (test-assert "the origin names this file"
                    (string-suffix? "tests/scm/handles.scm" (assq-ref origin 'file)))
       (test-equal "and the line of the call" 42 (assq-ref origin 'line))
       (test-equal "and its column" 19 (assq-ref origin 'column))
       (test-equal "no invocation was running" "undefined"
                   (assq-ref origin 'request-id)))
     (test-equal "the interval's line" 43
                 (assq-ref (handle-origin interval) 'line))
     (test-equal "timer details: repeat" 250
                 (assq-ref (handle-details interval) 'repeat))
     (test-assert "timer details: due in at most the delay"
                  (<= 0 (assq-ref (handle-details timeout) 'due-in) 5000))
     (test-assert "handle-describe says where it came from"
                  (string-contains (handle-describe interval)
                                   "interval 250 ms"))
     (test-assert "a handle prints with its description and state"
                  (string-match "^#<handle timer #[0-9]+ active ref'd \\(timeout, due in [0-9]+ ms\\), created at [^ ]*tests/scm/handles.scm:42:19 during request undefined>$"
                                (format #f "~s" timeout)))
     (handle-unref! timeout)
     (test-assert "handle-unref! clears ref?" (not (handle-ref? timeout)))
     (test-assert "and the handle prints as unref'd"
                  (string-contains (format #f "~a" timeout) " active unref'd "))
     (test-assert "an unref'd handle is still listed"
                  (memq timeout (active-handles)))
     (handle-ref! timeout)
     (test-assert "handle-ref! sets it again" (handle-ref? timeout))
     (clear-timer timeout)
     (handle-close! interval)
     (test-assert "clear-timer closes" (handle-closed? timeout))
     (test-assert "a closing handle prints as closing"
                  (string-prefix? "#<handle timer #1 closing, created at "
                                  (format #f "~a" timeout)))
     (test-equal "closed handles are not listed" '() (active-handles))
     (test-assert "nor keep the loop alive" (not (loop-alive?)))
     (test-assert "closing twice is harmless"
                  (begin (handle-close! interval) (clear-timer timeout) #t))
     (test-assert "a procedure is required"
                  (catch 'wrong-type-arg
                    (lambda () (set-timeout 5 10) #f)
                    (lambda _ #t))))
   ;; Node's rule: a delay that is not a number from 1 to 2^31-1 ms is
   ;; 1 ms; a fraction waits for the next whole millisecond.
   (for-each
    (lambda (delay due-in)
      (let ((t (set-timeout (lambda () #t) delay)))
        (test-equal (format #f "set-timeout ~s: due in ~a ms" delay due-in)
                    due-in (assq-ref (handle-details t) 'due-in))
        (clear-timer t)))
    (list +inf.0 -inf.0 +nan.0 1e10 (expt 2 31) -5 0 1/2 'soon 2.5 2147483647)
    (list 1 1 1 1 1 1 1 1 1 3 2147483647))
   (for-each
    (lambda (delay repeat)
      (let ((t (set-interval (lambda () #t) delay)))
        (test-equal (format #f "set-interval ~s: repeats every ~a ms" delay repeat)
                    repeat (assq-ref (handle-details t) 'repeat))
        (clear-timer t)))
    (list +inf.0 +nan.0 1e10 250)
    (list 1 1 1 250))
   ;; libuv's buffers take an unsigned int length: big writes are split.
   (for-each
    (lambda (len pieces)
      (call-with-values (lambda () (bufs-split len 8))
        (lambda (count got)
          (test-equal (format #f "~a bytes: in ~a pieces" len (length pieces))
                      (length pieces) count)
          (test-equal (format #f "~a bytes: offsets and lengths" len)
                      pieces got))))
    (list 0 5 gib (+ gib 1) (+ (expt 2 32) 128) (expt 2 33))
    (list '((0 . 0))
          '((0 . 5))
          `((0 . ,gib))
          `((0 . ,gib) (,gib . 1))
          `((0 . ,gib) (,gib . ,gib) (,(* 2 gib) . ,gib) (,(* 3 gib) . ,gib)
            (,(* 4 gib) . 128))
          (map (lambda (i) (cons (* i gib) gib)) (iota 8))))
   (call-with-values (lambda () (bufs-split (+ (expt 2 33) 1) 2))
     (lambda (count got)
       (test-equal "more pieces than room: the count says how many" 9 count)
       (test-equal "and only the room is filled" 2 (length got))))
   (let ((t (set-timeout (lambda () #t))))
     (test-equal "set-timeout without a delay: 1 ms" 1
                 (assq-ref (handle-details t) 'due-in))
     (clear-timer t))))
