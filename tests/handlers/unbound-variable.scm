;; A forward reference (later-defined) is fine; a variable that nothing
;; defines (undefined-helper, on line 6) is worth a warning at init.
(define (handler event context)
  (if (assoc-ref event "broken")
      (later-defined
       (undefined-helper event))
      (later-defined "fine")))

(define (later-defined x)
  x)
