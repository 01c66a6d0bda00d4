;;; (guile-lambda tcp): TCP clients and servers on the engine's loop.
;;; Connections and servers are handles of type tcp; close them with
;;; handle-close!.  Operations that complete once take a completion
;;; procedure last, called as (proc err value), so each is await-able:
;;; (await tcp-read conn).  A connection keeps the event loop alive
;;; while it reads (a tcp-read waiting, or a tcp-on-data procedure),
;;; writes, connects or shuts down; a server while it listens.
(define-module (guile-lambda tcp)
  #:use-module (guile-lambda core)
  #:use-module (guile-lambda origin)
  #:export (tcp-connect
            tcp-listen
            tcp-server-port
            tcp-read
            tcp-on-data
            tcp-write
            tcp-shutdown
            tcp-local-address
            tcp-peer-address))

;; (tcp-connect HOST PORT PROC): connect to HOST (a numeric address, or
;; a name, looked up first) and PORT; then (PROC err conn).  Returns the
;; connection at once; it can be read from (reads wait for the
;; connection), closed, but not written before PROC is called.
(define-origin-recording tcp-connect %tcp-connect)

;; (tcp-listen HOST PORT PROC): a server bound to HOST (a numeric
;; address) and PORT (0: the system chooses), listening at once;
;; (PROC err conn) for each connection it accepts.  Raises if it cannot
;; listen, e.g. EADDRINUSE.
(define-origin-recording tcp-listen %tcp-listen)

;; (tcp-read CONN PROC): read the next chunk of data once, then
;; (PROC #f bytevector), (PROC #f the-eof-object) at the end of the
;; stream, or (PROC err #f).  A "read" request while it waits.
(define-origin-recording tcp-read %tcp-read)

;; (tcp-write CONN DATA PROC): write DATA, a string (as UTF-8) or a
;; bytevector, then (PROC err).
(define-origin-recording tcp-write %tcp-write)

;; (tcp-shutdown CONN PROC): end the writing side once the writes
;; before it are done (the peer reads the end of its stream), then
;; (PROC err).
(define-origin-recording tcp-shutdown %tcp-shutdown)

(define (tcp-on-data conn proc)
  "Stream what CONN receives to PROC: (PROC #f bytevector) for each
chunk, (PROC #f the-eof-object) at the end, (PROC err #f) on an error.
PROC #f stops streaming."
  (%tcp-on-data conn proc))

(define (tcp-server-port server)
  "The port SERVER listens on."
  (%tcp-server-port server))

(define (tcp-local-address conn)
  "CONN's own address: ((address . \"127.0.0.1\") (port . N) (family . ipv4))."
  (%tcp-local-address conn))

(define (tcp-peer-address conn)
  "The address CONN is connected to, in the form of tcp-local-address."
  (%tcp-peer-address conn))
