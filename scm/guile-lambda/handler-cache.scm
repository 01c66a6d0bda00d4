;;; (guile-lambda handler-cache): the compiled handlers of earlier cold
;;; starts, so that a cold start whose handler has not changed loads
;;; bytecode and never loads Guile's compiler, as Guile's own cache of
;;; auto-compiled files does for modules.
;;;
;;; An entry is one file under $XDG_CACHE_HOME/guile-lambda (or
;;; ~/.cache/guile-lambda), named after the handler file's name, the
;;; directory a relative name is relative to and the versions of Guile
;;; and guile-lambda.  It holds the handler's source, so that it is used
;;; only for the very same bytes, whatever the file's time stamps say,
;;; then the bytecode of each top-level form and the top-level variables
;;; the forms use.  Layout: a 4-byte big-endian length, that many bytes
;;; of UTF-8 holding the written header (KEY SOURCE-LENGTH FORM-LENGTHS
;;; USES), the source, the forms' bytecode one after the other.
(define-module (guile-lambda handler-cache)
  #:use-module (guile-lambda config)
  #:use-module (ice-9 binary-ports)
  #:use-module (rnrs bytevectors)
  #:use-module ((srfi srfi-1) #:select (every))
  #:export (handler-cache-directory
            handler-cache-read
            handler-cache-write))

;; Changed whenever the layout or the meaning of an entry changes.
(define entry-version 2)

(define (handler-cache-directory)
  "The directory of cached handlers, or #f where the environment names
no place for caches (no absolute XDG_CACHE_HOME, no HOME)."
  (let ((xdg (getenv "XDG_CACHE_HOME"))
        (home (getenv "HOME")))
    (cond
     ((and xdg (absolute-file-name? xdg))
      (string-append xdg "/guile-lambda"))
     ((and home (absolute-file-name? home))
      (string-append home "/.cache/guile-lambda"))
     (else #f))))

;; What an entry must have been made for.  Compiled code names its
;; source file as the handler was named (error traces show it), hence
;; the name as given and, when it is relative, the directory.
(define (entry-key file)
  (list entry-version %guile-lambda-version (version) file
        (if (absolute-file-name? file) #f (getcwd))))

(define (entry-file file)
  (let ((dir (handler-cache-directory)))
    (and dir
         (string-append dir "/"
                        (number->string (string-hash (object->string
                                                      (entry-key file)))
                                        16)
                        ".glc"))))

(define (entry-read port key source)
  (define (bytes n)
    (let ((bv (get-bytevector-n port n)))
      (and (bytevector? bv) (= (bytevector-length bv) n) bv)))
  (let* ((size (bytes 4))
         (header (and size (bytes (bytevector-u32-ref size 0 (endianness big)))))
         (fields (and header
                      (call-with-input-string (utf8->string header) read))))
    (match-header fields
      (lambda (entry-key source-length form-lengths uses)
        (and (equal? entry-key key)
             (= source-length (bytevector-length source))
             (let ((stored (bytes source-length)))
               (and stored (bytevector=? stored source)))
             (let ((codes (map bytes form-lengths)))
               (and (every bytevector? codes)
                    (cons codes uses))))))))

(define (match-header fields proc)
  (and (list? fields)
       (= (length fields) 4)
       (list? (caddr fields))
       (apply proc fields)))

(define (handler-cache-read file source)
  "The entry for FILE whose source is SOURCE, a bytevector: (CODES .
USES), the bytecode of each form and the variables they use, or #f when
there is none (or it is for other bytes, or unreadable)."
  (let ((path (entry-file file)))
    (and path
         (file-exists? path)
         (catch #t
           (lambda ()
             (call-with-input-file path
               (lambda (port) (entry-read port (entry-key file) source))
               #:binary #t))
           (lambda (key . args)
             ;; A damaged entry is a miss; a timeout or an exit is not
             ;; ours to swallow.
             (if (memq key '(guile-lambda-timeout quit))
                 (apply throw key args)
                 #f))))))

(define (directory? file)
  (and (file-exists? file) (file-is-directory? file)))

(define (directory-ensure dir)
  (unless (directory? dir)
    (directory-ensure (dirname dir))
    (catch 'system-error
      (lambda () (mkdir dir #o700))
      (lambda args
        ;; Another container may have made it meanwhile.
        (unless (directory? dir)
          (apply throw args))))))

(define (entry-write port key source codes uses)
  (let ((header (string->utf8
                 (object->string
                  (list key (bytevector-length source)
                        (map bytevector-length codes) uses))))
        (size (make-bytevector 4)))
    (bytevector-u32-set! size 0 (bytevector-length header) (endianness big))
    (put-bytevector port size)
    (put-bytevector port header)
    (put-bytevector port source)
    (for-each (lambda (code) (put-bytevector port code)) codes)))

(define (handler-cache-write file source codes uses)
  "Keep CODES, the bytecode of the forms of FILE whose source is SOURCE,
and USES.  Return #f, or a message saying why it could not be kept.  The
entry is written whole under another name, then renamed, so that a
container starting meanwhile never reads half of it."
  (let ((path (entry-file file)))
    (if (not path)
        #f
        (let ((temporary (string-append path ".tmp-"
                                        (number->string (getpid)))))
          (catch 'system-error
            (lambda ()
              (directory-ensure (dirname path))
              (call-with-output-file temporary
                (lambda (port)
                  (entry-write port (entry-key file) source codes uses))
                #:binary #t)
              (rename-file temporary path)
              #f)
            (lambda args
              (false-if-exception (delete-file temporary))
              (format #f "~a: ~a" (dirname path)
                      (strerror (system-error-errno args)))))))))
