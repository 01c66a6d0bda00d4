;; Direct-style handlers: await on operations that complete from the
;; loop.  The operations here are built on timers; any procedure that
;; takes a completion procedure (err value) last can be awaited.
(use-modules (ice-9 exceptions))

(define (after ms value k)
  (set-timeout (lambda () (k #f value)) ms))

(define (fail-after ms message k)
  (set-timeout (lambda ()
                 (k (make-exception (make-error)
                                    (make-exception-with-message message))))
               ms))

(define (never k) #t)

(define (sum-of-squares n)
  ;; await inside a nested procedure and a loop
  (let loop ((i 1) (total 0))
    (if (> i n)
        total
        (loop (+ i 1) (+ total (await after 5 (* i i)))))))

;; Not in tail position: its frame is on the stack when car raises.
(define (fail-here x)
  (+ 1 (car x)))

(define (handler event context)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "sequential")
      (let* ((a (await after 20 1))
             (b (await after 20 (+ a 1)))
             (c (await after 20 (+ b 1))))
        (display "resumed three times\n")
        (vector a b c)))
     ((equal? case "nested")
      (sum-of-squares 4))
     ((equal? case "caught")
      (catch #t
        (lambda () (await fail-after 10 "the operation failed"))
        (lambda (key . args)
          `(("caught" . ,(exception-message (car args)))))))
     ((equal? case "uncaught")
      (await fail-after 10 "nobody caught this"))
     ((equal? case "trace")
      ;; Raises after the handler was resumed: the trace keeps the frames.
      (await after 1 #t)
      (fail-here 5))
     ((equal? case "trace-without-await")
      (fail-here 5))
     ((equal? case "never")
      (await never))
     ((equal? case "sync-error")
      ;; The operation raises at once: the error is raised at the await.
      (catch #t
        (lambda () (await fs-read-file ""))
        (lambda (key . args) "caught at the await")))
     ((equal? case "c-frame")
      (sort (list 3 1 2) (lambda (a b) (await after 1 (< a b)))))
     (else "unknown case"))))
