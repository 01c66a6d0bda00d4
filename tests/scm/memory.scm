;;; Resident memory stays flat while 100,000 timers and 100,000 loopback
;;; connections are opened and closed, 100 at a time: the fixture
;;; measures VmRSS after a warm-up of the first tenth and at the end.
;;; Handles that leak make it grow (the second group shows the measure
;;; sees it); leaked connections would run out of descriptors first.
;;; The server closes each connection first, so the connects do not
;;; depend on net.ipv4.tcp_tw_reuse to find a free ephemeral port.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (tests lib cli))

;; Guile's collector grows its heap in steps, so the bound is generous;
;; a leaked timer costs some 2.5 kB (its C struct, its Scheme object and
;; procedure), so 50,000 of them are well beyond it.
(define bound-kb (* 30 1024))

(define (memory-run event)
  (guile-lambda "invoke" (fixture "tcp-memory.scm") event
                "--timeout" "120" "--memory" "1024" #:timeout 150))

(define (show r)
  (for-each (lambda (line) (format #t "# ~a~%" line))
            (log-lines-matching r "VmRSS")))

(run-tests "memory"
 (lambda ()
   (test-group "100,000 timers and 100,000 connections"
     (let* ((r (memory-run "{}"))
            (result (run-json r)))
       (show r)
       (test-equal "success" 0 (run-status r))
       (test-equal "nothing is left open" 0 (json-ref result "handles"))
       (test-assert "VmRSS at the end is within 30 MB of the warm-up"
                    (< (json-ref result "endKb")
                       (+ (json-ref result "warmKb") bound-kb)))))
   (test-group "the same timers, not closed, but unref'd"
     (let* ((r (memory-run "{\"leak\":true,\"connections\":false}"))
            (result (run-json r)))
       (show r)
       (test-equal "success" 0 (run-status r))
       (test-assert "the leak is beyond the bound"
                    (>= (json-ref result "endKb")
                        (+ (json-ref result "warmKb") bound-kb)))))))
