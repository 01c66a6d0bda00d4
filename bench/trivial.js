// bench/trivial.js: bench/trivial.scm for Node, the handler that
// lambda-local runs in the throughput bench.  Async, callback-free.
exports.handler = async (event, context) => ({ ok: true, id: event.id });
