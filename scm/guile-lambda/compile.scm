;;; (guile-lambda compile): compiling a handler file, form by form.  Only
;;; a cold start whose handler is not in the cache of compiled handlers
;;; (guile-lambda handler-cache) loads this module, and Guile's compiler
;;; with it.
(define-module (guile-lambda compile)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 match)
  #:use-module (language scheme compile-tree-il)
  #:use-module (srfi srfi-1)
  #:use-module (language tree-il)
  #:use-module (system base compile)
  #:use-module (system base language)
  #:use-module (system vm loader)
  #:export (handler-compile))

;; Each top-level form is compiled to bytecode and run before the next
;; one is read, as the REPL would: handlers run as compiled code, never
;; in the slower evaluator, and a macro may use what the forms before it
;; defined.  A form is expanded in the module that the forms before it
;; left current and runs in the module its expansion left current: a
;; define-module at the top makes its module, with its imports, the one
;; that the rest of the file is compiled and run in.
(define (handler-compile file source module)
  "Compile and run the forms of SOURCE, a bytevector that FILE held, in
MODULE.  Return the module current at the end, the top-level variables
that the forms use (see toplevel-uses) and the bytecode of each form, in
order."
  (let ((read-form (language-reader (lookup-language 'scheme)))
        (port (open-bytevector-input-port source)))
    (set-port-filename! port file)
    ;; UTF-8 unless the file says otherwise in a coding: comment,
    ;; whatever the locale.
    (set-port-encoding! port (or (file-encoding port) "UTF-8"))
    (save-module-excursion
     (lambda ()
       (set-current-module module)
       (let loop ((trees '()) (codes '()))
         (let ((form (read-form port (current-module))))
           (if (eof-object? form)
               (values (current-module)
                       (toplevel-uses (reverse trees) (module-name module))
                       (reverse codes))
               (call-with-values
                   (lambda () (compile-tree-il form (current-module) '()))
                 (lambda (tree _ next)
                   (set-current-module next)
                   ;; Form by form, a reference to a later definition
                   ;; would be reported as unbound: no warnings here,
                   ;; the check comes after the whole file ran.
                   (let ((code (compile tree #:from 'tree-il #:to 'bytecode
                                        #:env next #:warning-level 0)))
                     ((load-thunk-from-memory code))
                     (loop (cons tree trees) (cons code codes))))))))))))

(define (toplevel-uses trees fresh)
  "The (MODULE NAME SOURCE) of each top-level variable that TREES
reference or set, at its first use, in order; SOURCE is the nearest
source location known, or #f.  Plain data, so that the cache can keep
it with the bytecode: MODULE is #t for FRESH, the name of the handler's
fresh module, a gensym that another process gives to another module."
  (define (down tree acc)
    (match acc
      ((src . uses)
       (let ((src (or (tree-il-src tree) src)))
         (cons src
               (match tree
                 ((or ($ <toplevel-ref> _ mod name) ($ <toplevel-set> _ mod name))
                  (if (find (lambda (use)
                              (and (eq? (cadr use) name)
                                   (equal? (car use) mod)))
                            uses)
                      uses
                      (cons (list (if (equal? mod fresh) #t mod) name src)
                            uses)))
                 (_ uses)))))))
  (reverse
   (fold (lambda (tree uses)
           (cdr (tree-il-fold down (lambda (tree acc) acc) (cons #f uses)
                              tree)))
         '() trees)))
