;;; Host name lookups through the system resolver: localhost and
;;; literal addresses succeed without a network; a name under the
;;; reserved .invalid domain (RFC 6761) fails, as soon as the resolver
;;; says so.  How long that takes is the resolver's business: the
;;; lookups of such names get a timeout long enough for a slow one.
(use-modules (srfi srfi-1)
             (srfi srfi-64)
             (ice-9 regex)
             (tests lib tap)
             (tests lib cli))

(define (lookup host . more)
  (guile-lambda "invoke" (fixture "dns-lookup.scm")
                (string-append "{\"host\":\"" host "\""
                               (if (null? more) "" (car more)) "}")
                "--timeout" "30"))

(define unknown-host "no-such-host.invalid")

;; Seconds the system resolver takes to fail on HOST, asked from here.
(define (resolver-seconds host)
  (let ((t0 (get-internal-real-time)))
    (catch #t (lambda () (getaddrinfo host)) (lambda _ #f))
    (exact->inexact (/ (- (get-internal-real-time) t0)
                       internal-time-units-per-second))))

(define (every-address? addresses ok?)
  (and (vector? addresses)
       (every ok? (vector->list addresses))))

(run-tests "dns"
 (lambda ()
   (let* ((r (lookup "localhost"))
          (addresses (run-json r)))
     (test-equal "localhost: success" 0 (run-status r))
     (test-assert "localhost: a vector of addresses"
                  (and (vector? addresses) (> (vector-length addresses) 0)))
     (test-assert "localhost: loopback addresses only"
                  (every-address? addresses
                                  (lambda (a)
                                    (member (json-ref a "address")
                                            '("127.0.0.1" "::1")))))
     (test-assert "localhost: each with its family"
                  (every-address? addresses
                                  (lambda (a)
                                    (equal? (json-ref a "family")
                                            (if (string-index (json-ref a "address") #\:)
                                                "ipv6" "ipv4")))))
     (test-assert "localhost: no address twice"
                  (let ((l (map (lambda (a) (json-ref a "address"))
                                (vector->list addresses))))
                    (equal? l (delete-duplicates l)))))
   (test-equal "an IPv4 literal" #((("address" . "127.0.0.1") ("family" . "ipv4")))
               (run-json (lookup "127.0.0.1")))
   (test-equal "an IPv6 literal" #((("address" . "::1") ("family" . "ipv6")))
               (run-json (lookup "::1")))

   (let* ((r (lookup unknown-host ",\"catch\":true"))
          (v (run-json r)))
     (test-equal "unknown host: caught at the await" 0 (run-status r))
     ;; EAI_NONAME here; a resolver that cannot reach its server may
     ;; say EAI_AGAIN.
     (test-assert "unknown host: getaddrinfo's error code"
                  (member (json-ref v "code") '("EAI_NONAME" "EAI_AGAIN")))
     (test-assert "unknown host: the message names the lookup and the host"
                  (string-match "^dns-lookup EAI_[A-Z]+ no-such-host\\.invalid: "
                                (json-ref v "message")))
     (test-assert "unknown host: no later than the resolver answers, give or take a second"
                  (let ((ms (report-duration r))
                        (resolver (resolver-seconds unknown-host)))
                    (and ms (< ms (* 1000 (+ resolver 1)))))))
   (let ((r (lookup unknown-host)))
     (test-equal "unknown host uncaught: the invocation fails" 1 (run-status r))
     (test-equal "unknown host uncaught: a uv-error" "uv-error"
                 (json-ref (run-json r) "errorType")))
   (let ((r (lookup "")))
     (test-equal "an empty host name: fails" 1 (run-status r))
     (test-assert "an empty host name: says why"
                  (string-contains (json-ref (run-json r) "errorMessage")
                                   "bad host name")))

   (let ((r (lookup (make-string 300 #\a))))
     (test-equal "a name too long to resolve: fails at once" 1 (run-status r))
     (test-assert "a name too long to resolve: libuv's EINVAL, raised"
                  (string-prefix? "dns-lookup EINVAL aaaa"
                                  (json-ref (run-json r) "errorMessage"))))

   (let ((r (guile-lambda "invoke" (fixture "dns-lookup.scm:callback-handler")
                          "{\"host\":\"localhost\"}")))
     (test-equal "callback style: success" 0 (run-status r))
     (test-assert "callback style: the number of addresses"
                  (> (run-json r) 0))
     (test-assert "in flight: a getaddrinfo request with its host, origin and request"
                  (stderr-has? r (string-append
                                  "INFO\tgetaddrinfo #[0-9]+ \\(host localhost\\), created at .*dns-lookup.scm:20:14 during request "
                                  (or (run-request-id r) "?") "$")))
     (test-assert "in flight: its details and active-requests"
                  (stderr-has? r "INFO\tdetails \\(\\(host \\. \"localhost\"\\)\\) listed #t")))
   (let ((r (guile-lambda "invoke" (fixture "dns-lookup.scm:callback-handler")
                          (string-append "{\"host\":\"" unknown-host "\"}")
                          "--timeout" "30")))
     (test-equal "callback style, unknown host: fails" 1 (run-status r))
     (test-assert "callback style, unknown host: the message names the host"
                  (string-contains (json-ref (run-json r) "errorMessage")
                                   unknown-host)))))
