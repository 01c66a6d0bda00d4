# Real peers of the Runtime API, installed from the npm registry outside
# the tree and run by tests/peers/run; not part of `make check', which
# needs no network.  .ci/run runs them after it.

check-peers: all $(go_DATA) $(glgo_DATA)
	abs_top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/tests/peers/run

.PHONY: check-peers

EXTRA_DIST += \
  tests/peers/run \
  tests/peers/package.json \
  tests/peers/package-lock.json \
  tests/peers/fun.js \
  tests/peers/batch.js \
  tests/peers/sdk.js \
  tests/peers/curl-bootstrap.sh \
  tests/peers/functions/guile/bootstrap \
  tests/peers/functions/guile/peer.scm \
  tests/peers/functions/guile/freeze.scm \
  tests/peers/functions/node/index.js \
  tests/peers/functions/curl/bootstrap \
  tests/peers/functions/curl/function.sh
