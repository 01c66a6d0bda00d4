;;; Timers from the outside: delays that are not a number from 1 to
;;; 2^31-1 ms behave as in Node (1 ms; a TimeoutOverflowWarning for one
;;; too large), for timeouts and intervals alike.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

(define (timer-case name)
  (guile-lambda "invoke" (fixture "timer-delays.scm")
                (string-append "{\"case\":\"" name "\"}")
                "--timeout" "60"))

(define overflow-warning
  "\tWARN\tTimeoutOverflowWarning: .* does not fit into a 32-bit signed integer. Timeout duration was set to 1. \\(set-(timeout|interval), created at .*timer-delays.scm:[0-9]+:[0-9]+ during request ")

(run-tests "timers"
 (lambda ()
   (for-each
    (lambda (name warned?)
      (let ((r (timer-case name)))
        (test-equal (string-append name ": fires at once") "fired" (run-json r))
        (test-equal (string-append name ": "
                                   (if warned? "warned about" "no warning"))
                    warned? (stderr-has? r overflow-warning))))
    '("infinite" "too-large" "not-a-number" "negative" "not-a-delay" "none")
    '(#t #t #f #f #f #f))
   (let ((r (timer-case "interval-infinite")))
     (test-equal "an infinite interval repeats every millisecond" 3
                 (run-json r))
     (test-assert "with the warning" (stderr-has? r overflow-warning)))))
