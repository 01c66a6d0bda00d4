;;; batch --runtime-command: a container that is not `guile-lambda
;;; bootstrap' but a command run by /bin/sh -c, which may fork before the
;;; supervisor has put it in its cgroups (a shell running a Node runtime
;;; client does).  All its processes must be frozen between invocations
;;; all the same.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 rdelim)
             (tests lib tap)
             (tests lib cli))

(define (tick-count file)
  (if (file-exists? file)
      (length (remove string-null? (string-split (file-text* file) #\newline)))
      0))

(define (file-text* file)
  (call-with-input-file file read-string))

;; A ticker the shell starts at once, before it runs bootstrap: it is in
;; the container's process group from the start, and a child of the
;; shell that the supervisor spawned.
(define ticks (temp-file))
(define command
  (string-append "(while :; do echo tick >>" ticks "; sleep 0.02; done) & "
                 "exec guile-lambda bootstrap"))

(run-tests "runtime-command"
 (lambda ()
   (for-each
    (lambda (cgroups)
      (test-group (string-append "a child forked at once is frozen too ("
                                 (or cgroups "cgroups where possible") ")")
        (call-with-output-file ticks (const #t))
        (let* ((p (start-guile-lambda "batch" (fixture "return-style.scm")
                                      "--runtime-command" command
                                      #:env (if cgroups
                                                `(("GUILE_LAMBDA_CGROUPS" . ,cgroups))
                                                '())))
               (first (begin (send-input p "{\"n\":1}\n") (await-records p 1)))
               ;; Frozen as soon as the runtime asked for `next' again.
               (at-freeze (begin (usleep 100000) (tick-count ticks)))
               (later (begin (usleep 600000) (tick-count ticks)))
               (second (begin (send-input p "{\"n\":1}\n") (await-records p 2)))
               (r (finish-run p)))
          (test-assert "both events succeeded"
                       (and first second
                            (every (lambda (rec) (equal? (json-ref rec "status") "success"))
                                   second)))
          (test-assert "the ticker ran while the container ran" (> at-freeze 0))
          (test-assert (format #f "no tick while frozen (~a, then ~a)" at-freeze later)
                       (<= (- later at-freeze) 1))
          (test-assert "the ticker ended with its container" (not (run-leftovers r))))))
    '(#f "none"))
   (delete-file ticks)))
