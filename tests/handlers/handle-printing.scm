;; How handles and requests print: in a log line, in (active-handles),
;; and once they are gone.
(define (printed obj)
  (format #f "~a" obj))

(define (next-turn k)
  (set-immediate (lambda () (k #f #t))))

(define (handler event context)
  (let* ((timer (set-timeout (lambda () #t) 60000))
         (request #f)
         (in-flight #f)
         (stat (lambda (k)
                 (set! request (fs-stat "/" k))
                 (set! in-flight (printed request))))
         (live (printed timer)))
    (display (active-handles))
    (newline)
    (clear-timer timer)
    (let ((closing (printed timer)))
      (await stat)
      ;; The request is finished once its callback has returned, and
      ;; the timer closed at the end of a turn of the loop.
      (await next-turn)
      (await next-turn)
      (vector live in-flight closing (printed timer) (printed request)))))
