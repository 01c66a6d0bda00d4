;;; (guile-lambda await): direct-style handlers.  A return-style handler
;;; runs under a prompt; (await proc arg ...) calls PROC with ARGs and a
;;; completion procedure, captures the handler's continuation up to the
;;; prompt and gives the loop back.  When the operation completes, the
;;; continuation is resumed from its loop callback: no extra threads.
(define-module (guile-lambda await)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:use-module (ice-9 exceptions)
  #:use-module (ice-9 match)
  #:export (%await
            call-handler
            %suspended))

(define await-tag (make-prompt-tag "await"))

;; The context of the handler that may await here, or #f.
(define await-context (make-fluid #f))

;; What a handler's code returns when it is suspended in await.
(define %suspended (list 'suspended))

(define (call-with-await-prompt thunk context)
  (call-with-prompt await-tag
    (lambda () (with-fluids ((await-context context)) (thunk)))
    (lambda (k proc args what origin)
      (await-start k proc args what origin context))))

(define (call-handler proc args context)
  "Call the return-style handler PROC with ARGS so that it may await."
  (call-with-await-prompt (lambda () (apply proc args)) context))

(define (await-error fmt . args)
  (raise-exception
   (make-exception (make-error)
                   (make-exception-with-message (apply format #f fmt args)))))

(define (unresumable-continuation? exn)
  (and (eq? (exception-kind exn) 'wrong-type-arg)
       (match (exception-args exn)
         ((_ _ ("resumable continuation" . _) . _) #t)
         (_ #f))))

(define (continuation-resume k results what)
  ;; A continuation captured across a C frame cannot be reinstated;
  ;; Guile says so with a wrong-type-arg.  The handler does not unwind:
  ;; any other exception goes on to the outer handler from where it was
  ;; raised (continuable, as this handler would be transparent), so the
  ;; stack still holds the frames of the code that raised it.
  (with-exception-handler
      (lambda (exn)
        (if (unresumable-continuation? exn)
            (await-error "~a suspended the handler across a C frame (a procedure written in C that calls back into Scheme, such as sort or hash-for-each), which cannot be resumed: call await directly from Scheme code" what)
            (raise-exception exn #:continuable? #t)))
    (lambda () (apply k results))))

(define (resume k results what context)
  (call-with-await-prompt
   (lambda () (continuation-resume k results what))
   context))

(define (await-start k proc args what origin context)
  (let* ((resumed? #f)
         (done (lambda results
                 (unless resumed?
                   (set! resumed? #t)
                   (%invocation-resume context
                                       (lambda () (resume k results what context)))))))
    ;; PROC is an origin-recording procedure called as a value: the
    ;; await's own place is the origin of what it creates.  If it raises
    ;; at once (bad arguments), the error belongs at the await, where
    ;; the handler can catch it: resume there with it now.
    (catch #t
      (lambda ()
        (with-fluids ((%origin-hint origin))
          (apply proc (append args (list done))))
        (%invocation-suspend! context what)
        %suspended)
      (lambda (key . rest)
        (set! resumed? #t)
        (resume k (list (make-exception-from-throw key rest)) what context)))))

(define (%await what origin proc . args)
  "Call PROC with ARGS and a completion procedure (err value ...), and
return its value(s) once it completes, or raise its error.  WHAT
describes the call for error messages."
  (unless (fluid-ref await-context)
    (await-error "~a: await works only inside a return-style handler (event context), not at top level, in a callback-style handler, or in a loop callback" what))
  (call-with-values
      (lambda () (abort-to-prompt await-tag proc args what origin))
    (case-lambda
      (() *unspecified*)
      ((err) (if err (raise-exception err) *unspecified*))
      ((err value) (if err (raise-exception err) value))
      ((err . results) (if err (raise-exception err) (apply values results))))))

(%hook-set! 'call-handler call-handler)
(%hook-set! 'suspended %suspended)
