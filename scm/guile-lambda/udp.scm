;;; (guile-lambda udp): UDP sockets on the engine's loop.  A socket is a
;;; handle of type udp; close it with handle-close!.  It keeps the event
;;; loop alive while it receives, and each udp-send while in flight.
(define-module (guile-lambda udp)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export (udp-bind
            udp-port
            udp-send))

;; (udp-bind HOST PORT PROC): a socket bound to HOST (a numeric address)
;; and PORT (0: the system chooses); (PROC err bytevector sender) for
;; each datagram it receives, SENDER an alist as tcp-peer-address gives.
;; PROC #f: the socket only sends.  Raises if it cannot bind.
(define-origin-recording udp-bind %udp-bind)

;; (udp-send SOCK DATA HOST PORT PROC): send DATA, a string (as UTF-8)
;; or a bytevector, as one datagram to HOST (a numeric address) and
;; PORT; then (PROC err).  An address that is not one raises at once.
(define-origin-recording udp-send %udp-send)

(define (udp-port sock)
  "The port SOCK is bound to."
  (%udp-port sock))
