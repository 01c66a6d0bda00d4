# Handlers a newcomer can copy.
EXTRA_DIST +=				\
  examples/hello.scm			\
  examples/cached-result.scm		\
  examples/interval.scm			\
  examples/return-style.scm		\
  examples/polled-connection.scm	\
  examples/direct-style.scm		\
  examples/own-module.scm		\
  examples/Dockerfile
