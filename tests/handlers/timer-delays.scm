;; Timers with delays that are not a number from 1 to 2^31-1 ms: as in
;; Node, each runs after 1 ms, and one too large is warned about.
(define (handler event context callback)
  (let ((case (assoc-ref event "case"))
        (fired (lambda () (callback #f "fired"))))
    (cond
     ((equal? case "infinite") (set-timeout fired +inf.0))
     ((equal? case "too-large") (set-timeout fired 2147483648))
     ((equal? case "not-a-number") (set-timeout fired +nan.0))
     ((equal? case "negative") (set-timeout fired -inf.0))
     ((equal? case "not-a-delay") (set-timeout fired "100"))
     ((equal? case "none") (set-timeout fired))
     ((equal? case "interval-infinite")
      (let ((n 0) (interval #f))
        (set! interval
              (set-interval (lambda ()
                              (set! n (+ n 1))
                              (when (= n 3)
                                (clear-timer interval)
                                (callback #f n)))
                            +inf.0))))
     (else (callback "unknown case")))))
