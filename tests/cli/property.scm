;;; A model-based test of the completion rules (DESIGN.md §3): random
;;; callback-style handlers in a small language (set the flag, callback
;;; with a result or an error, context-succeed, -fail and -done, raise,
;;; 1 ms timers with nested actions; see
;;; tests/handlers/model-interpreter.scm) run through one batch
;;; container, each followed by a drain event that runs whatever it
;;; left frozen.  What each invocation reports (status, result or
;;; error, WARN lines, the timers that ran in it and in which order, a
;;; cold start or not, a lower bound on its duration) is compared with
;;; a reference model of the rules written here from DESIGN.md alone.
;;;
;;; All timers are due 1 ms after their creation, so the loop runs them
;;; generation by generation, each generation in creation order, on any
;;; machine: the order never depends on speed.  Where DESIGN.md leaves
;;; it to the Node runtime, the model does what Node does: callbacks
;;; already due in the loop's current turn still run after a completion
;;; (Node's timers phase runs every expired timer), later turns do not.
;;;
;;; GL_PROPERTY_SEED and GL_PROPERTY_CASES change the seed (default
;;; 20261202) and the number of handlers (default 2000).
(use-modules (srfi srfi-1)
             (srfi srfi-9)
             (srfi srfi-64)
             (ice-9 match)
             (ice-9 regex)
             (json)
             (tests lib tap)
             (tests lib cli))

(define seed
  (or (and=> (getenv "GL_PROPERTY_SEED") string->number) 20261202))
(define case-count
  (or (and=> (getenv "GL_PROPERTY_CASES") string->number) 2000))

;;; The language and its generator.  Values, error messages and raise
;;; messages are unique within a handler, so the one that won can be
;;; told from the others.

(define (generate-program state)
  (define counter 0)
  (define (next! prefix)
    (set! counter (+ counter 1))
    (if prefix (string-append prefix (number->string counter)) counter))
  (define (pick n) (random n state))
  (define (body depth)
    (list->vector (map (lambda (_) (action depth))
                       (iota (pick (if (= depth 0) 5 4))))))
  (define (action depth)
    (let ((r (pick 100)))
      (cond
       ((< r 12) (vector "flag" (zero? (pick 2))))
       ((< r 30) (vector "ok" (next! "v")))
       ((< r 37) (vector "err" (next! "e")))
       ((< r 41) (vector "succeed" (next! "v")))
       ((< r 45) (vector "fail" (next! "e")))
       ((< r 49) (vector "done-ok" (next! "v")))
       ((< r 53) (vector "done-err" (next! "e")))
       ;; A raise in a timer resets the container (a cold start, the
       ;; slow part of a run): rarer there than in the handler.
       ((< r (if (= depth 0) 62 55)) (vector "raise" (next! "r")))
       ((< depth 3) (vector "timer" (next! #f) (body (+ depth 1))))
       (else (vector "ok" (next! "v"))))))
  (body 0))

;;; The model.

(define-record-type <inv>
  (make-inv status payload flag warns lines passes)
  inv?
  (status inv-status set-inv-status!)   ; pending waiting success error
  (payload inv-payload set-inv-payload!)
  (flag inv-flag set-inv-flag!)
  (warns inv-warns set-inv-warns!)
  (lines inv-lines set-inv-lines!)      ; ids of the timers run, last first
  (passes inv-passes set-inv-passes!))  ; turns of the loop that ran timers

(define (new-inv) (make-inv 'pending #f #t 0 '() 0))

(define (done? inv) (memq (inv-status inv) '(success error)))

;; What the handler PROGRAM and then the drain event do: (P C RESET-P
;; RESET-C), where P and C are <inv>s and RESET-x says whether the
;; container is reset after that invocation.  An error payload is
;; (string MESSAGE), (raise MESSAGE) or (uncaught MESSAGE CREATOR),
;; CREATOR being P, C or thaw (P or C), the request during which the
;; timer was made.
(define (model program)
  (define p (new-inv))
  (define c (new-inv))
  (define cur p)
  (define cur-name 'P)                  ; names the creator of a new timer
  (define pending '())                  ; (id body creator), in order
  (define reset? #f)

  (define (warn!) (set-inv-warns! cur (+ 1 (inv-warns cur))))

  ;; Rules 2, 3 and 4: the first completion wins, later ones are WARN
  ;; lines; a success through the callback with the flag #t, read now,
  ;; waits for the empty loop, and is a completion all the same.
  (define (complete! how value)
    (cond
     ((not (eq? (inv-status p) 'pending)) (warn!))
     ((eq? how 'callback)
      (set-inv-status! p (if (inv-flag p) 'waiting 'success))
      (set-inv-payload! p value))
     ((eq? how 'error)
      (set-inv-status! p 'error)
      (set-inv-payload! p (list 'string value)))
     (else
      (set-inv-status! p 'success)
      (set-inv-payload! p value))))

  ;; Run the actions of BODY; the message of a raise, or #f.
  (define (run-body body)
    (let loop ((actions (vector->list body)))
      (match actions
        (() #f)
        ((#("raise" m) . _) m)
        ((action . rest)
         (match action
           (#("flag" b) (set-inv-flag! p b))
           (#("ok" v) (complete! 'callback v))
           (#((or "err" "fail" "done-err") m) (complete! 'error m))
           (#((or "succeed" "done-ok") v) (complete! 'success v))
           (#("timer" id body)
            (set! pending (append pending (list (list id body cur-name))))))
         (loop rest)))))

  ;; Rule 7: an uncaught exception fails the invocation running (even
  ;; one waiting for the empty loop: it has not been reported), and the
  ;; container is reset.  One that already completed keeps its result.
  (define (fire! timer)
    (match timer
      ((id body creator)
       (set-inv-lines! cur (cons id (inv-lines cur)))
       (let ((raised (run-body body)))
         (when raised
           (if (done? cur)
               (warn!)
               (begin
                 (set-inv-status! cur 'error)
                 (set-inv-payload! cur (list 'uncaught raised creator))))
           (set! reset? #t))))))

  ;; One turn of the loop runs the timers due: one generation.
  (define (turn!)
    (let ((due pending))
      (set! pending '())
      (set-inv-passes! cur (+ 1 (inv-passes cur)))
      (for-each fire! due)))

  ;; Rule 6 and the empty loop: turn until the invocation completes at
  ;; once, the loop is empty, or the container must be reset.
  (define (run-loop!)
    (let loop ()
      (when (and (pair? pending) (not (done? cur)) (not reset?))
        (turn!)
        (loop)))
    (when reset? (set! pending '()))
    (case (inv-status cur)
      ((pending) (set-inv-status! cur 'success) (set-inv-payload! cur 'null))
      ((waiting) (set-inv-status! cur 'success))))

  ;; The handler.  Rule 5: a raise fails the invocation at once, unless
  ;; it already completed (then it is a later completion, rule 4).
  (let ((raised (run-body program)))
    (when raised
      (if (eq? (inv-status p) 'pending)
          (begin
            (set-inv-status! p 'error)
            (set-inv-payload! p (list 'raise raised)))
          (warn!))))
  (unless (done? p) (run-loop!))
  (let ((reset-p reset?))
    ;; The drain: what P left frozen runs at the thaw or once the
    ;; drain's handler waits for the empty loop; P's callbacks can no
    ;; longer complete anything.  The drain succeeds with "drained"
    ;; unless one of them raises.
    ;; The first turn runs at the thaw if its timers are due by then,
    ;; or after the drain's handler: what it creates is made during
    ;; request P or C (§4, §6: the latest one whose handler was called).
    (set! cur c)
    (set! cur-name 'thaw)
    (set! reset? #f)
    (set-inv-status! c 'waiting)
    (set-inv-payload! c "drained")
    (when (and (pair? pending) (not reset?))
      (turn!))
    (set! cur-name 'C)
    (run-loop!)
    (list p c reset-p reset?)))

;;; Running the cases.

(define (case-events n program)
  (string-append
   (scm->json-string `(("case" . ,n) ("program" . ,program))) "\n"
   "{\"step\":\"drain\"}\n"))

;; The lines between START and END of each request id.
(define (invocation-lines stderr)
  (let ((table (make-hash-table))
        (outside '()))
    (let loop ((lines (string-split stderr #\newline)) (id #f) (acc '()))
      (match lines
        (() (values table (reverse outside)))
        ((line . rest)
         (cond
          ((string-prefix? "START RequestId: " line)
           (loop rest (caddr (string-split line #\space)) '()))
          ((and id (string-prefix? "END RequestId: " line))
           (hash-set! table id (reverse acc))
           (loop rest #f '()))
          (id (loop rest id (cons line acc)))
          (else
           (set! outside (cons line outside))
           (loop rest #f '()))))))))

(define (timer-lines lines)
  (filter-map (lambda (line)
                (let ((m (string-match "\tINFO\tt([0-9]+)$" line)))
                  (and m (string->number (match:substring m 1)))))
              lines))

(define (warn-count lines)
  (count (lambda (line) (string-contains line "\tWARN\t")) lines))

;; What invocation RECORD (with its log LINES) did, in the model's
;; terms, beside what the model says; a list of the fields that differ.
(define (differences expected record lines cold? ids first-turn-waits?)
  (define (field name want got)
    (if (equal? want got) '() (list (list name 'expected want 'got got))))
  (let ((status (json-ref record "status"))
        (error (json-ref record "error")))
    (append
     (field "status" (symbol->string (inv-status expected)) status)
     (if (eq? (inv-status expected) 'success)
         (field "result" (inv-payload expected) (json-ref record "result"))
         (match (inv-payload expected)
           (('string m)
            (field "error" (list "string" m)
                   (list (json-ref error "errorType") (json-ref error "errorMessage"))))
           (('raise m)
            (field "error" (list "misc-error" m)
                   (list (json-ref error "errorType") (json-ref error "errorMessage"))))
           (('uncaught m creator)
            (let* ((message (or (json-ref error "errorMessage") ""))
                   (requests (if (eq? creator 'thaw)
                                 (list (assq-ref ids 'P) (assq-ref ids 'C))
                                 (list (assq-ref ids creator))))
                   (want (string-append "... during request "
                                        (string-join requests " or ") ": " m)))
              (field "error"
                     (list "misc-error" want)
                     (list (json-ref error "errorType")
                           (if (any (lambda (id)
                                      (string-suffix? (string-append " during request " id ": " m)
                                                      message))
                                    requests)
                               want
                               message)))))))
     (field "WARN lines" (inv-warns expected) (warn-count lines))
     (field "timers run" (reverse (inv-lines expected)) (timer-lines lines))
     (if (eq? cold? 'unknown)
         '()
         (field "cold start" cold? (number? (json-ref record "initDurationMs"))))
     ;; Each turn that ran timers needs the loop's clock to have moved
     ;; on by 1 ms since the one before (libuv's clock counts whole
     ;; milliseconds: one of them may be short); the first turn of a
     ;; drain may run at the thaw, without waiting.
     (let ((d (json-ref record "durationMs"))
           (bound (- (inv-passes expected) (if first-turn-waits? 1 2))))
       (if (and (number? d) (>= d bound))
           '()
           (list (list "durationMs" 'at-least bound 'got d)))))))

;; A raise in the handler after it completed: rule 5's ignored raise.
(define (late-raise? program)
  (let loop ((actions (vector->list program)) (completed? #f))
    (match actions
      (() #f)
      ((#("raise" _) . _) completed?)
      ((#((or "ok" "err" "succeed" "fail" "done-ok" "done-err") _) . rest) (loop rest #t))
      ((_ . rest) (loop rest completed?)))))

;; A name for what went otherwise in failure F, (N PROGRAM DIFFS), to
;; sum them up.
(define (failure-kind f)
  (match f
    ((n program diffs)
     (let ((fields (map (match-lambda ((who name . _) (cons who name))) diffs)))
       (cond
        ((late-raise? program)
         "rule 5: a raise in the handler after it completed")
        ((and (member '(handler . "timers run") fields)
              (every (match-lambda
                       ((who "timers run" 'expected want 'got got)
                        (and (< (length want) (length got))
                             (equal? want (take got (length want)))))
                       (_ #t))
                     diffs))
         "timers of a later turn ran after the invocation completed or failed")
        ((and (member '(drain . "timers run") fields)
              (every (match-lambda
                       ((who "timers run" 'expected want 'got got)
                        (and (< (length want) (length got))
                             (equal? want (take got (length want)))))
                       (_ #t))
                     diffs))
         "timers of a later turn ran after the drain failed")
        (else (format #f "other: ~a" fields)))))))

(define (tally-kinds kinds)
  (let ((table (make-hash-table)))
    (for-each (lambda (k) (hash-set! table k (+ 1 (hash-ref table k 0)))) kinds)
    (sort (hash-map->list cons table) (lambda (a b) (> (cdr a) (cdr b))))))

(run-tests "property"
 (lambda ()
   (let* ((state (seed->random-state seed))
          (programs (map (lambda (_) (generate-program state)) (iota case-count)))
          (models (map model programs))
          (events (temp-file (string-concatenate
                              (map case-events (iota case-count 1) programs))))
          (r (guile-lambda "batch" (fixture "model-interpreter.scm") events
                           "--timeout" "10" #:timeout 600))
          (records (list->vector (run-records r))))
     (delete-file events)
     (format #t "# ~a handlers (seed ~a), ~a records~%" case-count seed
             (vector-length records))
     (test-equal "one record per event" (* 2 case-count) (vector-length records))
     (call-with-values (lambda () (invocation-lines (run-stderr r)))
       (lambda (table outside)
         (test-equal "no timer ran between invocations (frozen)" '()
                     (timer-lines outside))
         (let loop ((n 0) (programs programs) (models models) (cold? #t)
                    (failures '()))
           (if (or (null? programs) (>= (+ 1 (* 2 n)) (vector-length records)))
               (let ((failures (reverse failures)))
                 (for-each
                  (lambda (f)
                    (match f
                      ((n program diffs)
                       (format #t "# case ~a: ~a~%" (+ n 1) (scm->json-string program))
                       (for-each (lambda (d) (format #t "#   ~s~%" d)) diffs))))
                  (take failures (min (or (and=> (getenv "GL_PROPERTY_SHOW") string->number) 10) (length failures))))
                 (format #t "# ~a of ~a handlers disagree with the model~%"
                         (length failures) case-count)
                 (for-each (lambda (kind)
                             (format #t "#   ~a: ~a~%" (cdr kind) (car kind)))
                           (tally-kinds (map failure-kind failures)))
                 (test-equal "every handler does what the model of DESIGN.md §3 says" 0
                             (length failures)))
               (match (car models)
                 ((p c reset-p reset-c)
                  (let* ((rp (vector-ref records (* 2 n)))
                         (rc (vector-ref records (+ 1 (* 2 n))))
                         (ids `((P . ,(json-ref rp "requestId"))
                                (C . ,(json-ref rc "requestId"))))
                         (lines (lambda (rec) (or (hash-ref table (json-ref rec "requestId")) '())))
                         (diffs (append
                                 (map (lambda (d) (cons 'handler d))
                                      (differences p rp (lines rp) cold? ids #t))
                                 (map (lambda (d) (cons 'drain d))
                                      (differences c rc (lines rc) reset-p ids #f)))))
                    ;; After a case that went otherwise, whether the
                    ;; container was reset is not the model's to say.
                    (loop (+ n 1) (cdr programs) (cdr models)
                          (if (null? diffs) reset-c 'unknown)
                          (if (null? diffs)
                              failures
                              (cons (list n (car programs) diffs) failures))))))))))
     ;; The generator must keep reaching every rule, or the comparison
     ;; says little.
     (let ((tally (lambda (pred) (count pred (map cons programs models)))))
       (define (at-least name n pred)
         (let ((k (tally pred)))
           (test-assert (format #f "coverage: ~a (~a handlers)" name k) (>= k n))))
       (at-least "success through the callback after waiting for the loop" 50
                 (match-lambda ((_ p . _) (and (eq? (inv-status p) 'success)
                                               (> (inv-passes p) 0)
                                               (string? (inv-payload p))))))
       (at-least "rule 6: null once the loop is empty" 20
                 (match-lambda ((_ p . _) (eq? (inv-payload p) 'null))))
       (at-least "rule 4: later completions ignored" 200
                 (match-lambda ((_ p . _) (> (inv-warns p) 0))))
       (at-least "rule 5: a raise after completing, in the handler" 20
                 (match-lambda ((program . _) (late-raise? program))))
       (at-least "rule 7: an uncaught exception in a timer" 20
                 (match-lambda ((_ p c reset-p _) reset-p)))
       (at-least "timers frozen by a completion, run by the next invocation" 100
                 (match-lambda ((_ p c . _) (pair? (inv-lines c)))))
       (at-least "a stale callback's completion ignored at the next invocation" 50
                 (match-lambda ((_ p c . _) (> (inv-warns c) 0))))
       (at-least "a stale callback's exception failing the next invocation" 10
                 (match-lambda ((_ p c . _) (eq? (inv-status c) 'error))))))))
