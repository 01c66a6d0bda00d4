'use strict';
// tests/peers/fun.js: @vercel/fun, a Runtime API server of its own, runs
// `provided`-runtime functions by executing their `bootstrap`: here
// guile-lambda bootstrap with a Scheme handler (functions/guile), the zip
// that `guile-lambda package' makes of that handler, and the
// shell-and-curl client curl-bootstrap.sh (functions/curl); then the
// parts of batch.js, where guile-lambda's supervisor runs aws-lambda-ric
// and curl-bootstrap.sh as its containers.  Prints TAP.
// A failed check is followed, as TAP comments, by what fun returned, the
// runtime's log and fun's own debug log, so CI's output alone tells why.
//
// tests/peers/run sets the environment: GL_PEERS_DIR (where the peers
// are installed), GL_BUILDDIR (the build tree, for ./pre-inst-env) and
// GL_PEERS_WORK (a scratch folder for the runtimes' logs).
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`fun.js: ${name} is not set; run tests/peers/run`);
    process.exit(2);
  }
  return v;
}
const peersDir = need('GL_PEERS_DIR');
const builddir = need('GL_BUILDDIR');
const work = need('GL_PEERS_WORK');

// fun's debug lines, kept to explain a failure; plain text, no colours.
process.env.DEBUG_COLORS = 'no';
const peerRequire = createRequire(path.join(peersDir, 'package.json'));
const fun = peerRequire('@vercel/fun');
const debug = createRequire(peerRequire.resolve('@vercel/fun'))('debug');
const funLog = [];
debug.log = (...args) => funLog.push(util.format(...args));
debug.enable('@vercel/fun:*');

const INVOKE_LIMIT_MS = 20000;
const TIMEOUT_S = 2;            // AWS_LAMBDA_FUNCTION_TIMEOUT

// TAP.
let count = 0;
let failed = 0;
function check(name, ok, inv) {
  count++;
  console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${name}`);
  if (!ok) {
    failed++;
    for (const line of diagnostics(inv).flatMap((l) => l.split('\n')))
      console.log(`#   ${line}`);
  }
}

function diagnostics(inv) {
  if (!inv)
    return [];
  const lines = [`event: ${JSON.stringify(inv.payload)}`,
                 `fun returned after ${inv.ms} ms: ` +
                 (inv.error ? `an exception: ${inv.error.stack || inv.error}`
                            : JSON.stringify(inv.res))];
  const log = inv.runtimeLog();
  lines.push(`the runtime's log${inv.fn ? ` (${inv.fn.logFile})` : ''}:`,
             ...(log ? log.split('\n') : ['(empty)']).map((l) => `  ${l}`));
  lines.push("fun's debug log, last lines:",
             ...inv.funLog().slice(-30).map((l) => `  ${l}`));
  return lines;
}

function sizeOf(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function createFunction(name, dir, handler) {
  const logFile = path.join(work, `${name}.log`);
  fs.writeFileSync(logFile, '');
  const fn = await fun.createFunction({
    FunctionName: name,
    Code: { Directory: path.join(__dirname, 'functions', dir) },
    Handler: handler,
    Runtime: 'provided',
    MemorySize: 128,
    // fun keeps Timeout but enforces none, and sends a deadline that is
    // no time (5000): guile-lambda bootstrap then takes this variable's.
    Timeout: TIMEOUT_S,
    Environment: {
      Variables: {
        GL_BUILDDIR: builddir,
        GL_RUNTIME_LOG: logFile,
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(TIMEOUT_S),
      },
    },
  });
  fn.logFile = logFile;
  return fn;
}

// What an invocation of FN with PAYLOAD left: fun's answer (res, body),
// or the exception (error), and the logs written meanwhile.
function observe(fn, payload) {
  const logFrom = sizeOf(fn.logFile);
  const funFrom = funLog.length;
  return {
    fn, payload, start: Date.now(), body: {},
    runtimeLog: () => (fn.logFile
                       ? fs.readFileSync(fn.logFile, 'utf8').slice(logFrom).trimEnd()
                       : '(on fun\'s standard error)'),
    funLog: () => funLog.slice(funFrom),
  };
}

// One invocation through fun's invoke(), as its Lambda-like API gives it:
// { StatusCode, FunctionError?, Payload }.
async function invoke(fn, payload) {
  const inv = observe(fn, payload);
  try {
    inv.res = await within(INVOKE_LIMIT_MS,
                           fn.invoke({ Payload: JSON.stringify(payload) }),
                           `invoke ${JSON.stringify(payload)}`);
    inv.body = JSON.parse(String(inv.res.Payload));
  } catch (err) {
    inv.error = err;
  }
  inv.ms = Date.now() - inv.start;
  return inv;
}

const succeeded = (inv) => inv.res !== undefined && inv.res.StatusCode === 200
  && inv.res.FunctionError === undefined;

// The runtime posted its outcome under the request id fun handed out.
const postedTo = (inv, kind) => inv.funLog().some((l) =>
  l.includes(`POST /2018-06-01/runtime/invocation/${inv.body.requestId}/${kind}`));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!alive(pid))
      return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !alive(pid);
}

