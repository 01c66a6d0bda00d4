(use-modules (srfi srfi-64) (tests lib tap) (guile-lambda core)
             ((json parser) #:prefix guile-json:)
             ((json builder) #:prefix guile-json:)
             (ice-9 textual-ports) (rnrs bytevectors) (srfi srfi-1)
             (srfi srfi-9))

;;; The JSON codec against guile-json, the oracle of DESIGN.md §5: on
;;; every document guile-json accepts we decode to an equal? value
;;; (equal? also compares exactness), what we encode decodes back to the
;;; same value with either parser, and everything that is not JSON is
;;; refused with a json-error.  guile-json comes in under a prefix
;;; because (guile-lambda core) exports the same two names.

(define srcdir
  (or (getenv "abs_top_srcdir")
      (dirname (dirname (dirname (current-filename))))))

(define (corpus-path name)
  (string-append srcdir "/tests/json/" name))

(define (read-text file)
  (call-with-input-file file get-string-all #:encoding "UTF-8"))

;; A record starts at a line "== name" (or a bare "==", when the
;; document names itself) and runs to the next one; the newline before
;; the next record is not part of the document.
(define (read-records file)
  (define text
    (let ((t (read-text file)))
      (if (string-suffix? "\n" t) (string-drop-right t 1) t)))
  (define (header? line) (string-prefix? "==" line))
  (define (finish name body records)
    (let ((doc (string-join (reverse body) "\n")))
      (cons (cons (or name (short-name doc)) doc) records)))
  (let loop ((lines (drop-while (lambda (l) (not (header? l)))
                                (string-split text #\newline)))
             (name #f) (body '()) (records '()) (started? #f))
    (cond
     ((null? lines)
      (reverse (if started? (finish name body records) records)))
     ((header? (car lines))
      (loop (cdr lines)
            (let ((n (string-trim-both (string-drop (car lines) 2))))
              (and (not (string-null? n)) n))
            '()
            (if started? (finish name body records) records)
            #t))
     (else
      (loop (cdr lines) name (cons (car lines) body) records started?)))))

;; A readable test name for a document: its text, escaped and cut short.
(define (short-name doc)
  (let ((s (with-output-to-string (lambda () (write doc)))))
    (if (> (string-length s) 60)
        (string-append (substring s 0 57) "...")
        s)))

(define (guile-json-decode text)
  (guile-json:json-string->scm text #:ordered #t))

;; Run THUNK; an exception becomes (error KEY) so that one bad case
;; fails its own test instead of ending the run.
(define (safely thunk)
  (catch #t thunk (lambda (key . args) (list 'error key))))

(define (error-key thunk)
  (catch #t (lambda () (thunk) 'no-error) (lambda (key . args) key)))

(define (error-message thunk)
  (catch 'json-error
    (lambda () (thunk) #f)
    (lambda (key subr fmt args rest) (apply format #f fmt args))))

(define (repeat-string s n)
  (string-concatenate (make-list n s)))

(define (nested-arrays n)
  (string-append (repeat-string "[" n) (repeat-string "]" n)))

(define (nested-objects n)
  (string-append (repeat-string "{\"a\":" n) "1" (repeat-string "}" n)))

(define (string-of-code-points pred? to-text)
  (string-append
   "\""
   (string-concatenate
    (filter-map (lambda (cp) (and (pred? cp) (to-text cp)))
                (iota #x10000)))
   "\""))

(define (not-surrogate? cp) (not (<= #xD800 cp #xDFFF)))

(define (escape-code-point cp)
  (string-append "\\u" (string-pad (number->string cp 16) 4 #\0)))

;; Documents easier to build than to write down.
(define generated-documents
  `(("nesting: 1 array" . ,(nested-arrays 1))
    ("nesting: 10 arrays" . ,(nested-arrays 10))
    ("nesting: 100 arrays" . ,(nested-arrays 100))
    ("nesting: 300 arrays" . ,(nested-arrays 300))
    ("nesting: 512 arrays (the limit)" . ,(nested-arrays 512))
    ("nesting: 100 objects" . ,(nested-objects 100))
    ("nesting: 300 objects" . ,(nested-objects 300))
    ("nesting: 512 objects (the limit)" . ,(nested-objects 512))
    ("nesting: 400 alternating" .
     ,(string-append (repeat-string "[{\"k\":" 200) "[]"
                     (repeat-string "}]" 200)))
    ("white space: CR LF" . "\r\n[\r\n1,\r\n2\r\n]\r\n")
    ("white space: mixed" . " \t\r\n{\"a\"\t:\r1 ,\n\"b\" :\t[ ]}\n\t ")
    ("white space: lone CRs" . "\r{\r\"a\"\r:\r[\r]\r}\r")
    ("byte order mark then object" . "\ufeff{}")
    ("byte order mark then space" . "\ufeff [1]")
    ("wide array: 1000 integers" .
     ,(string-append "[" (string-join (map number->string (iota 1000)) ",")
                     "]"))
    ("wide array: 600 strings" .
     ,(string-append "[" (string-join (make-list 600 "\"é\"") ",") "]"))
    ("wide object: 300 keys" .
     ,(string-append
       "{" (string-join (map (lambda (i) (format #f "\"k~a\":~a" i i))
                             (iota 300))
                        ",")
       "}"))
    ("string: 100000 ASCII characters" .
     ,(string-append "\"" (make-string 100000 #\x) "\""))
    ("string: 255 non-ASCII characters" .
     ,(string-append "\"" (make-string 255 #\λ) "\""))
    ("string: 256 non-ASCII characters" .
     ,(string-append "\"" (make-string 256 #\λ) "\""))
    ("string: 257 astral characters" .
     ,(string-append "\"" (make-string 257 #\x1F600) "\""))
    ("string: 10000 escapes" .
     ,(string-append "\"" (repeat-string "\\n\\u00e9" 5000) "\""))
    ("string: every BMP code point escaped" .
     ,(string-of-code-points not-surrogate? escape-code-point))
    ("string: every BMP code point raw" .
     ,(string-of-code-points
       (lambda (cp) (and (>= cp #x20) (not-surrogate? cp)
                         (not (memv cp '(#x22 #x5C)))))
       (lambda (cp) (string (integer->char cp)))))
    ("string: astral code points as surrogate pairs" .
     ,(string-append
       "\""
       (string-concatenate
        (map (lambda (cp)
               (let ((u (- cp #x10000)))
                 (string-append
                  (escape-code-point (+ #xD800 (ash u -10)))
                  (escape-code-point (+ #xDC00 (logand u #x3FF))))))
             (iota 200 #x10000 5000)))
       "\""))))

(define event-documents
  (map (lambda (file)
         (cons (string-append "event " file)
               (read-text (corpus-path (string-append "events/" file)))))
       '("apigw-v2-http.json" "apigw-v1-rest.json" "sqs.json" "s3-put.json"
         "sns.json" "dynamodb-stream.json" "eventbridge.json"
         "cloudwatch-logs.json" "kinesis.json" "alb.json"
         "cognito-pre-signup.json")))

(define valid-documents
  (append (read-records (corpus-path "valid.txt"))
          event-documents
          generated-documents))

(define invalid-documents
  (read-records (corpus-path "invalid.txt")))

;; Number texts drawn from a fixed seed, to sweep the number reader well
;; beyond the hand-written cases.
(define (random-number-texts count seed)
  (define state (seed->random-state seed))
  (define (digits n)
    (list->string (map (lambda (_) (integer->char (+ 48 (random 10 state))))
                       (iota n))))
  (define (integer-part)
    (let ((n (+ 1 (random 25 state))))
      (if (= n 1)
          (digits 1)
          (string-append (number->string (+ 1 (random 9 state)))
                         (digits (- n 1))))))
  (map (lambda (_)
         (string-append
          (if (zero? (random 2 state)) "" "-")
          (integer-part)
          (case (random 3 state)
            ((0) "")
            ((1) (string-append "." (digits (+ 1 (random 20 state)))))
            (else (string-append "." (make-string (+ 1 (random 3 state))
                                                  #\0))))
          (case (random 4 state)
            ((0) "")
            ((1) (format #f "e~a" (random 400 state)))
            ((2) (format #f "E-~a" (random 400 state)))
            (else (format #f "e+~a" (random 30 state))))))
       (iota count)))

(define (random-doubles count seed)
  (define state (seed->random-state seed))
  (define bv (make-bytevector 8))
  (let loop ((n 0) (acc '()))
    (if (= n count)
        acc
        (begin
          (bytevector-u64-native-set! bv 0 (random (expt 2 64) state))
          (let ((d (bytevector-ieee-double-native-ref bv 0)))
            (if (and (= d d) (not (inf? d)))
                (loop (+ n 1) (cons d acc))
                (loop n acc)))))))

;; Doubles spread over the range the C printer handles itself (about
;; 1e-17 to 1e34) and beyond it: few and many digits, integers, halves.
(define (printable-doubles count seed)
  (define state (seed->random-state seed))
  (define (pick n) (random n state))
  (map (lambda (i)
         (case (modulo i 5)
           ((0) (* (random 1.0 state) (expt 10. (- (pick 60) 25))))
           ((1) (/ (pick 100000) 8.))
           ((2) (exact->inexact (pick (expt 10 (+ 1 (pick 22))))))
           ((3) (- (* (pick 1000) (expt 10. (- (pick 50) 20)))))
           (else (* (random 1.0 state) (expt 2. (- (pick 400) 200))))))
       (iota count)))

(define (first-n n lst)
  (if (> (length lst) n) (take lst n) lst))

;; What a value comes back as after encoding and decoding.  guile-json
;; writes the inexact 15.0 as "15.0" and 1e21 as "1.0e21", and reads
;; both back as exact integers (zero fraction, no negative exponent), so
;; an inexact number returns as guile-json reads its printed form; every
;; other value returns as it was.
(define (json-normal-form v)
  (cond
   ((and (real? v) (inexact? v))
    (guile-json-decode (number->string v)))
   ((vector? v) (list->vector (map json-normal-form (vector->list v))))
   ((pair? v) (map (lambda (p) (cons (car p) (json-normal-form (cdr p)))) v))
   (else v)))

;; Decoding "1e999" gives +inf.0, which JSON cannot hold.
(define (has-infinity? v)
  (cond
   ((real? v) (inf? v))
   ((vector? v) (any has-infinity? (vector->list v)))
   ((pair? v) (any (lambda (p) (has-infinity? (cdr p))) v))
   (else #f)))

;; Does V hold a string with a control character?  guile-json writes
;; those raw (invalid JSON), so its text cannot match ours there.
(define (has-control-char? v)
  (cond
   ((string? v) (string-any (lambda (c) (char<? c #\space)) v))
   ((vector? v) (any has-control-char? (vector->list v)))
   ((pair? v) (any (lambda (p) (or (has-control-char? (car p))
                                   (has-control-char? (cdr p))))
                   v))
   (else #f)))

(define (invalid-utf8 . bytes)
  (u8-list->bytevector bytes))

;; Bytes after an opening quote, closed again: each must be refused.
(define invalid-utf8-strings
  `(("0xff" 255)
    ("0xfe" 254)
    ("0xc0 0xaf (overlong /)" #xC0 #xAF)
    ("0xc1 0xbf (overlong)" #xC1 #xBF)
    ("0xe0 0x80 0xaf (overlong)" #xE0 #x80 #xAF)
    ("0xf0 0x80 0x80 0xaf (overlong)" #xF0 #x80 #x80 #xAF)
    ("0xed 0xa0 0x80 (encoded high surrogate)" #xED #xA0 #x80)
    ("0xed 0xbf 0xbf (encoded low surrogate)" #xED #xBF #xBF)
    ("0xf4 0x90 0x80 0x80 (above U+10FFFF)" #xF4 #x90 #x80 #x80)
    ("0xf5 0x80 0x80 0x80" #xF5 #x80 #x80 #x80)
    ("0xf8 (5-byte lead)" #xF8 #x88 #x80 #x80 #x80)
    ("lone continuation 0x80" #x80)
    ("lone continuation 0xbf" #xBF)
    ("truncated 2-byte" #xC3)
    ("truncated 3-byte" #xE2 #x82)
    ("truncated 4-byte" #xF0 #x9F #x98)
    ("lead then ASCII" #xC3 #x41)
    ("latin-1 é" #xE9)))

(define (wrap-bytes prefix bytes suffix)
  (u8-list->bytevector
   (append (bytevector->u8-list (string->utf8 prefix))
           bytes
           (bytevector->u8-list (string->utf8 suffix)))))

(define (foo) 1)

(define-record-type <point> (make-point x y) point? (x point-x) (y point-y))

(define encode-cases
  `(("null" null "null")
    ("true" #t "true")
    ("false" #f "false")
    ("#nil is false, as in guile-json" #nil "false")
    ("empty alist is {}" () "{}")
    ("empty vector is []" #() "[]")
    ("symbol value is a string" foo "\"foo\"")
    ("alist with string and symbol keys" (("a" . 1) (b . #t))
     "{\"a\":1,\"b\":true}")
    ("duplicate keys kept" (("a" . 1) ("a" . 2)) "{\"a\":1,\"a\":2}")
    ("nested" (("v" . #(1 "x" (("y" . null)) #())))
     "{\"v\":[1,\"x\",{\"y\":null},[]]}")
    ("fixnum max" ,most-positive-fixnum ,(number->string most-positive-fixnum))
    ("fixnum min" ,most-negative-fixnum ,(number->string most-negative-fixnum))
    ("bignum" ,(expt 2 100) "1267650600228229401496703205376")
    ("negative bignum" ,(- (expt 10 40))
     ,(string-append "-1" (make-string 40 #\0)))
    ("zero" 0 "0")
    ("1/3 is written inexact" 1/3 "0.3333333333333333")
    ("1/2" 1/2 "0.5")
    ("-7/4" -7/4 "-1.75")
    ("0.1" 0.1 "0.1")
    ("1.0" 1.0 "1.0")
    ("-0.0" -0.0 "-0.0")
    ("1e21" 1e21 "1.0e21")
    ("1e-7" 1e-7 "1.0e-7")
    ("5e-324" 5e-324 "5.0e-324")
    ("double max" 1.7976931348623157e308 "1.7976931348623157e308")
    ("short escapes" "\"\\\b\f\n\r\t/" "\"\\\"\\\\\\b\\f\\n\\r\\t/\"")
    ("other controls as \\u00XX" "\x00\x01\x1f" "\"\\u0000\\u0001\\u001f\"")
    ("DEL is raw" "\x7f" "\"\x7f\"")
    ("non-ASCII is raw UTF-8" "é€😀" "\"é€😀\"")
    ("key escapes" (("a\"b\n" . 1)) "{\"a\\\"b\\n\":1}")
    ("Latin-1 output switches to UTF-8 at a wide string"
     (("é" . #("ÿ" "😀" "é")))  "{\"é\":[\"ÿ\",\"😀\",\"é\"]}")
    ("2^-25, a tie, rounds to even" ,(expt 2. -25) "2.9802322387695312e-8")
    ("1e7" 1e7 "1.0e7")
    ("12345678.0" 12345678. "12345678.0")
    ("1.2e7" 1.2e7 "1.2e7")
    ("99140100.0" 99140100. "99140100.0")
    ("0.001" 0.001 "0.001")
    ("1.5e-4" 1.5e-4 "1.5e-4")
    ("1e300 goes through number->string" 1e300 "1.0e300")))

(define (circular-vector)
  (let ((v (vector 1 2)))
    (vector-set! v 1 v)
    v))

(define (circular-alist)
  (let ((l (list (cons "a" 1) (cons "b" 2))))
    (set-cdr! (cdr l) l)
    l))

(define (deep-vector n)
  (let loop ((n n) (v #()))
    (if (zero? n) v (loop (- n 1) (vector v)))))

(define bad-encode-cases
  `(("procedure" ,foo)
    ("list that is not an alist" (1 2 3))
    ("alist with a non-pair member" (("a" . 1) 2))
    ("improper alist" (("a" . 1) . 2))
    ("circular alist" ,(circular-alist))
    ("character" #\a)
    ("keyword" #:kw)
    ("number key" ((1 . 2)))
    ("character key" ((#\a . 2)))
    ("list key" ((("a") . 2)))
    ("NaN" +nan.0)
    ("+inf.0" +inf.0)
    ("-inf.0" -inf.0)
    ("complex" 1.0+2.0i)
    ("bytevector" #vu8(1 2))
    ("hash table" ,(make-hash-table))
    ("record" ,(make-point 1 2))
    ("unspecified" ,(if #f #f))
    ("end of file" ,the-eof-object)
    ("bad value deep inside" (("a" . #(1 (("b" . ,foo))))))
    ("circular vector" ,(circular-vector))
    ("nesting 513 vectors" ,(deep-vector 513))))

(run-tests
 "json"
 (lambda ()

   (test-group "decode agrees with guile-json"
     (for-each
      (lambda (record)
        (let ((doc (cdr record)))
          (test-equal (car record)
            (safely (lambda () (guile-json-decode doc)))
            (safely (lambda () (json-string->scm doc))))))
      valid-documents))

   (test-equal "decode: corpus has at least 200 documents" #t
     (>= (length valid-documents) 200))

   (test-equal "decode: bytevector input decodes like string input" '()
     (filter-map (lambda (record)
                   (let ((doc (cdr record)))
                     (and (not (equal? (safely (lambda ()
                                                 (json-string->scm doc)))
                                       (safely (lambda ()
                                                 (json-string->scm
                                                  (string->utf8 doc))))))
                          (car record))))
                 valid-documents))

   ;; A string with escapes is read as bytes while its characters fit
   ;; in Latin-1, and widened at the first that does not: each piece at
   ;; each place, the text given as a string and as UTF-8 bytes.
   (let* ((pieces '("plain run " "\\u00e9" "\\n" "\\u2615" "ü"
                    "\\ud83d\\ude00" "😀" "\\\"" "x"))
          (texts
           (append-map
            (lambda (a)
              (append-map
               (lambda (b)
                 (map (lambda (c) (string-append "[\"" a b c "\"]"))
                      pieces))
               pieces))
            pieces)))
     (test-equal "decode: escapes, Latin-1 and wider, in every order" '()
       (filter (lambda (text)
                 (let ((expected (guile-json-decode text)))
                   (not (and (equal? expected (json-string->scm text))
                             (equal? expected
                                     (json-string->scm
                                      (string->utf8 text)))))))
               texts)))

   (test-equal "decode: 4000 random numbers agree with guile-json" '()
     (first-n 5
      (filter (lambda (text)
                (not (equal? (safely (lambda () (guile-json-decode text)))
                             (safely (lambda () (json-string->scm text))))))
              (random-number-texts 4000 42))))

   ;; As guile-json reads them (json-normal-form), and the same double.
   (test-equal "decode: random doubles' printed forms read back exactly" '()
     (first-n 5
      (filter (lambda (d)
                (let* ((text (number->string d))
                       (ours (json-string->scm text)))
                  (not (and (eqv? (json-normal-form d) ours)
                            (= d (exact->inexact ours))))))
              (random-doubles 2000 7))))

   ;; Compared with json-normal-form: see there.  Values holding an
   ;; infinity must be refused instead.
   (test-group "encode round-trips through both decoders"
     (for-each
      (lambda (record)
        (let ((v (safely (lambda () (json-string->scm (cdr record))))))
          (if (has-infinity? v)
              (test-equal (car record) 'json-error
                (error-key (lambda () (scm->json-string v))))
              (test-equal (car record)
                (list (json-normal-form v) (json-normal-form v))
                (let ((text (safely (lambda () (scm->json-string v)))))
                  (if (string? text)
                      (list (safely (lambda () (json-string->scm text)))
                            (safely (lambda () (guile-json-decode text))))
                      text))))))
      valid-documents))

   (test-equal "encode: same text as guile-json where its text is JSON" '()
     (filter-map
      (lambda (record)
        (let ((v (json-string->scm (cdr record))))
          (and (not (has-control-char? v))
               (not (has-infinity? v))
               (not (equal? (scm->json-string v)
                            (guile-json:scm->json-string v)))
               (car record))))
      valid-documents))

   (test-equal "encode: random doubles round-trip exactly, same text" '()
     (first-n 5
      (filter (lambda (d)
                (let ((text (scm->json-string d))
                      (back (json-normal-form d)))
                  (not (and (eqv? back (json-string->scm text))
                            (eqv? back (guile-json-decode text))
                            (string=? text (guile-json:scm->json-string d))))))
              (random-doubles 2000 11))))

   (test-equal "encode: doubles are written as number->string writes them"
     '()
     (first-n 5
      (filter (lambda (d)
                (not (string=? (scm->json-string d) (number->string d))))
              (printable-doubles 50000 3))))

   (test-group "encode: values"
     (for-each
      (lambda (case)
        (test-equal (car case) (caddr case)
          (safely (lambda () (scm->json-string (cadr case))))))
      encode-cases))

   (test-group "reject"
     (for-each
      (lambda (record)
        (test-equal (car record) 'json-error
          (error-key (lambda () (json-string->scm (cdr record))))))
      invalid-documents))

   (test-equal "reject: the same documents as UTF-8 bytevectors" '()
     (filter-map (lambda (record)
                   (and (not (eq? 'json-error
                                  (error-key
                                   (lambda ()
                                     (json-string->scm
                                      (string->utf8 (cdr record)))))))
                        (car record)))
                 invalid-documents))

   ;; The supervisor only checks events and responses (gl_json_check):
   ;; it must accept and refuse exactly what the decoder does, and say
   ;; the same.
   (test-equal "check: accepts every valid document" '()
     (filter-map (lambda (record)
                   (and (not (eq? #t (%json-check (string->utf8 (cdr record)))))
                        (car record)))
                 valid-documents))
   (test-equal "check: refuses every invalid one with the decoder's message"
     '()
     (filter-map (lambda (record)
                   (let ((bv (string->utf8 (cdr record))))
                     (and (not (equal? (%json-check bv)
                                       (error-message
                                        (lambda () (json-string->scm bv)))))
                          (car record))))
                 invalid-documents))
   (test-equal "check: 4000 random numbers as the decoder sees them" '()
     (first-n 5
      (filter (lambda (text)
                (let ((bv (string->utf8 text)))
                  (not (equal? (%json-check bv)
                               (or (error-message
                                    (lambda () (json-string->scm bv)))
                                   #t)))))
              (random-number-texts 4000 7))))

   (test-group "reject invalid UTF-8"
     (for-each
      (lambda (case)
        (test-equal (string-append "in a string: " (car case)) 'json-error
          (error-key (lambda ()
                       (json-string->scm (wrap-bytes "[\"a" (cdr case)
                                                     "b\"]")))))
        (test-equal (string-append "in a key: " (car case)) 'json-error
          (error-key (lambda ()
                       (json-string->scm (wrap-bytes "{\"" (cdr case)
                                                     "\":1}")))))
        (test-equal (string-append "outside strings: " (car case))
          'json-error
          (error-key (lambda ()
                       (json-string->scm (wrap-bytes "[1," (cdr case)
                                                     "]"))))))
      invalid-utf8-strings))

   (test-equal "reject: raw control characters U+0000..U+001F in strings" '()
     (filter (lambda (cp)
               (not (eq? 'json-error
                         (error-key
                          (lambda ()
                            (json-string->scm
                             (string #\" #\a (integer->char cp) #\b
                                     #\")))))))
             (iota 32)))

   (test-equal "reject: 513 nested arrays" 'json-error
     (error-key (lambda () (json-string->scm (nested-arrays 513)))))
   (test-equal "reject: 513 nested objects" 'json-error
     (error-key (lambda () (json-string->scm (nested-objects 513)))))
   (test-equal "reject: 100000 open brackets, no crash" 'json-error
     (error-key (lambda ()
                  (json-string->scm (make-string 100000 #\[)))))
   (test-equal "reject: 100000 nested arrays, no crash" 'json-error
     (error-key (lambda () (json-string->scm (nested-arrays 100000)))))

   ;; Every proper prefix of a document that ends in a closing bracket
   ;; is incomplete, so each one must be refused.
   (for-each
    (lambda (name)
      (let* ((doc (string-trim-right (cdr (assoc name valid-documents))))
             (bytes (string->utf8 doc)))
        (test-equal (string-append "reject every truncation of " name) '()
          (first-n 5
           (filter (lambda (n)
                     (not (eq? 'json-error
                               (error-key
                                (lambda ()
                                  (json-string->scm
                                   (u8-list->bytevector
                                    (take (bytevector->u8-list bytes)
                                          n))))))))
                   (iota (bytevector-length bytes)))))))
    '("event apigw-v2-http.json" "event sqs.json"
      "event cognito-pre-signup.json" "json.org glossary"
      "twitter-like status with escapes" "long UTF-8 string"
      "mixed escapes and raw UTF-8" "nesting: 300 objects"))

   (test-group "error messages say what and where"
     (test-equal "unterminated string"
       "JSON: unterminated string starting at line 1, column 7"
       (error-message (lambda () (json-string->scm "{\"a\": \"abc"))))
     (test-equal "invalid UTF-8"
       "JSON: invalid UTF-8 byte 0xff at byte offset 2 (line 1, column 3)"
       (error-message (lambda () (json-string->scm #vu8(91 34 255 34 93)))))
     (test-equal "nesting"
       "JSON: nesting deeper than 512 levels at line 1, column 513"
       (error-message (lambda () (json-string->scm (nested-arrays 600)))))
     (test-equal "line and column"
       "JSON: unexpected 'x', expected a JSON value at line 3, column 3"
       (error-message (lambda () (json-string->scm "[\n1,\n  x]"))))
     (test-equal "columns count characters, not bytes"
       "JSON: unexpected 'x', expected a JSON value at line 1, column 7"
       (error-message (lambda () (json-string->scm "[\"é\", x]"))))
     (test-equal "lone surrogate"
       "JSON: lone low surrogate \\uDC00 at line 1, column 2"
       (error-message (lambda () (json-string->scm "\"\\uDC00\""))))
     (test-equal "trailing garbage"
       "JSON: unexpected 'x', expected the end after the JSON value at line 1, column 4"
       (error-message (lambda () (json-string->scm "{} x"))))
     (test-equal "tildes in the text are safe"
       "JSON: unexpected '~', expected a JSON value at line 1, column 1"
       (error-message (lambda () (json-string->scm "~a")))))

   ;; The decoder builds strings, pairs and vectors on the thread's own
   ;; freelists and the encoder reads strings in place (src/core/json.c):
   ;; what it builds must be ordinary, independent Guile values, and
   ;; every kind of string Guile makes must encode as guile-json does.
   (test-group "strings built and read in place"
     (let* ((text "[\"abc\",\"abc\",\"\"]")
            (v (json-string->scm text)))
       (string-set! (vector-ref v 0) 0 #\x)
       (test-equal "a decoded string is mutable" "xbc" (vector-ref v 0))
       (test-equal "and shares nothing with its neighbour" "abc"
         (vector-ref v 1))
       (test-equal "nor with the next decode of the same text" "abc"
         (vector-ref (json-string->scm text) 0))
       (string-set! (vector-ref v 1) 1 #\λ)
       (test-equal "a string widened by string-set! encodes as UTF-8"
         "[\"xbc\",\"aλc\",\"\"]" (scm->json-string v))
       (test-equal "the empty string, which shares nothing, decodes too"
         "" (vector-ref v 2)))
     (let* ((text (string-copy "[\"abc\",{\"k\":\"v\"}]"))
            (v (json-string->scm text)))
       (string-set! text 2 #\X)
       (test-equal "mutating the text leaves what it decoded to"
         #("abc" (("k" . "v"))) v)
       (let ((w (json-string->scm text)))
         (string-set! text 2 #\Y)
         (test-equal "so does mutating a text already mutated once"
           #("Xbc" (("k" . "v"))) w)))
     (let* ((bv (string->utf8 "[\"abc\",\"déf\"]"))
            (v (json-string->scm bv)))
       (bytevector-u8-set! bv 2 (char->integer #\X))
       (test-equal "and mutating the bytevector" #("abc" "déf") v))
     (test-equal "a text that is a substring of another"
       #("abc" "de")
       (json-string->scm (substring "xx[\"abc\",\"de\"]" 2)))
     (test-equal "a text that is a shared substring"
       #("abc" "de")
       (json-string->scm (substring/shared "xx[\"abc\",\"de\"]yy" 2 14)))
     (let ((big (string-append
                 "[" (string-join (map (lambda (i) (format #f "\"s~a\"" i))
                                       (iota 40000))
                                  ",")
                 "]")))
       (test-assert "the long text is over 256 KiB, past the sharing limit"
         (> (string-length big) (* 256 1024)))
       (test-equal "decodes as guile-json does"
         (guile-json-decode big) (json-string->scm big)))
     (let ((base (string-copy "0123456789")))
       (for-each
        (lambda (case)
          (test-equal (car case)
            (guile-json:scm->json-string (cdr case))
            (scm->json-string (cdr case))))
        `(("a shared substring" . ,(substring/shared base 2 7))
          ("a copy-on-write substring" . ,(substring base 3))
          ("a literal, read-only string" . "literal")
          ("a symbol's name" . ,(symbol->string 'a-symbol))
          ("a string made by make-string" . ,(make-string 3 #\é))
          ("a string from string->utf8 and back" .
           ,(utf8->string (string->utf8 "naïve 😀"))))))
     ;; Each character that must be escaped, at each position of strings
     ;; of 1 to 40 characters, with such characters just before the
     ;; string too: the scanner reads short runs as the sixteen bytes
     ;; that end where they end, and must see only their own.
     (let* ((stops (list #\" #\\ #\newline #\x01 #\x1f #\é))
            (junk "\"\\\n\x01\"\\\n\x01\"\\\n\x01\"\\\n\x01")
            (cases
             (append-map
              (lambda (n)
                (append-map
                 (lambda (i)
                   (map (lambda (c)
                          (let ((s (make-string n #\a)))
                            (string-set! s i c)
                            (substring/shared (string-append junk s)
                                              (string-length junk))))
                        stops))
                 (iota n)))
              (iota 40 1)))
            (plain (map (lambda (n)
                          (substring/shared
                           (string-append junk (make-string n #\a))
                           (string-length junk)))
                        (iota 40 1))))
       (test-equal "every escape at every place round-trips" '()
         (filter (lambda (s)
                   (not (equal? s (json-string->scm (scm->json-string s)))))
                 (append cases plain)))
       (test-equal "and is written as guile-json writes it" '()
         (filter (lambda (s)
                   ;; (string-any on a shared substring misses its last
                   ;; character in Guile 3.0.8, so a list.)
                   (and (not (any (lambda (c) (char<? c #\space))
                                  (string->list s)))
                        (not (string=? (scm->json-string s)
                                       (guile-json:scm->json-string s)))))
                 (append cases plain)))
       (test-equal "a short last string after escapes decodes" '()
         (filter (lambda (s)
                   (not (equal? (vector "\"\\" s)
                                (json-string->scm
                                 (string-append "[\"\\\"\\\\\","
                                                (scm->json-string s) "]")))))
                 (append cases plain))))
;; The decoder builds its values in Guile's own layout, checked at
     ;; start-up (layout_probe), and its plain strings share the text's
     ;; storage; where the check failed, strings would take the public
     ;; path, with a buffer of their own each: 32 bytes or more apiece.
     (let* ((text (read-text (corpus-path "events/apigw-v2-http.json")))
            (value (json-string->scm text))
            (count 2000))
       (define (round16 n) (* 16 (quotient (+ n 15) 16)))
       (define (least-bytes v)
         ;; A string is a double cell; a member two pairs and its key.
         (cond ((string? v) 32)
               ((vector? v)
                (+ (round16 (* 8 (+ 1 (vector-length v))))
                   (apply + (map least-bytes (vector->list v)))))
               ((pair? v)
                (apply + (map (lambda (m) (+ 64 (least-bytes (cdr m)))) v)))
               ((and (number? v) (inexact? v)) 16)
               (else 0)))
       (define (strings v)
         (cond ((string? v) 1)
               ((vector? v) (apply + (map strings (vector->list v))))
               ((pair? v) (apply + (map (lambda (m) (+ 1 (strings (cdr m))))
                                        v)))
               (else 0)))
       (define (allocated) (assq-ref (gc-stats) 'heap-total-allocated))
       (let ((before (allocated)))
         (do ((i 0 (+ i 1))) ((= i count)) (json-string->scm text))
         (let ((each (/ (- (allocated) before) count))
               (bound (+ (least-bytes value) (* 16 (strings value)))))
           (format #t "# ~,1f bytes per decode; the values need ~a~%"
                   (exact->inexact each) (least-bytes value))
           (test-assert "strings share the text: little beyond the values"
             (< each bound)))))
     (test-equal "10,000 decoded documents survive collections intact" '()
       (let* ((docs (map (lambda (i)
                           (format #f "{\"k~a\":[\"v~a\",~a]}" i i i))
                         (iota 10000)))
              (decoded (map json-string->scm docs)))
         (gc) (gc)
         (filter-map (lambda (doc value)
                       (and (not (equal? (guile-json-decode doc) value))
                            doc))
                     docs decoded))))

   (test-equal "decode: a number is a wrong-type-arg, not json-error"
     'wrong-type-arg
     (error-key (lambda () (json-string->scm 42))))

   (test-group "encode: refuse"
     (for-each
      (lambda (case)
        (test-equal (car case) 'json-error
          (error-key (lambda () (scm->json-string (cadr case))))))
      bad-encode-cases))

   (test-group "encode: error messages"
     (test-equal "names the value and what JSON accepts"
       "cannot encode #<procedure foo ()> as JSON: use alists, vectors, strings, numbers, #t, #f or 'null"
       (error-message (lambda () (scm->json-string `(("f" . ,foo))))))
     (test-equal "names a bad key"
       "cannot encode 1 as a JSON object key: keys must be strings or symbols"
       (error-message (lambda () (scm->json-string '((1 . 2))))))
     (test-assert "a huge value is cut short"
       (< (string-length
           (error-message (lambda ()
                            (scm->json-string (iota 100000)))))
          300)))))
