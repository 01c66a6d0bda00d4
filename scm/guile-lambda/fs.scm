;;; (guile-lambda fs): file system requests of (guile-lambda), run on
;;; libuv's thread pool.  Each takes a completion procedure last, so
;;; each can be awaited: (await fs-read-file "/tmp/x").  Those that
;;; produce a value call it as (proc err value), the others as (proc
;;; err); err is #f or a &uv-error naming the operation and the path.
(define-module (guile-lambda fs)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:use-module (rnrs bytevectors)
  ;; Not (rnrs io ports): loading it would add tens of milliseconds to
  ;; every cold start.
  #:use-module ((ice-9 iconv) #:select (bytevector->string))
  #:export (fs-read-file fs-read-file-string fs-write-file fs-append-file
            fs-stat fs-lstat fs-readdir fs-mkdir fs-unlink fs-rename))

;; (fs-read-file PATH PROC): the whole file as a bytevector.
(define-origin-recording fs-read-file %fs-read-file)

;; Invalid UTF-8 becomes U+FFFD, as Node's readFile(path, 'utf8') does.
(define (%fs-read-file-string origin path proc)
  (%fs-read-file origin path
                 (lambda (err bytes)
                   (if err
                       (proc err #f)
                       (proc #f (bytevector->string bytes "UTF-8"
                                                    'substitute))))))

;; (fs-read-file-string PATH PROC): the whole file decoded as UTF-8.
(define-origin-recording fs-read-file-string %fs-read-file-string)

;; (fs-write-file PATH DATA PROC): create or truncate PATH (mode 0644
;; before the umask) and write DATA, a string (as UTF-8) or a bytevector.
(define-origin-recording fs-write-file %fs-write-file)
;; (fs-append-file PATH DATA PROC): the same, at the end of PATH.
(define-origin-recording fs-append-file %fs-append-file)

;; (fs-stat PATH PROC): an alist with type (file, directory, symlink or
;; other), size, mode (the permission bits), uid, gid, nlink, dev, ino,
;; and atime, mtime, ctime, birthtime in seconds.  fs-stat follows
;; symbolic links; fs-lstat describes the link itself.
(define-origin-recording fs-stat %fs-stat)
(define-origin-recording fs-lstat %fs-lstat)

;; (fs-readdir PATH PROC): the names in directory PATH, without "." and
;; "..", sorted.
(define-origin-recording fs-readdir %fs-readdir)

;; (fs-mkdir PATH PROC), (fs-unlink PATH PROC), (fs-rename FROM TO PROC).
(define-origin-recording fs-mkdir %fs-mkdir)
(define-origin-recording fs-unlink %fs-unlink)
(define-origin-recording fs-rename %fs-rename)
