;;; (tests lib tap): an SRFI-64 test runner that speaks TAP, so that
;;; automake's tap-driver counts every test case, not every file.
(define-module (tests lib tap)
  #:use-module (srfi srfi-64)
  #:use-module (ice-9 format)
  #:export (tap-test-runner
            run-tests))

(define (tap-test-runner)
  (let ((runner (test-runner-null))
        (count 0))
    (define (name-of r)
      (string-join (map (lambda (x) (format #f "~a" x))
                        (append (test-runner-group-path r)
                                (list (or (test-runner-test-name r) ""))))
                   ": "))
    (test-runner-on-test-end! runner
      (lambda (r)
        (set! count (+ count 1))
        (let ((kind (test-result-kind r)))
          (case kind
            ((pass xpass)
             (format #t "ok ~a - ~a~%" count (name-of r)))
            ((skip)
             (format #t "ok ~a - ~a # SKIP~%" count (name-of r)))
            ((xfail)
             (format #t "not ok ~a - ~a # TODO~%" count (name-of r)))
            (else
             (format #t "not ok ~a - ~a~%" count (name-of r))
             (for-each (lambda (key)
                         (let ((v (test-result-ref r key)))
                           (when v
                             (format #t "#   ~a: ~s~%" key v))))
                       '(source-file source-line expected-value actual-value
                         actual-error)))))
        (force-output)))
    (test-runner-on-final! runner
      (lambda (r) (format #t "1..~a~%" count)))
    runner))

;; Run THUNK's tests under the TAP runner; the exit status tells the
;; harness whether the file as a whole passed.
(define (run-tests name thunk)
  (test-runner-current (tap-test-runner))
  (test-begin name)
  (thunk)
  (let ((failed (test-runner-fail-count (test-runner-current))))
    (test-end name)
    (exit (if (zero? failed) 0 1))))
