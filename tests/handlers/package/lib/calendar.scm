;; A module of the packaged function's own, found under LAMBDA_TASK_ROOT.
(define-module (lib calendar)
  #:use-module (srfi srfi-19)
  #:export (epoch-year))

(define (epoch-year)
  "The year of the epoch, by SRFI 19: 1970."
  (date-year (time-utc->date (make-time time-utc 0 0) 0)))
