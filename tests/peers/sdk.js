'use strict';
// tests/peers/sdk.js: the AWS SDK for JavaScript v3
// (@aws-sdk/client-lambda) calling `guile-lambda serve', its endpoint
// set to the server: a Scheme function under guile-lambda bootstrap
// (functions/guile/peer.scm) and a Node function under aws-lambda-ric
// (functions/node/index.js, with --runtime-command), side by side.
// Prints TAP; a failed check is followed by what the SDK returned and
// the server's log.
//
// tests/peers/run sets the environment: GL_PEERS_DIR (where the peers
// are installed) and GL_BUILDDIR (the build tree, for ./pre-inst-env).
const { spawn } = require('node:child_process');
const path = require('node:path');
const { createRequire } = require('node:module');

const START_LIMIT_MS = 30000;
const CALL_LIMIT_MS = 30000;

// Start guile-lambda serve ARGS in DIR on a free port; resolves to
// { port, child, log() } once it says where it listens.
function serve(builddir, dir, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(builddir, 'pre-inst-env'),
                        ['guile-lambda', 'serve', '--port', '0', ...args],
                        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'],
                          env: { ...process.env, LAMBDA_TASK_ROOT: dir } });
    let err = '';
    let started = false;
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within ${START_LIMIT_MS} ms:\n${err}`));
    }, START_LIMIT_MS);
    const server = {
      child,
      log: () => err,
      exited: new Promise((done) => child.on('close', (status, signal) =>
        done(status ?? signal))),
    };
    child.stderr.on('data', (d) => {
      err += d;
      const m = !started && /serving the Lambda Invoke API on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        started = true;
        clearTimeout(limit);
        server.port = Number(m[1]);
        resolve(server);
      }
    });
    child.on('error', (e) => { clearTimeout(limit); reject(e); });
  });
}

function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function waitFor(predicate, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (predicate())
      return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return predicate();
}

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`sdk.js: ${name} is not set; run tests/peers/run`);
    process.exit(2);
  }
  return v;
}

let count = 0;
let failed = 0;
function tapCheck(name, ok) {
  count++;
  if (!ok)
    failed++;
  console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${name}`);
}

