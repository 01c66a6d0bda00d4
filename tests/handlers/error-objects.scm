;; Errors as a caller and the log see them: the trace of a raise, and
;; control characters in errorType and errorMessage.
(define (raise-with-trace event context)
  (error "failed on purpose:" 42))

(define (control-characters event context callback)
  (callback `(("errorType" . "Bad\x7fType\nX-Injected: yes")
              ("errorMessage" . "a\x7fb\nc\td"))))
