;;; File system requests: every operation's success path in direct style
;;; (await), Node-style completion procedures, the errors of missing
;;; files, directories and existing paths, and the origin the registry
;;; gives a request in flight.
(use-modules (srfi srfi-64)
             (ice-9 regex)
             (json)
             (tests lib tap)
             (tests lib cli))

(define (with-temp-dir proc)
  (let ((dir (mkdtemp (string-copy "/tmp/gl-fs-test-XXXXXX"))))
    (dynamic-wind
      (lambda () #t)
      (lambda () (proc dir))
      (lambda () (system* "rm" "-rf" dir)))))

(define (fs-case name dir)
  (guile-lambda "invoke" (fixture "fs-await.scm")
                (scm->json-string `(("case" . ,name) ("dir" . ,dir)))))

(define (error-of result name)
  (json-ref result name "code"))

(run-tests "fs"
 (lambda ()
   (with-temp-dir
    (lambda (dir)
      (let* ((r (fs-case "roundtrip" dir))
             (v (run-json r)))
        (test-equal "await: success" 0 (run-status r))
        (test-equal "write-file a string, append a bytevector, read-file-string"
                    (string #\h (integer->char #x3bb) #\newline #\o #\k #\newline)
                    (json-ref v "text"))
        (test-equal "read-file gives the bytes" #(0 1 2 255) (json-ref v "bytes"))
        (test-equal "read-file-string: invalid UTF-8 becomes U+FFFD, as in Node"
                    (string #\nul (integer->char 1) (integer->char 2)
                            (integer->char #xfffd))
                    (json-ref v "lossy"))
        (test-equal "read-file of an empty file" 0 (json-ref v "empty"))
        (test-equal "stat: type of a file" "file" (json-ref v "type"))
        (test-equal "stat: size in bytes (UTF-8)" 7 (json-ref v "size"))
        (test-equal "stat: write-file's mode is 0644 less the umask"
                    (logand #o644 (lognot (umask))) (json-ref v "mode"))
        (test-assert "stat: mtime is a real number" (json-ref v "mtime-real"))
        (test-equal "stat: type of a directory" "directory" (json-ref v "dir-type"))
        (test-equal "readdir: the names, sorted" #("a.txt" "b.bin" "notes.txt")
                    (json-ref v "before"))
        (test-equal "after rename and unlink" #("a.txt" "renamed.txt")
                    (json-ref v "after"))
        (test-equal "no request is left in flight" 0 (json-ref v "pending"))
        (test-assert "the files are really there"
                     (file-exists? (string-append dir "/sub/renamed.txt"))))))

   (with-temp-dir
    (lambda (dir)
      (let* ((r (fs-case "errors" dir))
             (v (run-json r)))
        (test-equal "errors are caught at the await" 0 (run-status r))
        (test-equal "missing file: ENOENT" "ENOENT" (error-of v "read-missing"))
        (test-equal "the message names the operation and the path"
                    (string-append "fs-read-file ENOENT " dir
                                   "/missing: no such file or directory")
                    (json-ref v "read-missing" "message"))
        (test-equal "read-file-string of a missing file: ENOENT" "ENOENT"
                    (error-of v "read-string-missing"))
        (test-equal "reading a directory: EISDIR" "EISDIR"
                    (error-of v "read-directory"))
        (test-equal "mkdir of an existing directory: EEXIST" "EEXIST"
                    (error-of v "mkdir-existing"))
        (test-assert "its message names fs-mkdir and the path"
                     (string-contains (json-ref v "mkdir-existing" "message")
                                      (string-append "fs-mkdir EEXIST " dir)))
        (test-equal "stat of a missing path: ENOENT" "ENOENT"
                    (error-of v "stat-missing"))
        (test-equal "readdir of a file: ENOTDIR" "ENOTDIR"
                    (error-of v "readdir-file"))
        (test-equal "unlink of a missing path: ENOENT" "ENOENT"
                    (error-of v "unlink-missing"))
        (test-equal "rename of a missing path: ENOENT" "ENOENT"
                    (error-of v "rename-missing"))
        (test-assert "rename's message names both paths"
                     (string-contains (json-ref v "rename-missing" "message")
                                      (string-append "/missing -> " dir "/to")))
        (test-equal "write-file in a missing directory: ENOENT" "ENOENT"
                    (error-of v "write-no-dir"))
        (test-equal "write-file on a directory: EISDIR" "EISDIR"
                    (error-of v "write-directory")))
      (let ((r (fs-case "uncaught" dir)))
        (test-equal "an uncaught error fails the invocation" 1 (run-status r))
        (test-equal "as a uv-error" "uv-error"
                    (json-ref (run-json r) "errorType"))
        (test-assert "whose message names the path"
                     (string-contains (json-ref (run-json r) "errorMessage")
                                      (string-append dir "/missing"))))
      (let ((r (fs-case "bad-path" dir)))
        (test-equal "a path that is not a string: wrong-type-arg"
                    "wrong-type-arg" (json-ref (run-json r) "errorType"))
        (test-assert "the message says a path string was expected"
                     (string-contains (json-ref (run-json r) "errorMessage")
                                      "expecting path string")))))

   (with-temp-dir
    (lambda (dir)
      (let* ((r (guile-lambda "invoke" (fixture "fs-callbacks.scm")
                              (scm->json-string `(("dir" . ,dir)))))
             (v (run-json r))
             (info (json-ref v "in-flight")))
        (test-equal "callbacks: success" 0 (run-status r))
        (test-equal "callbacks: write, read, stat in a chain" "{\"n\":1}"
                    (json-ref v "text"))
        (test-equal "callbacks: the size" 7 (json-ref v "size"))
        (test-equal "in flight: a request of type fs" "fs" (json-ref info "type"))
        (test-assert "in flight: request? says so" (json-ref info "request"))
        (test-assert "in flight: listed by active-requests"
                     (json-ref info "listed"))
        (test-equal "in flight: its operation" "write-file"
                    (json-ref info "operation"))
        (test-equal "in flight: its path" (string-append dir "/data.json")
                    (json-ref info "path"))
        (test-assert "origin: the handler's file"
                     (string-suffix? "tests/handlers/fs-callbacks.scm"
                                     (json-ref info "file")))
        (test-equal "origin: the line of the fs-write-file call" 16
                    (json-ref info "line"))
        (test-equal "origin: its column" 5 (json-ref info "column"))
        (test-assert "describe: operation, path and origin"
                     (string-match
                      "^fs #[0-9]+ \\(write-file .*/data.json\\), created at .*fs-callbacks.scm:16:5 during request "
                      (json-ref info "describe")))
        (test-assert "once completed, the request is gone"
                     (json-ref v "finished")))
      (let ((r (guile-lambda "invoke" (fixture "fs-callbacks.scm")
                             (scm->json-string `(("dir" . ,dir) ("fail" . #t))))))
        (test-equal "callbacks: an error passed on fails the invocation"
                    1 (run-status r))
        (test-equal "callbacks: with the error's message"
                    (string-append "fs-read-file ENOENT " dir
                                   "/data.json.missing: no such file or directory")
                    (json-ref (run-json r) "errorMessage")))
      (let ((r (guile-lambda "invoke" (fixture "fs-callbacks.scm")
                             (scm->json-string `(("dir" . ,dir) ("early" . #t))))))
        (test-equal "a request in flight keeps the loop open: success"
                    0 (run-status r))
        (test-assert "the invocation waited for it (flag #t)"
                     (stderr-has? r "INFO\tappended: #t"))
        (test-assert "and it did its work"
                     (file-exists? (string-append dir "/data.json")))))))))
