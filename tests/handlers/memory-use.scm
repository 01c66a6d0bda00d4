;; Max Memory Used is measured: the event's "mb" megabytes are allocated
;; and touched, and kept until the invocation ends.
(use-modules (rnrs bytevectors))

(define (handler event context)
  (let* ((mb (or (assoc-ref event "mb") 0))
         (block (make-bytevector (* mb 1024 1024) 1)))
    (bytevector-length block)))
