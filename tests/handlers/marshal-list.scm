;; Results that are lists meant as JSON arrays, at the top and nested.
(define (handler event context)
  (let ((case (assoc-ref event "case")))
    (cond
     ((equal? case "nested") `(("items" . ,(list 1 2 3))))
     ((equal? case "procedure") (vector (lambda () 1)))
     (else (list 1 2 3)))))
