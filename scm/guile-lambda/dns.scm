;;; (guile-lambda dns): host name lookup of (guile-lambda), with the
;;; system's resolver (getaddrinfo) on libuv's thread pool, as Node's
;;; dns.lookup.
(define-module (guile-lambda dns)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export (dns-lookup))

;; (dns-lookup HOST PROC): call (PROC #f ADDRESSES) with HOST's
;; addresses in the resolver's order, each once, as alists
;; ((address . "127.0.0.1") (family . ipv4)); or (PROC ERR #f), ERR's
;; code being libuv's, such as "EAI_NONAME" for an unknown host.
(define-origin-recording dns-lookup %dns-lookup)
