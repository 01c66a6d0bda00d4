;;; (guile-lambda events): sample events to try a handler with, shaped as
;;; `sam local generate-event` makes them and as AWS documents them, for
;;; `,generate-event KIND` in the REPL and `guile-lambda invoke
;;; --event-template KIND`.  Every call gives a fresh event: ids are
;;; random and timestamps are the current time, in each service's format.
(define-module (guile-lambda events)
  #:use-module (guile-lambda core)
  #:use-module (ice-9 exceptions)
  #:use-module (rnrs bytevectors)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-11)
  #:export (event-template-kinds
            event-template))

(define %region "us-east-1")
(define %account "123456789012")


;;; Randomness and identifiers.

;; Seeded from the platform once, so that two processes started in the
;; same second still give different ids.
(define %random-state (random-state-from-platform))

(define (random-below n)
  (random n %random-state))

(define (random-bytes n)
  (let ((bv (make-bytevector n)))
    (do ((i 0 (+ i 1))) ((= i n) bv)
      (bytevector-u8-set! bv i (random-below 256)))))

(define (random-string alphabet n)
  (let ((size (string-length alphabet)))
    (string-tabulate (lambda (i) (string-ref alphabet (random-below size)))
                     n)))

(define %hex "0123456789abcdef")
(define %hex-upper "0123456789ABCDEF")
(define %upper-alnum "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
(define %base64
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

(define (bytevector->hex bv)
  (string-concatenate
   (map (lambda (byte)
          (string (string-ref %hex (ash byte -4))
                  (string-ref %hex (logand byte 15))))
        (bytevector->u8-list bv))))

(define (uuid4)
  "A random (version 4) UUID, as a lowercase string."
  (let ((bv (random-bytes 16)))
    (bytevector-u8-set! bv 6 (logior #x40 (logand (bytevector-u8-ref bv 6) #x0f)))
    (bytevector-u8-set! bv 8 (logior #x80 (logand (bytevector-u8-ref bv 8) #x3f)))
    (let ((hex (bytevector->hex bv)))
      (string-append (substring hex 0 8) "-" (substring hex 8 12) "-"
                     (substring hex 12 16) "-" (substring hex 16 20) "-"
                     (substring hex 20 32)))))


;;; MD5, because SQS's md5OfBody is the MD5 of the body and Guile has no
;;; digest of its own.  RFC 1321, on 32-bit words kept in range by hand.

(define %md5-shifts
  #(7 12 17 22 7 12 17 22 7 12 17 22 7 12 17 22
    5 9 14 20 5 9 14 20 5 9 14 20 5 9 14 20
    4 11 16 23 4 11 16 23 4 11 16 23 4 11 16 23
    6 10 15 21 6 10 15 21 6 10 15 21 6 10 15 21))

;; floor(|sin(i + 1)| * 2^32); doubles hold these exactly enough, which
;; the test checks against known digests.
(define %md5-constants
  (list->vector
   (map (lambda (i)
          (inexact->exact (floor (* (abs (sin (+ i 1))) 4294967296.0))))
        (iota 64))))

(define (u32 x) (logand x #xffffffff))
(define (u32-not x) (logxor x #xffffffff))
(define (u32-rotate x n)
  (u32 (logior (ash x n) (ash x (- n 32)))))

(define (md5-pad bv)
  (let* ((len (bytevector-length bv))
         (padded-len (* 64 (quotient (+ len 8 64) 64)))
         (out (make-bytevector padded-len 0)))
    (bytevector-copy! bv 0 out 0 len)
    (bytevector-u8-set! out len #x80)
    (bytevector-u64-set! out (- padded-len 8) (* 8 len) (endianness little))
    out))

(define (md5-hex string)
  "The MD5 digest of STRING's UTF-8 bytes, as 32 lowercase hex digits."
  (let ((data (md5-pad (string->utf8 string)))
        (state (vector #x67452301 #xefcdab89 #x98badcfe #x10325476)))
    (do ((chunk 0 (+ chunk 64)))
        ((= chunk (bytevector-length data)))
      (let loop ((i 0)
                 (a (vector-ref state 0)) (b (vector-ref state 1))
                 (c (vector-ref state 2)) (d (vector-ref state 3)))
        (if (= i 64)
            (for-each (lambda (k x)
                        (vector-set! state k (u32 (+ (vector-ref state k) x))))
                      '(0 1 2 3) (list a b c d))
            (let-values (((f g)
                          (cond ((< i 16)
                                 (values (logior (logand b c)
                                                 (logand (u32-not b) d))
                                         i))
                                ((< i 32)
                                 (values (logior (logand d b)
                                                 (logand (u32-not d) c))
                                         (modulo (+ (* 5 i) 1) 16)))
                                ((< i 48)
                                 (values (logxor b c d)
                                         (modulo (+ (* 3 i) 5) 16)))
                                (else
                                 (values (logxor c (logior b (u32-not d)))
                                         (modulo (* 7 i) 16))))))
              (let ((f (u32 (+ f a (vector-ref %md5-constants i)
                               (bytevector-u32-ref data (+ chunk (* 4 g))
                                                   (endianness little))))))
                (loop (+ i 1) d
                      (u32 (+ b (u32-rotate f (vector-ref %md5-shifts i))))
                      b c))))))
    (let ((out (make-bytevector 16)))
      (do ((k 0 (+ k 1))) ((= k 4))
        (bytevector-u32-set! out (* 4 k) (vector-ref state k)
                             (endianness little)))
      (bytevector->hex out))))


;;; Time, formatted by hand: strftime's month names follow the locale,
;;; and AWS's do not.

(define (now-ms)
  (let ((tv (gettimeofday)))
    (+ (* 1000 (car tv)) (quotient (cdr tv) 1000))))

(define %months
  #("Jan" "Feb" "Mar" "Apr" "May" "Jun" "Jul" "Aug" "Sep" "Oct" "Nov" "Dec"))

(define (pad n width)
  (string-pad (number->string n) width #\0))

(define (iso-8601 ms with-ms?)
  "\"2024-05-06T07:08:09Z\", or with milliseconds \"…09.123Z\"."
  (let ((tm (gmtime (quotient ms 1000))))
    (string-append (pad (+ 1900 (tm:year tm)) 4) "-" (pad (+ 1 (tm:mon tm)) 2)
                   "-" (pad (tm:mday tm) 2) "T" (pad (tm:hour tm) 2)
                   ":" (pad (tm:min tm) 2) ":" (pad (tm:sec tm) 2)
                   (if with-ms?
                       (string-append "." (pad (remainder ms 1000) 3))
                       "")
                   "Z")))

(define (common-log-time ms)
  "API Gateway's request time, \"06/May/2024:07:08:09 +0000\"."
  (let ((tm (gmtime (quotient ms 1000))))
    (string-append (pad (tm:mday tm) 2) "/" (vector-ref %months (tm:mon tm))
                   "/" (pad (+ 1900 (tm:year tm)) 4) ":" (pad (tm:hour tm) 2)
                   ":" (pad (tm:min tm) 2) ":" (pad (tm:sec tm) 2) " +0000")))


;;; Helpers for the templates.

(define (body->string body)
  "A body given as guile-json data is sent as its JSON text."
  (if (string? body) body (scm->json-string body)))

(define (absolute-path path)
  (if (string-prefix? "/" path) path (string-append "/" path)))

(define (s3-key-encode key)
  "KEY as S3 puts it in an event: URL-encoded, a space as \"+\", with \"/\"
left alone (sam's template encodes \"/\" too; S3 itself does not)."
  (string-concatenate
   (map (lambda (byte)
          (let ((char (integer->char byte)))
            (cond ((or (char<=? #\a char #\z) (char<=? #\A char #\Z)
                       (char<=? #\0 char #\9) (memv char '(#\- #\_ #\. #\/)))
                   (string char))
                  ((char=? char #\space) "+")
                  (else
                   (string #\% (string-ref %hex-upper (ash byte -4))
                           (string-ref %hex-upper (logand byte 15)))))))
        (bytevector->u8-list (string->utf8 key)))))


;;; The templates.  Field order follows sam's templates, which follow
;;; AWS's documented samples.

(define* (apigw-v2-event #:key (method "POST") (path "/path/to/resource")
                         (body "Hello from Lambda!"))
  "An API Gateway HTTP API request, payload format 2.0.  BODY is a string,
guile-json data (sent as JSON) or #f for none."
  (let ((now (now-ms))
        (path (absolute-path path)))
    `(("version" . "2.0")
      ("routeKey" . "$default")
      ("rawPath" . ,path)
      ("rawQueryString" . "parameter1=value1&parameter1=value2&parameter2=value")
      ("cookies" . #("cookie1" "cookie2"))
      ("headers" ("header1" . "value1")
                 ("header2" . "value1,value2"))
      ("queryStringParameters" ("parameter1" . "value1,value2")
                               ("parameter2" . "value"))
      ("requestContext"
       ("accountId" . ,%account)
       ("apiId" . "api-id")
       ("authentication"
        ("clientCert"
         ("clientCertPem" . "CERT_CONTENT")
         ("subjectDN" . "www.example.com")
         ("issuerDN" . "Example issuer")
         ("serialNumber" . "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1")
         ("validity" ("notBefore" . "May 28 12:30:02 2019 GMT")
                     ("notAfter" . "Aug  5 09:36:04 2021 GMT"))))
       ("authorizer"
        ("jwt" ("claims" ("claim1" . "value1") ("claim2" . "value2"))
               ("scopes" . #("scope1" "scope2"))))
       ("domainName" . ,(string-append "id.execute-api." %region
                                       ".amazonaws.com"))
       ("domainPrefix" . "id")
       ("http" ("method" . ,(string-upcase method))
               ("path" . ,path)
               ("protocol" . "HTTP/1.1")
               ("sourceIp" . "192.0.2.1")
               ("userAgent" . "agent"))
       ;; HTTP APIs' request ids look like this, not like UUIDs.
       ("requestId" . ,(string-append (random-string %base64 15) "="))
       ("routeKey" . "$default")
       ("stage" . "$default")
       ("time" . ,(common-log-time now))
       ("timeEpoch" . ,now))
      ,@(if body `(("body" . ,(body->string body))) '())
      ("pathParameters" ("parameter1" . "value1"))
      ("isBase64Encoded" . #f)
      ("stageVariables" ("stageVariable1" . "value1")
                        ("stageVariable2" . "value2")))))

(define %apigw-v1-headers
  '(("Accept" . "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8")
    ("Accept-Encoding" . "gzip, deflate, sdch")
    ("Accept-Language" . "en-US,en;q=0.8")
    ("Cache-Control" . "max-age=0")
    ("CloudFront-Forwarded-Proto" . "https")
    ("CloudFront-Is-Desktop-Viewer" . "true")
    ("CloudFront-Is-Mobile-Viewer" . "false")
    ("CloudFront-Is-SmartTV-Viewer" . "false")
    ("CloudFront-Is-Tablet-Viewer" . "false")
    ("CloudFront-Viewer-Country" . "US")
    ("Host" . "1234567890.execute-api.us-east-1.amazonaws.com")
    ("Upgrade-Insecure-Requests" . "1")
    ("User-Agent" . "Custom User Agent String")
    ("Via" . "1.1 08f323deadbeefa7af34d5feb414ce27.cloudfront.net (CloudFront)")
    ("X-Amz-Cf-Id" . "cDehVQoZnx43VYQb9j2-nvCh-9z396Uhbp027Y2JvkCPNLmGJHqlaA==")
    ("X-Forwarded-For" . "127.0.0.1, 127.0.0.2")
    ("X-Forwarded-Port" . "443")
    ("X-Forwarded-Proto" . "https")))

(define* (apigw-v1-event #:key (method "POST") (path "/path/to/resource")
                         (body "{\"test\":\"body\"}"))
  "An API Gateway REST API proxy request (payload format 1.0) to the
resource /{proxy+} on stage prod.  BODY as for apigw-v2; sam base64-encodes
it, but API Gateway does so only for binary media types, so it is text here."
  (let* ((now (now-ms))
         (path (absolute-path path))
         (method (string-upcase method)))
    `(("body" . ,(if body (body->string body) 'null))
      ("resource" . "/{proxy+}")
      ("path" . ,path)
      ("httpMethod" . ,method)
      ("isBase64Encoded" . #f)
      ("queryStringParameters" ("foo" . "bar"))
      ("multiValueQueryStringParameters" ("foo" . #("bar")))
      ("pathParameters" ("proxy" . ,(substring path 1)))
      ("stageVariables" ("baz" . "qux"))
      ("headers" ,@%apigw-v1-headers)
      ("multiValueHeaders"
       ,@(map (lambda (header) (cons (car header) (vector (cdr header))))
              %apigw-v1-headers))
      ("requestContext"
       ("accountId" . ,%account)
       ("resourceId" . "123456")
       ("stage" . "prod")
       ("requestId" . ,(uuid4))
       ("requestTime" . ,(common-log-time now))
       ("requestTimeEpoch" . ,now)
       ("identity"
        ("cognitoIdentityPoolId" . null)
        ("accountId" . null)
        ("cognitoIdentityId" . null)
        ("caller" . null)
        ("accessKey" . null)
        ("sourceIp" . "127.0.0.1")
        ("cognitoAuthenticationType" . null)
        ("cognitoAuthenticationProvider" . null)
        ("userArn" . null)
        ("userAgent" . "Custom User Agent String")
        ("user" . null))
       ("path" . ,(string-append "/prod" path))
       ("resourcePath" . "/{proxy+}")
       ("httpMethod" . ,method)
       ("apiId" . "1234567890")
       ("protocol" . "HTTP/1.1")))))

(define* (sqs-event #:key (body "Hello from SQS!") (queue "MyQueue"))
  "One SQS message from QUEUE.  BODY is a string or guile-json data (sent
as JSON)."
  (let ((now (now-ms))
        (body (body->string body)))
    `(("Records"
       . #((("messageId" . ,(uuid4))
            ("receiptHandle" . ,(string-append "AQEB"
                                               (random-string %base64 120)))
            ("body" . ,body)
            ("attributes"
             ("ApproximateReceiveCount" . "1")
             ("SentTimestamp" . ,(number->string now))
             ("SenderId" . "AIDAIENQZJOLO23YVJ4VO")
             ("ApproximateFirstReceiveTimestamp" . ,(number->string (+ now 2))))
            ("messageAttributes")
            ("md5OfBody" . ,(md5-hex body))
            ("eventSource" . "aws:sqs")
            ("eventSourceARN" . ,(string-append "arn:aws:sqs:" %region ":"
                                                %account ":" queue))
            ("awsRegion" . ,%region)))))))

(define* (s3-put-event #:key (bucket "example-bucket") (key "test/key")
                       (size 1024))
  "An S3 ObjectCreated:Put notification for KEY in BUCKET; the key is
URL-encoded in the event, as S3 does."
  (let ((now (now-ms)))
    `(("Records"
       . #((("eventVersion" . "2.1")
            ("eventSource" . "aws:s3")
            ("awsRegion" . ,%region)
            ("eventTime" . ,(iso-8601 now #t))
            ("eventName" . "ObjectCreated:Put")
            ("userIdentity" ("principalId" . "EXAMPLE"))
            ("requestParameters" ("sourceIPAddress" . "127.0.0.1"))
            ("responseElements"
             ("x-amz-request-id" . ,(random-string %upper-alnum 16))
             ("x-amz-id-2" . ,(random-string %base64 76)))
            ("s3"
             ("s3SchemaVersion" . "1.0")
             ("configurationId" . "testConfigRule")
             ("bucket" ("name" . ,bucket)
                       ("ownerIdentity" ("principalId" . "EXAMPLE"))
                       ("arn" . ,(string-append "arn:aws:s3:::" bucket)))
             ("object" ("key" . ,(s3-key-encode key))
                       ("size" . ,size)
                       ("eTag" . ,(bytevector->hex (random-bytes 16)))
                       ;; Sequencers grow with time within a key.
                       ("sequencer" . ,(string-upcase
                                        (string-pad (number->string now 16)
                                                    18 #\0)))))))))))

(define* (eventbridge-scheduled-event #:key (rule "ExampleRule"))
  "The event an EventBridge schedule RULE sends.  sam's template has no
\"version\"; every EventBridge event does, so it is here."
  `(("version" . "0")
    ("id" . ,(uuid4))
    ("detail-type" . "Scheduled Event")
    ("source" . "aws.events")
    ("account" . ,%account)
    ("time" . ,(iso-8601 (now-ms) #f))
    ("region" . ,%region)
    ("resources" . #(,(string-append "arn:aws:events:" %region ":" %account
                                     ":rule/" rule)))
    ("detail")))

(define* (sns-event #:key (message "example message")
                    (subject "example subject") (topic "ExampleTopic"))
  "One SNS notification on TOPIC.  MESSAGE is a string or guile-json data
(sent as JSON)."
  (let* ((topic-arn (string-append "arn:aws:sns:" %region ":" %account ":"
                                   topic))
         (subscription-arn (string-append topic-arn ":" (uuid4))))
    `(("Records"
       . #((("EventSource" . "aws:sns")
            ("EventVersion" . "1.0")
            ("EventSubscriptionArn" . ,subscription-arn)
            ("Sns"
             ("Type" . "Notification")
             ("MessageId" . ,(uuid4))
             ("TopicArn" . ,topic-arn)
             ("Subject" . ,subject)
             ("Message" . ,(body->string message))
             ("Timestamp" . ,(iso-8601 (now-ms) #t))
             ("SignatureVersion" . "1")
             ("Signature" . "EXAMPLE")
             ("SigningCertUrl" . "EXAMPLE")
             ("UnsubscribeUrl"
              . ,(string-append "https://sns." %region ".amazonaws.com/"
                                "?Action=Unsubscribe&SubscriptionArn="
                                subscription-arn))
             ("MessageAttributes"
              ("Test" ("Type" . "String") ("Value" . "TestString"))
              ("TestBinary" ("Type" . "Binary")
                            ("Value" . "TestBinary"))))))))))

(define* (dynamodb-event #:key (table "ExampleTableWithStream"))
  "A DynamoDB stream batch on TABLE: an item inserted, modified, removed."
  (let* ((now (now-ms))
         (arn (string-append "arn:aws:dynamodb:" %region ":" %account
                             ":table/" table
                             "/stream/2015-06-27T00:48:05.899")))
    (define (record n name images size)
      `(("eventID" . ,(bytevector->hex (random-bytes 16)))
        ("eventName" . ,name)
        ("eventVersion" . "1.1")
        ("eventSource" . "aws:dynamodb")
        ("awsRegion" . ,%region)
        ("dynamodb"
         ("Keys" ("Id" ("N" . "101")))
         ,@images
         ("ApproximateCreationDateTime" . ,(quotient now 1000))
         ;; Sequence numbers only grow, across records and calls.
         ("SequenceNumber" . ,(number->string
                               (+ (* now 1000000000000000) n)))
         ("SizeBytes" . ,size)
         ("StreamViewType" . "NEW_AND_OLD_IMAGES"))
        ("eventSourceARN" . ,arn)))
    (define (image message)
      `(("Message" ("S" . ,message)) ("Id" ("N" . "101"))))
    `(("Records"
       . #(,(record 1 "INSERT" `(("NewImage" ,@(image "New item!"))) 26)
           ,(record 2 "MODIFY"
                    `(("NewImage" ,@(image "This item has changed"))
                      ("OldImage" ,@(image "New item!")))
                    59)
           ,(record 3 "REMOVE"
                    `(("OldImage" ,@(image "This item has changed")))
                    38))))))


;;; Kinds and aliases.

;; (kind aliases builder), in the order event-template-kinds lists them.
(define %templates
  `(("apigw-v2" ("apigateway-http" "apigw-http" "http-api" "apigateway-v2")
     ,apigw-v2-event)
    ("sqs" ("sqs-receive-message") ,sqs-event)
    ("s3-put" ("s3" "s3-object-created") ,s3-put-event)
    ("eventbridge-scheduled" ("scheduled" "schedule" "scheduled-event"
                              "cloudwatch-scheduled")
     ,eventbridge-scheduled-event)
    ("apigw-v1" ("apigateway-rest" "apigw-rest" "rest-api" "aws-proxy")
     ,apigw-v1-event)
    ("sns" ("sns-notification") ,sns-event)
    ("dynamodb" ("dynamodb-stream" "dynamodb-update") ,dynamodb-event)))

(define (event-template-kinds)
  "The names of the sample events event-template makes, as strings."
  (map car %templates))

(define (kinds-description)
  (string-join
   (map (lambda (template)
          (string-append (car template) " (or "
                         (string-join (cadr template) ", ") ")"))
        %templates)
   "; "))

(define (template-builder kind)
  (let ((name (cond ((string? kind) kind)
                    ((symbol? kind) (symbol->string kind))
                    (else #f))))
    (and name
         (let ((name (string-downcase (string-trim-both name))))
           (any (lambda (template)
                  (and (or (string=? name (car template))
                           (member name (cadr template)))
                       (caddr template)))
                %templates)))))

(define (event-template kind . options)
  "A fresh sample event of KIND (a string or symbol, one of
(event-template-kinds) or an alias) as guile-json data.  OPTIONS are the
kind's keywords: apigw-v2 and apigw-v1 take #:method #:path #:body, sqs
#:body #:queue, s3-put #:bucket #:key #:size, eventbridge-scheduled
#:rule, sns #:message #:subject #:topic, dynamodb #:table."
  (let ((builder (template-builder kind)))
    (unless builder
      (raise-exception
       (make-exception
        (make-error)
        (make-exception-with-origin 'event-template)
        (make-exception-with-message
         (format #f "no event template ~s; the known kinds are: ~a"
                 kind (kinds-description))))))
    (apply builder options)))

(%hook-set! 'event-template event-template)
