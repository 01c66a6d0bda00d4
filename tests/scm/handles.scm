;;; The handle API of (guile-lambda) in a plain Guile, without the engine
;;; running the loop: the registry, origins, ref and unref, closing.
(use-modules (srfi srfi-64)
             (tests lib tap)
             (guile-lambda))

(run-tests "handles"
 (lambda ()
   (let ((timeout (set-timeout (lambda () #t) 5000))   ; line 9
         (interval (set-interval (lambda () #t) 250)))  ; line 10
     (test-assert "set-timeout returns a handle" (handle? timeout))
     (test-equal "its type" 'timer (handle-type timeout))
     (test-assert "it is active" (handle-active? timeout))
     (test-assert "and ref'd" (handle-ref? timeout))
     (test-equal "both are listed, in creation order" (list timeout interval)
                 (active-handles))
     (test-assert "they keep the loop alive" (loop-alive?))
     (let ((origin (handle-origin timeout)))
       (test-assert "the origin names this file"
                    (string-suffix? "tests/scm/handles.scm" (assq-ref origin 'file)))
       (test-equal "and the line of the call" 9 (assq-ref origin 'line))
       (test-equal "and its column" 19 (assq-ref origin 'column))
       (test-equal "no invocation was running" "undefined"
                   (assq-ref origin 'request-id)))
     (test-equal "the interval's line" 10
                 (assq-ref (handle-origin interval) 'line))
     (test-equal "timer details: repeat" 250
                 (assq-ref (handle-details interval) 'repeat))
     (test-assert "timer details: due in at most the delay"
                  (<= 0 (assq-ref (handle-details timeout) 'due-in) 5000))
     (test-assert "handle-describe says where it came from"
                  (string-contains (handle-describe interval)
                                   "interval 250 ms"))
     (handle-unref! timeout)
     (test-assert "handle-unref! clears ref?" (not (handle-ref? timeout)))
     (test-assert "an unref'd handle is still listed"
                  (memq timeout (active-handles)))
     (handle-ref! timeout)
     (test-assert "handle-ref! sets it again" (handle-ref? timeout))
     (clear-timer timeout)
     (handle-close! interval)
     (test-assert "clear-timer closes" (handle-closed? timeout))
     (test-equal "closed handles are not listed" '() (active-handles))
     (test-assert "nor keep the loop alive" (not (loop-alive?)))
     (test-assert "closing twice is harmless"
                  (begin (handle-close! interval) (clear-timer timeout) #t))
     (test-assert "a procedure is required"
                  (catch 'wrong-type-arg
                    (lambda () (set-timeout 5 10) #f)
                    (lambda _ #t))))))
