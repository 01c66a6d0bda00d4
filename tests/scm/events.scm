;;; (guile-lambda events): every sample event survives the JSON codec,
;;; has the fields its handlers read, is fresh on each call; aliases and
;;; keywords work; an unknown kind is refused with the list of kinds.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (guile-lambda events)
             (guile-lambda core)
             (ice-9 exceptions)
             (ice-9 regex)
             (srfi srfi-1))

(define (ref json . keys)
  "Follow KEYS (strings for objects, integers for arrays) into JSON."
  (fold (lambda (key value)
          (if (integer? key)
              (vector-ref value key)
              (assoc-ref value key)))
        json keys))

(define (now-ms)
  (let ((tv (gettimeofday)))
    (+ (* 1000 (car tv)) (quotient (cdr tv) 1000))))

(define (recent-ms? ms)
  (and (integer? ms) (< (abs (- ms (now-ms))) 60000)))

(define (matches? pattern string)
  (and (string? string) (string-match pattern string) #t))

(define %uuid
  "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
(define %iso-8601-ms
  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")
(define %iso-8601
  "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
(define %common-log-time
  "^[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000$")

(define (this-year)
  (number->string (+ 1900 (tm:year (gmtime (current-time))))))

;; Where each kind keeps the id that must be fresh on every call.
(define %id-paths
  '(("apigw-v2" "requestContext" "requestId")
    ("apigw-v1" "requestContext" "requestId")
    ("sqs" "Records" 0 "messageId")
    ("s3-put" "Records" 0 "responseElements" "x-amz-request-id")
    ("eventbridge-scheduled" "id")
    ("sns" "Records" 0 "Sns" "MessageId")
    ("dynamodb" "Records" 0 "eventID")))

(define (error-message thunk)
  "The message of the error THUNK raises, or #f if it returns."
  (with-exception-handler
      (lambda (e)
        (and (error? e) (exception-with-message? e) (exception-message e)))
    (lambda () (thunk) #f)
    #:unwind? #t))

(run-tests "events"
 (lambda ()
   (test-assert "the kinds include the four the REPL promises"
                (lset<= string=? '("apigw-v2" "sqs" "s3-put"
                                   "eventbridge-scheduled")
                        (event-template-kinds)))
   (test-assert "and apigw-v1, sns, dynamodb"
                (lset<= string=? '("apigw-v1" "sns" "dynamodb")
                        (event-template-kinds)))

   (for-each
    (lambda (kind)
      (let ((event (event-template kind)))
        (test-equal (string-append kind ": round-trips through the codec")
                    event (json-string->scm (scm->json-string event)))))
    (event-template-kinds))

   (for-each
    (lambda (id-path)
      (let* ((kind (car id-path))
             (first (apply ref (event-template kind) (cdr id-path)))
             (second (apply ref (event-template kind) (cdr id-path))))
        (test-assert (string-append kind ": the id is a string") (string? first))
        (test-assert (string-append kind ": fresh on every call")
                     (not (equal? first second)))))
    %id-paths)

   (let ((event (event-template "apigw-v2")))
     (test-equal "apigw-v2: version" "2.0" (ref event "version"))
     (test-equal "apigw-v2: routeKey" "$default" (ref event "routeKey"))
     (test-equal "apigw-v2: rawPath" "/path/to/resource" (ref event "rawPath"))
     (test-equal "apigw-v2: method" "POST"
                 (ref event "requestContext" "http" "method"))
     (test-equal "apigw-v2: account" "123456789012"
                 (ref event "requestContext" "accountId"))
     (test-assert "apigw-v2: domain in us-east-1"
                  (string-contains (ref event "requestContext" "domainName")
                                   ".us-east-1.amazonaws.com"))
     (test-assert "apigw-v2: time in API Gateway's format"
                  (matches? %common-log-time (ref event "requestContext" "time")))
     (test-assert "apigw-v2: timeEpoch is now"
                  (recent-ms? (ref event "requestContext" "timeEpoch")))
     (test-equal "apigw-v2: body" "Hello from Lambda!" (ref event "body"))
     (test-equal "apigw-v2: not base64" #f (ref event "isBase64Encoded")))
   (let ((event (event-template "apigw-v2" #:method "get" #:path "users/42"
                                #:body #f)))
     (test-equal "apigw-v2 #:method" "GET"
                 (ref event "requestContext" "http" "method"))
     (test-equal "apigw-v2 #:path, made absolute" "/users/42"
                 (ref event "rawPath"))
     (test-equal "apigw-v2 #:path in requestContext too" "/users/42"
                 (ref event "requestContext" "http" "path"))
     (test-assert "apigw-v2 #:body #f leaves the body out"
                  (not (assoc "body" event))))
   (test-equal "apigw-v2 #:body as data is sent as JSON" "{\"a\":[1,true]}"
               (ref (event-template "apigw-v2" #:body '(("a" . #(1 #t))))
                    "body"))

   (let ((event (event-template "apigw-v1" #:method "PUT" #:path "/items/7")))
     (test-equal "apigw-v1: httpMethod" "PUT" (ref event "httpMethod"))
     (test-equal "apigw-v1: path" "/items/7" (ref event "path"))
     (test-equal "apigw-v1: resource" "/{proxy+}" (ref event "resource"))
     (test-equal "apigw-v1: proxy path parameter" "items/7"
                 (ref event "pathParameters" "proxy"))
     (test-equal "apigw-v1: stage path" "/prod/items/7"
                 (ref event "requestContext" "path"))
     (test-equal "apigw-v1: null identity fields" 'null
                 (ref event "requestContext" "identity" "caller"))
     (test-assert "apigw-v1: request id is a UUID"
                  (matches? %uuid (ref event "requestContext" "requestId")))
     (test-assert "apigw-v1: requestTimeEpoch is now"
                  (recent-ms? (ref event "requestContext" "requestTimeEpoch"))))

   (let* ((event (event-template "sqs"))
          (record (ref event "Records" 0)))
     (test-assert "sqs: Records is an array of one"
                  (and (vector? (ref event "Records"))
                       (= 1 (vector-length (ref event "Records")))))
     (test-equal "sqs: eventSource" "aws:sqs" (ref record "eventSource"))
     (test-equal "sqs: region" "us-east-1" (ref record "awsRegion"))
     (test-equal "sqs: queue ARN" "arn:aws:sqs:us-east-1:123456789012:MyQueue"
                 (ref record "eventSourceARN"))
     (test-equal "sqs: body" "Hello from SQS!" (ref record "body"))
     (test-equal "sqs: md5OfBody is the body's MD5"
                 "7b270e59b47ff90a553787216d55d91d" (ref record "md5OfBody"))
     (test-assert "sqs: messageId is a UUID"
                  (matches? %uuid (ref record "messageId")))
     (test-assert "sqs: SentTimestamp is now, in ms, as a string"
                  (recent-ms? (string->number
                               (ref record "attributes" "SentTimestamp")))))
   (let ((record (ref (event-template "sqs" #:body "") "Records" 0)))
     (test-equal "sqs: MD5 of an empty body" "d41d8cd98f00b204e9800998ecf8427e"
                 (ref record "md5OfBody")))
   (let ((record (ref (event-template "sqs" #:body
                                      "The quick brown fox jumps over the lazy dog")
                      "Records" 0)))
     (test-equal "sqs: MD5 of a known text" "9e107d9d372bb6826bd81d3542a419d6"
                 (ref record "md5OfBody")))
   (test-equal "sqs #:body as data is sent as JSON" "{\"orderId\":1234}"
               (ref (event-template "sqs" #:body '(("orderId" . 1234)))
                    "Records" 0 "body"))

   (let ((record (ref (event-template "s3-put") "Records" 0)))
     (test-equal "s3-put: eventName" "ObjectCreated:Put" (ref record "eventName"))
     (test-equal "s3-put: eventSource" "aws:s3" (ref record "eventSource"))
     (test-equal "s3-put: bucket name" "example-bucket"
                 (ref record "s3" "bucket" "name"))
     (test-equal "s3-put: bucket ARN" "arn:aws:s3:::example-bucket"
                 (ref record "s3" "bucket" "arn"))
     (test-equal "s3-put: object key" "test/key" (ref record "s3" "object" "key"))
     (test-equal "s3-put: object size" 1024 (ref record "s3" "object" "size"))
     (test-assert "s3-put: eventTime is now, with milliseconds"
                  (and (matches? %iso-8601-ms (ref record "eventTime"))
                       (string-prefix? (this-year) (ref record "eventTime")))))
   (let ((record (ref (event-template "s3-put" #:bucket "photos"
                                      #:key "summer 2024/été.jpg")
                      "Records" 0)))
     (test-equal "s3-put #:bucket" "photos" (ref record "s3" "bucket" "name"))
     (test-equal "s3-put #:key is URL-encoded as S3 does"
                 "summer+2024/%C3%A9t%C3%A9.jpg"
                 (ref record "s3" "object" "key")))

   (let ((event (event-template "eventbridge-scheduled")))
     (test-equal "eventbridge-scheduled: detail-type" "Scheduled Event"
                 (ref event "detail-type"))
     (test-equal "eventbridge-scheduled: source" "aws.events"
                 (ref event "source"))
     (test-equal "eventbridge-scheduled: version" "0" (ref event "version"))
     (test-equal "eventbridge-scheduled: account" "123456789012"
                 (ref event "account"))
     (test-equal "eventbridge-scheduled: rule ARN"
                 "arn:aws:events:us-east-1:123456789012:rule/ExampleRule"
                 (ref event "resources" 0))
     (test-equal "eventbridge-scheduled: empty detail" '() (ref event "detail"))
     (test-assert "eventbridge-scheduled: id is a UUID"
                  (matches? %uuid (ref event "id")))
     (test-assert "eventbridge-scheduled: time is now, to the second"
                  (and (matches? %iso-8601 (ref event "time"))
                       (string-prefix? (this-year) (ref event "time")))))
   (test-equal "eventbridge-scheduled #:rule"
               "arn:aws:events:us-east-1:123456789012:rule/nightly"
               (ref (event-template "eventbridge-scheduled" #:rule "nightly")
                    "resources" 0))

   (let ((record (ref (event-template "sns" #:message '(("n" . 1))) "Records" 0)))
     (test-equal "sns: EventSource" "aws:sns" (ref record "EventSource"))
     (test-equal "sns: TopicArn"
                 "arn:aws:sns:us-east-1:123456789012:ExampleTopic"
                 (ref record "Sns" "TopicArn"))
     (test-equal "sns #:message as data is sent as JSON" "{\"n\":1}"
                 (ref record "Sns" "Message"))
     (test-assert "sns: Timestamp is now"
                  (matches? %iso-8601-ms (ref record "Sns" "Timestamp"))))

   (let ((records (ref (event-template "dynamodb") "Records")))
     (test-equal "dynamodb: insert, modify, remove"
                 '("INSERT" "MODIFY" "REMOVE")
                 (map (lambda (r) (ref r "eventName")) (vector->list records)))
     (test-equal "dynamodb: eventSource" "aws:dynamodb"
                 (ref records 0 "eventSource"))
     (test-assert "dynamodb: sequence numbers grow"
                  (< (string->number (ref records 0 "dynamodb" "SequenceNumber"))
                     (string->number (ref records 2 "dynamodb" "SequenceNumber")))))

   (for-each
    (lambda (alias+kind)
      (let ((alias (car alias+kind))
            (kind (cdr alias+kind)))
        (test-equal (string-append "alias " alias " is " kind)
                    (ref (event-template kind) "version")
                    (ref (event-template alias) "version"))
        (test-equal (string-append "alias " alias " has " kind "'s keys")
                    (map car (event-template kind))
                    (map car (event-template alias)))))
    '(("apigateway-http" . "apigw-v2")
      ("s3" . "s3-put")
      ("scheduled" . "eventbridge-scheduled")
      ("schedule" . "eventbridge-scheduled")
      ("apigateway-rest" . "apigw-v1")))
   (test-equal "a symbol and other case are accepted" "ObjectCreated:Put"
               (ref (event-template 'S3-Put) "Records" 0 "eventName"))

   (let ((message (error-message (lambda () (event-template "kafka")))))
     (test-assert "an unknown kind raises an error with a message"
                  (string? message))
     (test-assert "which names the kind" (string-contains message "kafka"))
     (test-assert "and lists every known kind"
                  (every (lambda (kind) (string-contains message kind))
                         (event-template-kinds))))
   (test-assert "a kind that is not a string or symbol is refused too"
                (string? (error-message (lambda () (event-template 42)))))))
