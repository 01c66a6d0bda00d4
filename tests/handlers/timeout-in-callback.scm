;; The deadline falls inside a busy interval callback, after the
;; callback was called with the flag #t: the timeout must say so, name
;; the timer that was running, and keep the callback's partial line.
(define (busy ms)
  (let ((end (+ (get-internal-real-time)
                (* ms (quotient internal-time-units-per-second 1000)))))
    (let loop ()
      (when (< (get-internal-real-time) end)
        (loop)))))

(define (handler event context callback)
  (set-interval (lambda ()
                  (display "tick start")
                  (busy 270)
                  (display " tick end\n"))
                10)
  (callback #f "done"))
