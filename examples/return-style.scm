;;; return-style.scm: a handler of two arguments returns its result; no
;;; callback, and the flag has no effect.  It answers an API Gateway
;;; HTTP API (v2) event whose body is a JSON list of numbers.
;;;
;;;   guile-lambda invoke examples/return-style.scm \
;;;     '{"body": "[1, 2, 3.5]", "requestContext": {"http": {"method": "POST"}}}'

(define (response status body)
  `(("statusCode" . ,status)
    ("headers" . (("content-type" . "application/json")))
    ("body" . ,(scm->json-string body))))

(define (handler event context)
  (let* ((body (assoc-ref event "body"))
         (numbers (and (string? body)
                       (false-if-exception (json-string->scm body)))))
    (if (and (vector? numbers) (vector-every number? numbers))
        (let ((total (apply + (vector->list numbers))))
          (response 200 `(("count" . ,(vector-length numbers))
                          ("sum" . ,total)
                          ("requestId" . ,(context-aws-request-id context)))))
        (response 400 '(("error" . "the body must be a JSON array of numbers"))))))

(define (vector-every pred v)
  (let loop ((i 0))
    (or (= i (vector-length v))
        (and (pred (vector-ref v i)) (loop (+ i 1))))))
