;; Rule 4: the first completion wins; later ones are ignored with a WARN.
(define (handler event context callback)
  (set-context-callback-waits-for-empty-event-loop! context #f)
  (callback #f "first")
  (callback "second")
  (context-succeed context "third")
  (set-timeout (lambda () (callback #f "from a timer")) 10))
