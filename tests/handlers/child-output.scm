;; A child process that writes to its standard output.
(define (handler event context)
  (system "echo from a child process")
  "result")
