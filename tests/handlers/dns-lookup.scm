;; Host name lookups: `handler' awaits (return style), `callback-handler'
;; uses a Node-style completion procedure.  This machine may have no
;; network: only names that /etc/hosts or the resolver answer locally.
(use-modules (ice-9 exceptions))

(define (address->json a)
  `(("address" . ,(assq-ref a 'address))
    ("family" . ,(symbol->string (assq-ref a 'family)))))

(define (handler event context)
  (let ((host (assoc-ref event "host")))
    (if (assoc-ref event "catch")
        (guard (e ((uv-error? e)
                   `(("code" . ,(uv-error-code e))
                     ("message" . ,(exception-message e)))))
          (await dns-lookup host))
        (list->vector (map address->json (await dns-lookup host))))))

(define (callback-handler event context callback)
  (let ((req (dns-lookup (assoc-ref event "host")
                         (lambda (err addresses)
                           (callback err (and addresses
                                              (length addresses)))))))
    (display (handle-describe req))
    (newline)
    (format #t "details ~s listed ~a~%" (handle-details req)
            (and (memq req (active-requests)) #t))))
