;;; (guile-lambda origin): procedures that create handles and requests
;;; are macros over their primitives, so that each records the place in
;;; the handler's source that called it (DESIGN.md §4).
(define-module (guile-lambda origin)
  #:export (define-origin-recording
            %origin-hint))

;; The origin to record when a creating procedure is called as a value
;; rather than by name, as await does: it sets this around the call.
(define %origin-hint (make-fluid #f))

;; (define-origin-recording NAME PRIMITIVE): NAME called as (NAME ARG ...)
;; calls (PRIMITIVE ORIGIN ARG ...) with the call's source location.
(define-syntax define-origin-recording
  (syntax-rules ()
    ((_ name primitive)
     (define-syntax name
       (lambda (x)
         (syntax-case x ()
           ((_ args (... ...))
            #`(primitive '#,(datum->syntax x (syntax-source x))
                         args (... ...)))
           (id
            (identifier? #'id)
            #'(lambda args
                (apply primitive (fluid-ref %origin-hint) args)))))))))