function parts({ builddir, peersDir }) {
  const functions = path.join(__dirname, 'functions');
  const peerRequire = createRequire(path.join(peersDir, 'package.json'));
  const ricBin = path.join(peersDir, 'node_modules', '.bin', 'aws-lambda-ric');

  async function sdk() {
    const name = 'aws-sdk client-lambda';
    const { LambdaClient, InvokeCommand, GetFunctionCommand } =
      peerRequire('@aws-sdk/client-lambda');
    const server = await serve(builddir, functions, [
      '--function', 'guile=guile/peer.handler', '--concurrency', '2',
      '--function', 'node=node/index.handler',
      '--runtime-command', `'${ricBin}' node/index.handler`,
    ]);
    const client = new LambdaClient({
      endpoint: `http://127.0.0.1:${server.port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    // What a call returned, decoded, or the error it threw.
    const call = async (command) => {
      const c = { input: command.input };
      try {
        c.res = await within(CALL_LIMIT_MS, client.send(command),
                             JSON.stringify(command.input));
        if (c.res.Payload && c.res.Payload.length)
          c.body = JSON.parse(Buffer.from(c.res.Payload).toString('utf8'));
      } catch (err) {
        c.error = err;
      }
      return c;
    };
    const invoke = (functionName, payload, extra = {}) =>
      call(new InvokeCommand({ FunctionName: functionName,
                               Payload: JSON.stringify(payload), ...extra }));
    const check = (what, ok, c) => {
      tapCheck(`${name}: ${what}`, ok);
      if (!ok) {
        const shown = c && { input: c.input, error: c.error && String(c.error.stack || c.error),
                             errorName: c.error && c.error.name,
                             res: c.res && { ...c.res, Payload: undefined }, body: c.body };
        for (const line of [`call: ${JSON.stringify(shown)}`,
                            'the server\'s log (last lines):',
                            ...server.log().trimEnd().split('\n').slice(-40)])
          console.log(`#   ${line}`);
      }
    };
    const requestId = (c) => c.res && c.res.$metadata && c.res.$metadata.requestId;

    try {
      let c = await invoke('guile', { name: 'Ada' });
      check('Invoke: StatusCode 200, the handler\'s result as Payload',
            c.res && c.res.StatusCode === 200 && c.res.FunctionError === undefined
            && c.body && c.body.event.name === 'Ada' && c.body.functionName === 'guile', c);
      check('ExecutedVersion $LATEST, $metadata.requestId the invocation\'s',
            c.res && c.res.ExecutedVersion === '$LATEST' && c.body
            && requestId(c) === c.body.requestId, c);

      c = await invoke('guile', { fail: 'asked to fail' });
      check('a function error: FunctionError Unhandled, the error as Payload',
            c.res && c.res.StatusCode === 200 && c.res.FunctionError === 'Unhandled'
            && c.body && c.body.errorType === 'Peer.Failure'
            && c.body.errorMessage === 'asked to fail', c);

      c = await invoke('guile', { name: 'Tail' }, { LogType: 'Tail' });
      const tail = c.res && c.res.LogResult
        ? Buffer.from(c.res.LogResult, 'base64').toString('utf8') : '';
      check('LogType Tail: LogResult decodes to its log, from its START line',
            tail.startsWith(`START RequestId: ${requestId(c)} Version: $LATEST`)
            && tail.includes(`REPORT RequestId: ${requestId(c)}`), c);

      c = await invoke('guile', { name: 'Event' }, { InvocationType: 'Event' });
      const eventId = requestId(c);
      check('InvocationType Event: StatusCode 202', c.res && c.res.StatusCode === 202, c);
      check('and the event runs later, logged under that request id',
            eventId && await waitFor(() => server.log().includes(`REPORT RequestId: ${eventId}`),
                                     CALL_LIMIT_MS), c);

      c = await invoke('guile', {}, { InvocationType: 'DryRun' });
      check('InvocationType DryRun: StatusCode 204', c.res && c.res.StatusCode === 204, c);

      c = await invoke('nope', {});
      check('an unknown function: ResourceNotFoundException, 404',
            c.error && c.error.name === 'ResourceNotFoundException'
            && c.error.$metadata.httpStatusCode === 404
            && /Function not found/.test(c.error.message), c);

      c = await call(new InvokeCommand({ FunctionName: 'guile',
                                         Payload: Buffer.alloc(6 * 1024 * 1024 + 1, 32) }));
      check('a payload over 6 MB: RequestTooLargeException, 413',
            c.error && c.error.name === 'RequestTooLargeException'
            && c.error.$metadata.httpStatusCode === 413, c);

      const many = await Promise.all([...Array(8).keys()].map((i) =>
        invoke('guile', { waitMs: 100, i })));
      const ok = many.every((m, i) => m.res && m.res.StatusCode === 200
                                       && m.body && m.body.event.i === i);
      check('eight concurrent invokes from one client: each its own result',
            ok && new Set(many.map((m) => m.body.requestId)).size === 8, many.find((m) => !m.body));
      check('run by the two containers of the function, warm',
            ok && new Set(many.map((m) => m.body.pid)).size <= 2, many[0]);

      c = await call(new GetFunctionCommand({ FunctionName: 'guile' }));
      check('GetFunction: the function\'s name, runtime and handler',
            c.res && c.res.Configuration.FunctionName === 'guile'
            && c.res.Configuration.Runtime === 'provided.al2023'
            && c.res.Configuration.Handler === 'guile/peer.handler', c);

      c = await invoke('node', { name: 'Grace' });
      check('a Node handler under aws-lambda-ric (--runtime-command): its result',
            c.res && c.res.StatusCode === 200 && c.res.FunctionError === undefined
            && c.body && c.body.event.name === 'Grace' && c.body.functionName === 'node'
            && c.body.requestId === requestId(c), c);
      c = await invoke('node', { fail: 'asked to fail' });
      check('its thrown Error: FunctionError Unhandled, errorType from its name',
            c.res && c.res.FunctionError === 'Unhandled' && c.body
            && c.body.errorType === 'Peer.Failure', c);
      c = await invoke('node', { name: 'again' });
      check('and it stays warm: the same process, the module\'s state',
            c.res && c.body && c.body.calls === 3, c);
    } finally {
      client.destroy();
      server.child.kill('SIGTERM');
    }
    const status = await within(CALL_LIMIT_MS, server.exited, 'serve\'s exit');
    check('SIGTERM: serve exits 0', status === 0, null);
  }

  return [sdk];
}

async function main() {
  const builddir = need('GL_BUILDDIR');
  const peersDir = need('GL_PEERS_DIR');
  for (const part of parts({ builddir, peersDir })) {
    try {
      await part();
    } catch (err) {
      tapCheck(`${part.name}: the driver ran to the end`, false);
      for (const line of String(err.stack || err).split('\n'))
        console.log(`#   ${line}`);
    }
  }
  console.log(`1..${count}`);
  process.exitCode = failed ? 1 : 0;
}

main();