async function destroyed(fn, pid, name, inv) {
  try {
    await within(INVOKE_LIMIT_MS, fn.destroy(), `${name}: destroy`);
  } catch (err) {
    check(`${name}: fun's destroy() ends`, false,
          { ...inv, res: undefined, payload: 'destroy()', error: err, ms: 0 });
    return;
  }
  check(`${name}: destroy() stops the runtime process (pid ${pid})`,
        pid > 0 && await gone(pid, 3000), inv);
}

async function guile() {
  const fn = await createFunction('guile-peer', 'guile', 'peer.handler');
  await peerChecks('guile', fn, 'guile-peer');
}

// What fun does with functions/guile/peer.scm, run by FN, named
// FUNCTION_NAME.  Its log is checked when the driver has it (FN.logFile).
async function peerChecks(name, fn, functionName) {
  let inv = await invoke(fn, { name: 'Ada' });
  check(`${name}: success: fun returns the handler's result`,
        succeeded(inv) && inv.body.calls === 1 && inv.body.event
        && inv.body.event.name === 'Ada', inv);
  check(`${name}: the context has fun's function name and its request id`,
        inv.body.functionName === functionName
        && typeof inv.body.requestId === 'string' && inv.body.requestId !== '', inv);
  check(`${name}: the response went to /invocation/<that id>/response`,
        postedTo(inv, 'response'), inv);
  check(`${name}: fun's deadline (5000) is no time: the function's timeout holds`,
        inv.body.remainingMs > 0 && inv.body.remainingMs <= TIMEOUT_S * 1000, inv);
  const pid = inv.body.pid;

  inv = await invoke(fn, { name: 'Grace' });
  check(`${name}: warm: the second invocation runs in the same container, ` +
        'with the module\'s state', succeeded(inv) && inv.body.calls === 2
        && inv.body.pid === pid, inv);

  inv = await invoke(fn, { waitMs: 100 });
  check(`${name}: an await on a timer completes across fun's SIGSTOP/SIGCONT`,
        succeeded(inv) && inv.body.calls === 3 && inv.ms >= 100, inv);

  inv = await invoke(fn, { fail: 'asked to fail' });
  check(`${name}: a function error: FunctionError 'Handled' with the errorType`,
        inv.res !== undefined && inv.res.FunctionError === 'Handled'
        && inv.body.errorType === 'Peer.Failure'
        && inv.body.errorMessage === 'asked to fail', inv);
  check(`${name}: the error went to /invocation/<id>/error`,
        inv.funLog().some((l) => /POST \/2018-06-01\/runtime\/invocation\/[^/]+\/error/.test(l)),
        inv);

  // fun's own wrapper throws the error as a LambdaError named after it.
  inv = observe(fn, { fail: 'thrown' });
  try {
    inv.res = await within(INVOKE_LIMIT_MS, fn(inv.payload), 'fn()');
  } catch (err) {
    inv.error = err;
  }
  inv.ms = Date.now() - inv.start;
  check(`${name}: fun's fn() throws it, named after its errorType`,
        inv.error && inv.error.name === 'Peer.Failure'
        && inv.error.message === 'thrown', inv);

  inv = await invoke(fn, { name: 'Edsger' });
  check(`${name}: an error keeps the container warm`,
        succeeded(inv) && inv.body.calls === 6 && inv.body.pid === pid, inv);

  inv = await invoke(fn, { spinMs: 10000 });
  check(`${name}: a handler spinning past ${TIMEOUT_S} s times out: Sandbox.Timedout`,
        inv.res !== undefined && inv.res.FunctionError === 'Handled'
        && inv.body.errorType === 'Sandbox.Timedout'
        && inv.body.errorMessage === `Task timed out after ${TIMEOUT_S}.00 seconds`, inv);
  check(`${name}: at the timeout, not before nor long after`,
        inv.ms >= TIMEOUT_S * 1000 - 100 && inv.ms < TIMEOUT_S * 1000 + 2500, inv);

  inv = await invoke(fn, { name: 'Barbara' });
  check(`${name}: after a timeout the container is reset: the next event is cold`,
        succeeded(inv) && inv.body.calls === 1 && inv.body.pid === pid, inv);

  if (fn.logFile)
    logChecks(name, fs.readFileSync(fn.logFile, 'utf8'), inv);
  await destroyed(fn, pid, name, inv);
}

