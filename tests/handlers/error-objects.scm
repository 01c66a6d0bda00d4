;; Errors as a caller sees them: control characters in errorType and
;; errorMessage.
(define (control-characters event context callback)
  (callback `(("errorType" . "Bad\x7fType\nX-Injected: yes")
              ("errorMessage" . "a\x7fb\nc\td"))))
