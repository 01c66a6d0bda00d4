;;; own-module.scm: a handler file with a module of its own.  Its
;;; define-module must use (guile-lambda); what else it imports, here
;;; SRFI-1 as it is and (rnrs bytevectors) under a prefix, the rest of
;;; the file can use.
;;;
;;;   guile-lambda invoke examples/own-module.scm '{"words": ["fig", "apple", "kiwi"]}'

(define-module (examples own-module)
  #:use-module (guile-lambda)
  #:use-module (srfi srfi-1)
  #:use-module ((rnrs bytevectors) #:prefix bv:))

(define (handler event context)
  (let ((words (vector->list (or (assoc-ref event "words") #()))))
    `(("count" . ,(length words))
      ("longest" . ,(longest words))
      ("utf8Bytes" . ,(fold + 0 (map utf8-length words))))))

(define (longest words)
  (fold (lambda (word best)
          (if (> (string-length word) (string-length best)) word best))
        "" words))

(define (utf8-length word)
  (bv:bytevector-length (bv:string->utf8 word)))
