;;; Handles and requests from the outside: how they print in a log line,
;;; in (active-handles), and once they are closed or done.
(use-modules (srfi srfi-64)
             (ice-9 regex)
             (tests lib tap)
             (tests lib cli))

(define origin "created at [^ ]*handle-printing\\.scm:~a during request [0-9a-f-]+")

(run-tests "handles"
 (lambda ()
   (let* ((r (guile-lambda "invoke" (fixture "handle-printing.scm")))
          (printed (run-json r)))
     (define (printed-as? i pattern)
       (and (vector? printed) (> (vector-length printed) i)
            (string-match pattern (vector-ref printed i))))
     (test-equal "succeeds" 0 (run-status r))
     (test-assert "a live timer: type, id, state, details, origin"
                  (printed-as? 0 (format #f "^#<handle timer #[0-9]+ active ref'd \\(timeout, due in [0-9]+ ms\\), ~a>$"
                                         (format #f origin "10:[0-9]+"))))
     (test-assert "a request in flight"
                  (printed-as? 1 (format #f "^#<request fs #[0-9]+ in flight \\(stat /\\), ~a>$"
                                         (format #f origin "14:[0-9]+"))))
     (test-assert "a timer being closed"
                  (printed-as? 2 (format #f "^#<handle timer #[0-9]+ closing, ~a>$"
                                         (format #f origin "10:[0-9]+"))))
     (test-assert "a closed timer still says what it was"
                  (printed-as? 3 "^#<handle timer #[0-9]+ closed>$"))
     (test-assert "a finished request"
                  (printed-as? 4 "^#<request fs #[0-9]+ done>$"))
     (test-assert "(active-handles) in a log line lists descriptions"
                  (stderr-has? r (format #f "\tINFO\t\\(#<handle timer #[0-9]+ active ref'd \\(timeout, due in [0-9]+ ms\\), ~a>\\)$"
                                         (format #f origin "10:[0-9]+")))))))
