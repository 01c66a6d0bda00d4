;;; (guile-lambda package): `guile-lambda package HANDLER-DIR', a zip
;;; that AWS Lambda's provided.al2023 runtime runs with nothing else
;;; installed (DESIGN.md §9).  It holds a `bootstrap' script, the
;;; handler directory with its Scheme files compiled ahead of time, and
;;; under guile-lambda/ the runtime: this very program, the extension,
;;; every shared library they load down to libc and the dynamic loader
;;; (bootstrap starts the program through that loader, so the host's
;;; glibc does not matter), and the compiled Guile modules the runtime
;;; and the handler use.  With --layer the runtime is a layer of its own
;;; (under /opt) and the function zip holds only the handler.
;;;
;;; The same inputs give the same bytes: entries sorted, every time
;;; 1980-01-01 00:00 UTC, modes 644 or 755, no extra fields.
(define-module (guile-lambda package)
  #:use-module (guile-lambda config)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 popen)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 regex)
  #:use-module (rnrs bytevectors)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-26)
  #:use-module (system base compile)
  #:use-module (system vm elf)
  #:export (package))

(define (refuse fmt . args)
  (throw 'package-refused (apply format #f fmt args)))

(define (fail fmt . args)
  (throw 'package-failed (apply format #f fmt args)))

;;; Where things go, in the zip (and so under /var/task, or /opt for a
;;; layer).

;; The runtime: bin/guile-lambda, lib/ (the loader, the libraries, the
;; extension, the locale), go/ (compiled modules).
(define runtime-dir "guile-lambda")
;; The function's Scheme files, compiled: LAMBDA_TASK_ROOT/guile-lambda/ccache.
(define handler-ccache "guile-lambda/ccache")

;; Files that libguile and boot-9 load by name before any module, so
;; that no module's imports name them.
(define boot-files
  '("ice-9/eval.go" "ice-9/boot-9.go" "ice-9/psyntax-pp.go"
    "ice-9/posix.go" "ice-9/networking.go"))

;; What the runtime itself uses: guile-lambda bootstrap loads these and
;; what they use, whatever the handler.  Boot-9 loads the first ones
;; without any module using them; libguile loads the foreign-library and
;; foreign-object modules for the extension; the runtime names the ones
;; it loads later (runtime-lazy-modules).
(define runtime-modules
  (append '((guile) (guile-user) (ice-9 threads) (ice-9 deprecated)
            (system foreign-library) (system foreign-object)
            (guile-lambda core) (guile-lambda runtime) (guile-lambda))
          (module-ref (resolve-interface '(guile-lambda runtime))
                      'runtime-lazy-modules)))

;;; Files.

(define (file-bytes file)
  (call-with-input-file file get-bytevector-all #:binary #t))

(define (directory-entries dir)
  "The names in DIR, sorted, without . and .."
  (let ((d (opendir dir)))
    (let loop ((names '()))
      (let ((name (readdir d)))
        (cond
         ((eof-object? name)
          (closedir d)
          (sort names string<?))
         ((member name '("." "..")) (loop names))
         (else (loop (cons name names))))))))

(define (directory-files dir)
  "The files under DIR, as names relative to it, sorted."
  (let walk ((rel #f))
    (append-map
     (lambda (name)
       (let* ((sub (if rel (string-append rel "/" name) name))
              (path (string-append dir "/" sub)))
         (if (file-is-directory? path)
             (walk sub)
             (list sub))))
     (directory-entries (if rel (string-append dir "/" rel) dir)))))

(define (mkdir-p dir)
  (unless (or (string-null? dir) (file-exists? dir))
    (mkdir-p (dirname dir))
    (mkdir dir)))

(define (file-install from to)
  "Copy FROM (following links) to TO, making TO's directory."
  (mkdir-p (dirname to))
  (copy-file from to))

(define (delete-tree path)
  (if (eq? 'directory (stat:type (lstat path)))
      (begin
        (for-each (lambda (name) (delete-tree (string-append path "/" name)))
                  (directory-entries path))
        (rmdir path))
      (delete-file path)))

(define (program-available? name)
  (any (lambda (dir) (access? (string-append dir "/" name) X_OK))
       (parse-path (or (getenv "PATH") "/usr/bin:/bin"))))

(define (command-output program . args)
  "What PROGRAM printed with ARGS, or #f if it failed."
  (let* ((port (apply open-pipe* OPEN_READ program args))
         (text (read-string port))
         (status (close-pipe port)))
    (and (eqv? 0 (status:exit-val status)) text)))

;;; The handler directory.

(define (handler-dir-exists dir)
  (unless (file-exists? dir)
    (refuse "~a: no such directory: give the directory that holds the function's handler files (FILE.scm)" dir))
  (unless (file-is-directory? dir)
    (refuse "~a is not a directory: give the directory that holds the function's handler files (FILE.scm), not the file itself" dir)))

(define (output-check output)
  (let ((dir (dirname output)))
    (unless (and (file-exists? dir) (file-is-directory? dir))
      (refuse "cannot write ~a: there is no directory ~a" output dir))
    (when (and (file-exists? output) (file-is-directory? output))
      (refuse "cannot write ~a: it is a directory; name the zip file" output))))

(define (handler-dir-check dir output)
  "The files of DIR to ship, relative to it (OUTPUT left out, if it is
one); refuse a DIR that is not a function's directory."
  (for-each (lambda (ours)
              (when (file-exists? (string-append dir "/" ours))
                (refuse "~a/~a exists, but the package puts its own ~a there: rename it" dir ours ours)))
            (list "bootstrap" runtime-dir))
  (let ((files (remove (cut equal? output <>)
                       (directory-files dir))))
    (unless (any (cut string-suffix? ".scm" <>) files)
      (refuse "~a holds no handler: no Scheme file (FILE.scm) in it or below it" dir))
    files))

;; The module a file defines, if it starts with define-module.
(define (file-module-name file)
  (catch #t
    (lambda ()
      (match (call-with-input-file file read)
        (('define-module (? list? name) . _) name)
        (_ #f)))
    (const #f)))

(define (handler-env)
  (let ((module (make-fresh-user-module)))
    (module-use! module (resolve-interface '(guile-lambda)))
    module))

(define (compile-error-message file key args)
  (string-trim-right
   (call-with-output-string
     (lambda (port)
       (print-exception port #f key args)))))

(define (handler-compile dir rel out)
  "Compile DIR/REL to OUT as the runtime loads a handler: in a fresh
module that uses (guile-lambda).  Return the modules it uses."
  (let ((env (handler-env))
        (file (string-append dir "/" rel)))
    (catch #t
      (lambda ()
        (compile-file file #:output-file out #:env env
                      #:opts '(#:warnings (unbound-variable arity-mismatch
                                           format))))
      (lambda (key . args)
        (refuse "~a does not compile: ~a" rel
                (compile-error-message file key args))))
    (cons env
          (match (file-module-name file)
            (#f '())
            (name (filter-map (cut resolve-module <> #:ensure #f)
                              (list name)))))))

;;; Modules: the runtime's and the handler's, with all they use.

(define (interface-module interface)
  (and (module-name interface)
       (resolve-module (module-name interface) #:ensure #f)))

(define (module-closure roots)
  "ROOTS and the modules they use, transitively; autoloads are loaded."
  (let ((seen (make-hash-table)))
    (let visit ((modules roots))
      (for-each (lambda (m)
                  (unless (hashq-ref seen m)
                    (hashq-set! seen m #t)
                    (visit (filter-map interface-module (module-uses m)))))
                modules))
    (hash-map->list (lambda (m _) m) seen)))

(define (compiled-file-search rel)
  "REL (such as srfi/srfi-1.go) in %load-compiled-path, or #f."
  (any (lambda (dir)
         (let ((path (string-append dir "/" rel)))
           (and (file-exists? path) path)))
       %load-compiled-path))

(define (module-compiled-file module dir)
  "(REL . PATH) of MODULE's compiled file, or #f for a module that has
no file of its own or that is the handler's (under DIR)."
  (match (module-filename module)
    ((? string? source)
     (let* ((base (if (string-suffix? ".scm" source)
                      (string-drop-right source 4)
                      source))
            (rel (string-append base ".go"))
            (full (%search-load-path source)))
       (cond
        ((string-prefix? "/" source) #f)
        ((and full (string-prefix? (string-append dir "/") full)) #f)
        ((compiled-file-search rel) => (cut cons rel <>))
        (full
         (fail "the module ~a has no compiled file (~a): compile it with guild compile, or install Guile's compiled files"
               (module-name module) rel))
        (else #f))))
    (_ #f)))

(define (modules-compiled-files roots dir)
  "The compiled files to ship, as (REL . PATH), sorted by REL."
  (sort (delete-duplicates
         (append (filter-map (lambda (rel)
                               (let ((path (compiled-file-search rel)))
                                 (unless path
                                   (fail "Guile's ~a is not in its compiled path ~s"
                                         rel %load-compiled-path))
                                 (cons rel path)))
                             boot-files)
                 (filter-map (cut module-compiled-file <> dir)
                             (module-closure roots))))
        (lambda (a b) (string<? (car a) (car b)))))

;;; Shared libraries: what the dynamic loader itself says it loads.

(define (elf-interpreter file)
  "The dynamic loader FILE names (PT_INTERP), or #f."
  (let* ((bv (file-bytes file))
         (elf (parse-elf bv))
         (segment (find (lambda (s) (= (elf-segment-type s) PT_INTERP))
                        (elf-segments elf))))
    (and segment
         (let ((name (make-bytevector (- (elf-segment-filesz segment) 1))))
           (bytevector-copy! bv (elf-segment-offset segment) name 0
                             (bytevector-length name))
           (utf8->string name)))))

(define (shared-libraries loader file)
  "The libraries FILE loads, as (NAME . PATH), as LOADER --list says."
  (let ((text (command-output loader "--list" file)))
    (unless text
      (fail "~a --list ~a failed: cannot find the libraries it needs" loader file))
    (filter-map
     (lambda (line)
       (cond
        ((string-match "^\t*([^ ]+) => not found" line)
         => (lambda (m)
              (fail "~a needs ~a, which the dynamic loader cannot find"
                    file (match:substring m 1))))
        ((string-match "^\t*([^ ]+) => (/[^ ]+) \\(" line)
         => (lambda (m) (cons (match:substring m 1) (match:substring m 2))))
        (else #f)))
     (string-split text #\newline))))

(define (self-extension)
  "The extension this process loaded: the one bootstrap will load."
  (or (call-with-input-file "/proc/self/maps"
        (lambda (port)
          (let loop ()
            (match (read-line port)
              ((? eof-object?) #f)
              (line
               (match (string-match "(/[^ ]*/libguile-lambda\\.so)$" line)
                 (#f (loop))
                 (m (match:substring m 1))))))))
      (fail "cannot find the guile-lambda extension among this process's libraries")))

;; The only locale the runtime ships: UTF-8 ports whatever the host has.
(define locale-source "/usr/lib/locale/C.utf8")

;;; The runtime tree.

(define (bootstrap-script loader locale?)
  (string-append "#!/bin/sh
# The bootstrap of an AWS Lambda provided.al2023 function, made by
# guile-lambda package " %guile-lambda-version ".  It runs guile-lambda bootstrap
# with the dynamic loader and libraries beside it, never the host's, and
# Guile's modules from this tree, compiled ahead of time.
case $0 in
  */*) here=${0%/*} ;;
  *) here=. ;;
esac
case $here in
  /*) ;;
  *) here=$PWD/$here ;;
esac
rt=$here/" runtime-dir "
task=${LAMBDA_TASK_ROOT:-$here}
# As ./pre-inst-env does: the modules and the extension are found through
# Guile's own paths.  The function's modules are beside their compiled
# files; nothing is compiled at run time.
GUILE_LAMBDA_UNINSTALLED=1
GUILE_LAMBDA_HANDLER_CCACHE=$task/" handler-ccache "
GUILE_LOAD_PATH=$task
GUILE_LOAD_COMPILED_PATH=$task/" handler-ccache "
GUILE_SYSTEM_PATH=$rt/go
GUILE_SYSTEM_COMPILED_PATH=$rt/go
GUILE_EXTENSIONS_PATH=$rt/lib
GUILE_SYSTEM_EXTENSIONS_PATH=$rt/lib
GUILE_AUTO_COMPILE=0
export GUILE_LAMBDA_UNINSTALLED GUILE_LAMBDA_HANDLER_CCACHE GUILE_LOAD_PATH
export GUILE_LOAD_COMPILED_PATH GUILE_SYSTEM_PATH GUILE_SYSTEM_COMPILED_PATH
export GUILE_EXTENSIONS_PATH GUILE_SYSTEM_EXTENSIONS_PATH GUILE_AUTO_COMPILE
"
                 (if locale?
                     "LOCPATH=$rt/lib/locale
LC_ALL=C.UTF-8
export LOCPATH LC_ALL
"
                     "")
                 "exec \"$rt/lib/" (basename loader) "\" --inhibit-cache --library-path \"$rt/lib\" \\
  \"$rt/bin/guile-lambda\" bootstrap
"))

(define (strip-debug file)
  ;; Our own program and extension are built with debugging
  ;; information, which a deployment does not need.
  (when (program-available? "strip")
    (unless (zero? (status:exit-val (system* "strip" "--strip-debug" file)))
      (fail "strip --strip-debug ~a failed" file))))

(define (runtime-stage stage roots dir)
  "Put the runtime under STAGE/guile-lambda and its bootstrap in STAGE;
return the parts, as (NAME . FILES-RELATIVE-TO-STAGE)."
  (let* ((program (readlink "/proc/self/exe"))
         (extension (self-extension))
         (loader (or (elf-interpreter program)
                     (fail "~a names no dynamic loader: is it a static program?" program)))
         (libraries (delete-duplicates
                     (append (shared-libraries loader program)
                             (shared-libraries loader extension))
                     (lambda (a b) (equal? (car a) (car b)))))
         (rt (string-append stage "/" runtime-dir))
         (lib (lambda (name) (string-append runtime-dir "/lib/" name)))
         (locale? (file-is-directory? locale-source))
         (modules (modules-compiled-files roots dir)))
    (file-install program (string-append rt "/bin/guile-lambda"))
    (strip-debug (string-append rt "/bin/guile-lambda"))
    (file-install extension (string-append rt "/lib/libguile-lambda.so"))
    (strip-debug (string-append rt "/lib/libguile-lambda.so"))
    (file-install loader (string-append stage "/" (lib (basename loader))))
    (for-each (match-lambda
                ((name . path) (file-install path (string-append stage "/" (lib name)))))
              libraries)
    (for-each (match-lambda
                ((rel . path) (file-install path (string-append rt "/go/" rel))))
              modules)
    (when locale?
      (for-each (lambda (rel)
                  (file-install (string-append locale-source "/" rel)
                                (string-append rt "/lib/locale/C.utf8/" rel)))
                (directory-files locale-source)))
    (call-with-output-file (string-append stage "/bootstrap")
      (cut display (bootstrap-script loader locale?) <>))
    (let ((ours? (cut string-prefix? "guile-lambda" <>)))
      `(("bootstrap" "bootstrap")
        ("program and extension"
         ,(string-append runtime-dir "/bin/guile-lambda")
         ,(lib "libguile-lambda.so"))
        ("loader and libraries"
         ,(lib (basename loader)) ,@(map (compose lib car) libraries))
        ("Guile's modules"
         ,@(filter-map (match-lambda
                         ((rel . _) (and (not (ours? rel))
                                         (string-append runtime-dir "/go/" rel))))
                       modules))
        ("guile-lambda's modules"
         ,@(filter-map (match-lambda
                         ((rel . _) (and (ours? rel)
                                         (string-append runtime-dir "/go/" rel))))
                       modules))
        ("locale"
         ,@(if locale?
               (map (cut string-append runtime-dir "/lib/locale/C.utf8/" <>)
                    (directory-files locale-source))
               '()))))))

(define (handler-stage stage dir files)
  "Put the function's files under STAGE, and its Scheme files compiled
under STAGE/guile-lambda/ccache; return the parts and the modules the
compiled files use."
  (for-each (lambda (rel)
              (file-install (string-append dir "/" rel)
                            (string-append stage "/" rel)))
            files)
  (let* ((sources (filter (cut string-suffix? ".scm" <>) files))
         (compiled (map (lambda (rel)
                          (string-append handler-ccache "/"
                                         (string-drop-right rel 4) ".go"))
                        sources))
         (used (append-map (lambda (rel go)
                             (mkdir-p (dirname (string-append stage "/" go)))
                             (handler-compile dir rel
                                              (string-append stage "/" go)))
                           sources compiled)))
    (values `(("function's files" ,@files)
              ("function compiled" ,@compiled))
            used)))

;;; The zip.

(define zip-epoch
  ;; 1980-01-01 00:00:00 UTC: the first time a zip can hold.
  315532800)

(define (executable? rel)
  (or (equal? rel "bootstrap")
      (string-prefix? (string-append runtime-dir "/bin/") rel)
      (string-match "^guile-lambda/lib/[^/]*\\.so" rel)))

(define (zip-write stage entries output)
  "Write ENTRIES (files relative to STAGE) to OUTPUT as a reproducible
zip."
  (let ((tmp (string-append output ".tmp")))
    (for-each (lambda (rel)
                (let ((path (string-append stage "/" rel)))
                  (chmod path (if (executable? rel) #o755 #o644))
                  (utime path zip-epoch zip-epoch)))
              entries)
    (when (file-exists? tmp) (delete-file tmp))
    ;; zip reads the names from its standard input, one a line, in the
    ;; order given; -X leaves out the extra fields that hold owners and
    ;; times of their own; its times are local: UTC here.
    (let ((port (with-environment-variable
                 "TZ" "UTC0"
                 (lambda ()
                   (with-directory stage
                     (lambda ()
                       (open-pipe* OPEN_WRITE "zip" "-q" "-X" "-D" "-9"
                                   (canonicalize-path* tmp) "-@")))))))
      (for-each (lambda (rel) (display rel port) (newline port)) entries)
      (unless (eqv? 0 (status:exit-val (close-pipe port)))
        (when (file-exists? tmp) (delete-file tmp))
        (fail "zip could not write ~a" output)))
    (rename-file tmp output)))

(define (canonicalize-path* file)
  "FILE as an absolute name; it need not exist, its directory must."
  (string-append (canonicalize-path (dirname file)) "/" (basename file)))

(define (with-directory dir thunk)
  (let ((old (getcwd)))
    (dynamic-wind (lambda () (chdir dir)) thunk (lambda () (chdir old)))))

(define (with-environment-variable name value thunk)
  (let ((old (getenv name)))
    (dynamic-wind (lambda () (setenv name value))
                  thunk
                  (lambda () (if old (setenv name old) (unsetenv name))))))

;; The compressed size of each entry, from the zip's central directory.
(define (zip-entry-sizes zip)
  (let* ((bv (file-bytes zip))
         (u16 (cut bytevector-u16-ref bv <> (endianness little)))
         (u32 (cut bytevector-u32-ref bv <> (endianness little)))
         (end (let loop ((i (- (bytevector-length bv) 22)))
                (cond ((< i 0) (fail "~a is not a zip" zip))
                      ((= (u32 i) #x06054b50) i)
                      (else (loop (- i 1))))))
         (count (u16 (+ end 10))))
    (let loop ((i (u32 (+ end 16))) (n 0) (sizes '()))
      (if (= n count)
          sizes
          (let* ((name-len (u16 (+ i 28)))
                 (name (utf8->string
                        (let ((b (make-bytevector name-len)))
                          (bytevector-copy! bv (+ i 46) b 0 name-len)
                          b))))
            (loop (+ i 46 name-len (u16 (+ i 30)) (u16 (+ i 32)))
                  (+ n 1)
                  (acons name (u32 (+ i 20)) sizes)))))))

(define (zip-report output parts)
  "Say what OUTPUT holds, part by part, and its size."
  (let ((sizes (zip-entry-sizes output)))
    (format #t "~a: ~,2f MB (~a bytes)~%" output
            (/ (stat:size (stat output)) 1e6) (stat:size (stat output)))
    (for-each (match-lambda
                ((name . files)
                 (unless (null? files)
                   (format #t "  ~24a ~5d files ~10d bytes compressed~%"
                           name (length files)
                           (fold + 0 (map (lambda (f) (or (assoc-ref sizes f) 0))
                                          files))))))
              parts)))

;;; The command.

(define (package-write stage parts output)
  (zip-write stage (sort (append-map cdr parts) string<?) output)
  (zip-report output parts))

(define (layer-output output)
  (string-append (dirname output) "/layer.zip"))

(define (package-build dir output layer?)
  (handler-dir-exists dir)
  (output-check output)
  (let* ((dir (canonicalize-path dir))
         (output (canonicalize-path* output))
         (files (handler-dir-check
                 dir
                 (and (string-prefix? (string-append dir "/") output)
                      (substring output (+ 1 (string-length dir))))))
         (function-stage (mkdtemp "/tmp/guile-lambda-package-XXXXXX"))
         (runtime-stage-dir (if layer?
                                (mkdtemp "/tmp/guile-lambda-layer-XXXXXX")
                                function-stage)))
    (dynamic-wind
      (const #t)
      (lambda ()
        (set! %load-path (cons dir %load-path))
        (call-with-values (lambda () (handler-stage function-stage dir files))
          (lambda (handler-parts used)
            (let ((runtime-parts
                   (runtime-stage runtime-stage-dir
                                  (append (map resolve-module runtime-modules)
                                          used)
                                  dir)))
              (cond
               (layer?
                (package-write function-stage handler-parts output)
                (package-write runtime-stage-dir runtime-parts
                               (layer-output output)))
               (else
                (package-write function-stage
                               (append runtime-parts handler-parts)
                               output)))))))
      (lambda ()
        (delete-tree function-stage)
        (when layer? (delete-tree runtime-stage-dir))))))

(define (package dir output layer?)
  "guile-lambda package DIR: write the function zip OUTPUT (and, if
LAYER?, the runtime as layer.zip beside it).  Return the exit status."
  (catch #t
    (lambda ()
      (unless (program-available? "zip")
        (fail "the zip program is missing (Debian: apt-get install zip)"))
      (package-build dir output layer?)
      0)
    (lambda (key . args)
      (format (current-error-port) "guile-lambda package: ~a~%"
              (match (cons key args)
                (((or 'package-refused 'package-failed) message) message)
                (_ (compile-error-message dir key args))))
      (if (eq? key 'package-refused) 2 1))))
