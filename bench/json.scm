;;; bench/json.scm: the C JSON codec against guile-json 4, on a real API
;;; Gateway v2 event (bench/data/apigw-v2.json) and on a ~1 MB document
;;; built at run time from a fixed seed.  Prints throughput for both and
;;; the ratio ours / guile-json; run it with `make bench`.
(use-modules (guile-lambda core)
             ((json parser) #:prefix guile-json:)
             ((json builder) #:prefix guile-json:)
             (ice-9 format) (ice-9 textual-ports) (rnrs bytevectors)
             (srfi srfi-1) (srfi srfi-11))

(define srcdir
  (or (getenv "abs_top_srcdir")
      (dirname (dirname (current-filename)))))

(define (read-text file)
  (call-with-input-file file get-string-all #:encoding "UTF-8"))

(define (guile-json-decode text)
  (guile-json:json-string->scm text #:ordered #t))

;; A document of at least SIZE bytes that mixes what events carry:
;; objects, arrays, strings with escapes and non-ASCII text, integers
;; (some beyond 64 bits) and floats.
(define (make-document size)
  (define state (seed->random-state 20240430))
  (define words
    #("alpha" "beta" "gamma" "café" "naïve" "日本" "😀 ok" "line\nbreak"
      "tab\there" "quote \"q\"" "back\\slash" "plain" "Zürich" "ΑΒΓ"))
  (define (pick v) (vector-ref v (random (vector-length v) state)))
  (define (record i)
    `(("id" . ,i)
      ("name" . ,(string-append (pick words) " " (number->string i)))
      ("score" . ,(/ (random 100000 state) 8.0))
      ("ratio" . ,(- (random 1.0 state) 0.5))
      ("big" . ,(+ (expt 2 64) (random 1000000 state)))
      ("active" . ,(zero? (random 2 state)))
      ("parent" . null)
      ("tags" . ,(list->vector (map (lambda (_) (pick words)) (iota 4))))
      ("point" . (("x" . ,(random 1000 state))
                  ("y" . ,(- (random 1000 state)))
                  ("z" . ,(* 1e-3 (random 1000 state)))))
      ("history" . ,(list->vector (map (lambda (k) (* k i)) (iota 6))))))
  (let loop ((i 0) (records '()) (bytes 0))
    (if (>= bytes size)
        (scm->json-string (list->vector (reverse records)))
        (let ((r (record i)))
          (loop (+ i 1) (cons r records)
                (+ bytes 1 (string-utf8-length (scm->json-string r))))))))

(define (seconds-since start)
  (/ (- (get-internal-real-time) start)
     (exact->inexact internal-time-units-per-second)))

;; Seconds per call of THUNK, and the share of that time spent in the
;; garbage collector: calls it until BUDGET seconds have passed (at
;; least twice), after one warm-up call.
(define (time-per-op thunk budget)
  (define (gc-time) (assq-ref (gc-stats) 'gc-time-taken))
  (thunk)
  (gc)
  (let ((start (get-internal-real-time))
        (gc-start (gc-time)))
    (let loop ((n 1))
      (thunk)
      (let ((elapsed (seconds-since start)))
        (if (and (>= elapsed budget) (>= n 2))
            (values (/ elapsed n)
                    (/ (- (gc-time) gc-start)
                       internal-time-units-per-second elapsed))
            (loop (+ n 1)))))))

(define (show-rate seconds bytes per-op?)
  (if per-op?
      (format #f "~d ops/s" (inexact->exact (round (/ 1 seconds))))
      (format #f "~,1f MB/s" (/ bytes seconds 1e6))))

(define (compare name bytes per-op? ours theirs)
  "Print one row; return the ratio, guile-json's time over ours, and the
ratio there would be if our own work cost nothing and only our share of
collections remained: the most any change to our code could reach with
the values it must build and the heap it is given."
  (let-values (((t-ours gc-ours) (time-per-op ours 1.5))
               ((t-theirs gc-theirs) (time-per-op theirs 4.0)))
    (format #t "~28a ~14@a ~14@a ~7,1fx       ~3d%    ~3d%~%"
            name (show-rate t-ours bytes per-op?)
            (show-rate t-theirs bytes per-op?) (/ t-theirs t-ours)
            (inexact->exact (round (* 100 gc-ours)))
            (inexact->exact (round (* 100 gc-theirs))))
    (values (/ t-theirs t-ours)
            (if (positive? gc-ours) (/ t-theirs (* gc-ours t-ours)) +inf.0))))

(define (bench-document label text per-op?)
  (let* ((value (json-string->scm text))
         (bytes (string-utf8-length text))
         (out-bytes (string-utf8-length (scm->json-string value))))
    (unless (and (equal? value (guile-json-decode text))
                 (equal? value (json-string->scm (scm->json-string value))))
      (format #t "warning: the codecs disagree on ~a~%" label))
    (let-values (((decode decode-cap)
                  (compare (format #f "decode ~a (~a)" label
                                   (if (< bytes 1000000)
                                       (format #f "~,1f KB" (/ bytes 1000.))
                                       (format #f "~,1f MB" (/ bytes 1e6))))
                           bytes per-op?
                           (lambda () (json-string->scm text))
                           (lambda () (guile-json-decode text))))
                 ((encode encode-cap)
                  (compare (format #f "encode ~a" label)
                           out-bytes per-op?
                           (lambda () (scm->json-string value))
                           (lambda () (guile-json:scm->json-string value)))))
      (values (cons decode decode-cap) (cons encode encode-cap)))))

;; RATIO is (MEASURED . CAP), as bench-document returns them.
(define (target-show what ratio least)
  (format #t "  ~36a ~6,1fx  target >= ~ax: ~a; collections alone cap it at ~,1fx~%"
          what (car ratio) least
          (if (>= (car ratio) least) "met" "NOT met")
          (cdr ratio)))

(format #t "JSON codec: guile-lambda (C) against guile-json 4~%")
(format #t "~28a ~14@a ~14@a ~8@a   ~a~%"
        "" "ours" "guile-json" "ratio" "GC: ours  theirs")
(let-values (((event-decode event-encode)
              (bench-document "apigw-v2"
                              (read-text (string-append
                                          srcdir "/bench/data/apigw-v2.json"))
                              #t))
             ((large-decode large-encode)
              (bench-document "generated" (make-document 1000000) #f)))
  (format #t "targets (ratios to guile-json, same process, same run):~%")
  (target-show "decode, API Gateway v2 event" event-decode 30)
  (target-show "encode, API Gateway v2 event" event-encode 60)
  (target-show "decode, 1 MB document" large-decode 20))
(format #t "~%Both sides build the same values, in the same process.  GC is the
share of time libgc reports for its collections.  The cap is guile-json's
time over the time of our collections alone: what the ratio would be if
everything but our collections cost nothing.  `make bench' runs this
with the collector as guile-lambda sets it for a 128 MB function (an 8 MB
first heap, one marking thread: GC_INITIAL_HEAP_SIZE, GC_MARKERS); the
heap was ~a MB at the end.~%"
        (inexact->exact (round (/ (assq-ref (gc-stats) 'heap-size) 1e6))))