function logChecks(name, log, inv) {
  check(`${name}: the runtime writes no START, END or REPORT: the platform does`,
        !/^(START|END|REPORT) /m.test(log), inv);
  check(`${name}: its log lines carry the request id`,
        /\tERROR\tInvoke Error /.test(log)
        && /\t[0-9a-f-]{36}\tERROR\tTask timed out after/.test(log), inv);
  check(`${name}: it says once that fun's deadline is no time`,
        (log.match(/Lambda-Runtime-Deadline-Ms '5000'/g) || []).length === 1, inv);
}

async function guileInitError() {
  const name = 'guile';
  const fn = await createFunction('guile-init-error', 'guile', 'missing.handler');
  const inv = await invoke(fn, {});
  check(`${name}: an init error: FunctionError 'Unhandled', Runtime.ImportModuleError`,
        inv.res !== undefined && inv.res.FunctionError === 'Unhandled'
        && inv.body.errorType === 'Runtime.ImportModuleError', inv);
  check(`${name}: it went to /runtime/init/error`,
        inv.funLog().some((l) => l.includes('POST /2018-06-01/runtime/init/error')), inv);
  await within(INVOKE_LIMIT_MS, fn.destroy(), 'destroy');
}

// The zip of `guile-lambda package', as fun runs a function given as a
// zip: unpacked into a folder of its own, its own bootstrap started
// there, the same checks as for guile().  The runtime's log goes to
// fun's standard error.
async function packaged() {
  const name = 'packaged';
  const src = path.join(work, 'packaged-src');
  const zip = path.join(work, 'packaged.zip');
  fs.mkdirSync(src);
  fs.copyFileSync(path.join(__dirname, 'functions', 'guile', 'peer.scm'),
                  path.join(src, 'peer.scm'));
  execFileSync(path.join(builddir, 'pre-inst-env'),
               ['guile-lambda', 'package', src, '-o', zip],
               { stdio: ['ignore', 'ignore', 'inherit'] });
  const fn = await fun.createFunction({
    FunctionName: 'packaged-peer',
    Code: { ZipFile: fs.readFileSync(zip) },
    Handler: 'peer.handler',
    Runtime: 'provided',
    MemorySize: 128,
    Timeout: TIMEOUT_S,
    Environment: { Variables: { AWS_LAMBDA_FUNCTION_TIMEOUT: String(TIMEOUT_S) } },
  });

  await peerChecks(name, fn, 'packaged-peer');
}

async function curl() {
  const name = 'curl';
  const fn = await createFunction('curl-peer', 'curl', 'function.handler');

  let inv = await invoke(fn, { name: 'Ada', list: [1, 2] });
  check(`${name}: success: fun returns what the shell function printed`,
        succeeded(inv) && util.isDeepStrictEqual(inv.body.event, { name: 'Ada', list: [1, 2] })
        && inv.body.invocation === 1, inv);
  check(`${name}: the response went to /invocation/<that id>/response`,
        postedTo(inv, 'response'), inv);
  const pid = inv.body.pid;

  inv = await invoke(fn, { name: 'Grace' });
  check(`${name}: warm: the same process serves the second event`,
        succeeded(inv) && inv.body.invocation === 2 && inv.body.pid === pid, inv);

  inv = await invoke(fn, { fail: true });
  check(`${name}: a function error: FunctionError 'Handled' with the errorType`,
        inv.res !== undefined && inv.res.FunctionError === 'Handled'
        && inv.body.errorType === 'Peer.Failure', inv);

  inv = await invoke(fn, { name: 'Edsger' });
  check(`${name}: and the runtime goes on`,
        succeeded(inv) && inv.body.invocation === 4 && inv.body.pid === pid, inv);

  await destroyed(fn, pid, name, inv);

  const broken = await createFunction('curl-init-error', 'curl', 'function.missing');
  inv = await invoke(broken, {});
  check(`${name}: an init error: FunctionError 'Unhandled', Runtime.HandlerNotFound`,
        inv.res !== undefined && inv.res.FunctionError === 'Unhandled'
        && inv.body.errorType === 'Runtime.HandlerNotFound', inv);
  await within(INVOKE_LIMIT_MS, broken.destroy(), 'destroy');
}

async function main() {
  const batchParts = require('./batch.js')({ check, builddir, peersDir });
  for (const part of [guile, guileInitError, packaged, curl, ...batchParts]) {
    try {
      await part();
    } catch (err) {
      check(`${part.name}: the driver ran to the end`, false,
            { payload: '-', ms: 0, error: err, runtimeLog: () => '',
              funLog: () => funLog.slice(-30) });
    }
  }
  console.log(`1..${count}`);
  process.exitCode = failed ? 1 : 0;
}

main();
