// Handlers that aws-lambda-ric (the AWS runtime interface client for
// Node) runs as a container of guile-lambda batch --runtime-command
// (tests/peers/batch.js).
'use strict';
let calls = 0;
let fired = [];

// Async style: the result, or a thrown Error whose name is the errorType.
exports.handler = async (event, context) => {
  calls++;
  if (event.fail) {
    const err = new Error(event.fail);
    err.name = 'Peer.Failure';
    throw err;
  }
  return { calls, pid: process.pid, requestId: context.awsRequestId,
           functionName: context.functionName, event };
};

// Callback style, not waiting for the empty loop: a timer of timerMs
// stays pending, frozen with the container.  It says when it ran, and
// the next invocation reports which timers ran before it was called.
exports.callback = (event, context, callback) => {
  calls++;
  context.callbackWaitsForEmptyEventLoop = false;
  const id = context.awsRequestId;
  const before = fired;
  fired = [];
  console.log(`handler ${calls} called`);
  if (event.timerMs)
    setTimeout(() => {
      fired.push(id);
      console.log(`timer of ${id} ran`);
    }, event.timerMs);
  callback(null, { calls, requestId: id, timersBefore: before });
};
