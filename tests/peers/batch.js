'use strict';
// tests/peers/batch.js: Runtime API clients other than guile-lambda
// bootstrap run as the containers of guile-lambda's supervisor, through
// `guile-lambda batch --runtime-command CMD`: aws-lambda-ric (the AWS
// runtime interface client for Node) with the handlers of
// functions/node, and the shell-and-curl client curl-bootstrap.sh with
// functions/curl.  fun.js runs these parts after its own, in one TAP
// stream; a failed check is followed by batch's records and log.
const { spawn } = require('node:child_process');
const path = require('node:path');
const util = require('node:util');

const STEP_LIMIT_MS = 30000;

// Run guile-lambda batch ARGS in DIR, feeding it STEPS one at a time: a
// string is an event, sent once every earlier record came back; a number
// is a pause of that many ms after the record before (the container is
// frozen meanwhile).  Resolves to { records, stderr, status, ms }.
function batch(builddir, dir, args, steps) {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(path.join(builddir, 'pre-inst-env'),
                        ['guile-lambda', 'batch', ...args],
                        { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'],
                          env: { ...process.env, LAMBDA_TASK_ROOT: dir } });
    let out = '';
    let err = '';
    let sent = 0;
    let waiting = null;
    const records = () => out.split('\n').filter((l) => l !== '').map((l) => {
      try { return JSON.parse(l); } catch { return { unparsed: l }; }
    });
    const limit = setTimeout(() => {
      err += `\nbatch.js: no record within ${STEP_LIMIT_MS} ms: killed\n`;
      child.kill('SIGKILL');
    }, STEP_LIMIT_MS);
    child.stdout.on('data', (d) => {
      out += d;
      if (waiting && records().length >= sent) {
        const go = waiting;
        waiting = null;
        go();
      }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.stdin.on('error', () => {});
    child.on('close', (status, signal) => {
      clearTimeout(limit);
      resolve({ records: records(), stderr: err, status: status ?? signal,
                ms: Date.now() - start, args });
    });
    const next = (i) => {
      if (i >= steps.length) {
        child.stdin.end();
        return;
      }
      const step = steps[i];
      if (typeof step === 'number') {
        setTimeout(() => next(i + 1), step);
        return;
      }
      child.stdin.write(step + '\n');
      sent++;
      waiting = () => { limit.refresh(); next(i + 1); };
      if (records().length >= sent) {
        waiting = null;
        next(i + 1);
      }
    };
    next(0);
  });
}

function diagnostics(run) {
  return [`guile-lambda batch ${run.args.map((a) => JSON.stringify(a)).join(' ')}: ` +
          `exit ${run.status} after ${run.ms} ms`,
          'records:', ...run.records.map((r) => `  ${JSON.stringify(r)}`),
          'standard error:', ...run.stderr.trimEnd().split('\n').map((l) => `  ${l}`)];
}

// The log lines from START of REQUEST-ID to its END, and each line's
// place in the whole log.
const lines = (run) => run.stderr.split('\n');
const indexOf = (run, prefix) => lines(run).findIndex((l) => l.startsWith(prefix));
const fields = (line) => line.split('\t');

// What a freeze and thaw looked like, as a list of steps anyone can
// compare: where the timer of invocation 1 ran, which request id its
// line carries, and what the handler of invocation 2 saw.
function freezeStory(run) {
  const [r1, r2] = run.records;
  if (!r1 || !r2 || !r1.result || !r2.result)
    return ['no two results'];
  const id1 = r1.requestId;
  const id2 = r2.requestId;
  const all = lines(run);
  const timer = all.findIndex((l) => l.endsWith(`timer of ${id1} ran`));
  const end1 = indexOf(run, `END RequestId: ${id1}`);
  const start2 = indexOf(run, `START RequestId: ${id2}`);
  const called2 = all.findIndex((l) => l.endsWith('\thandler 2 called'));
  const end2 = indexOf(run, `END RequestId: ${id2}`);
  const story = [];
  if (timer < 0)
    story.push('the timer never ran');
  else if (timer < end1)
    story.push('the timer ran during invocation 1');
  else if (timer < start2)
    story.push('the timer ran between invocations (not frozen)');
  else if (timer < called2)
    story.push('the timer ran at the thaw, before handler 2 was called');
  else if (timer < end2)
    story.push('the timer ran in invocation 2, after its handler was called');
  else
    story.push('the timer ran after invocation 2');
  if (timer >= 0) {
    const carries = fields(all[timer])[1];
    story.push(carries === id1 ? 'its line carries the request id of invocation 1'
               : carries === id2 ? 'its line carries the request id of invocation 2'
                 : `its line carries ${carries}`);
  }
  story.push(util.isDeepStrictEqual(r2.result.timersBefore, [id1])
             ? 'handler 2 saw that timer had run' : 'handler 2 did not see it run');
  return story;
}

module.exports = function parts({ check: tapCheck, builddir, peersDir }) {
  const functions = path.join(__dirname, 'functions');
  const check = (name, ok, run) => {
    tapCheck(name, ok);
    if (!ok && run)
      for (const line of diagnostics(run))
        console.log(`#   ${line}`);
  };
  const ricBin = path.join(peersDir, 'node_modules', '.bin', 'aws-lambda-ric');
  const ric = (handler) => `'${ricBin}' ${handler}`;
  const freezeSteps = ['{"timerMs":200}', 800, '{}'];
  let schemeStory = null;
  let nodeStory = null;

  async function ricNode() {
    const name = 'aws-lambda-ric';
    const dir = path.join(functions, 'node');
    let run = await batch(builddir, dir,
                          ['index.handler', '--runtime-command', ric('index.handler')],
                          ['{"name":"Ada"}', '{"fail":"asked to fail"}', '{"name":"Grace"}']);
    const [r1, r2, r3] = run.records;
    check(`${name}: success: the record has the handler's result`,
          r1 && r1.status === 'success' && r1.result.calls === 1
          && r1.result.event.name === 'Ada' && r1.result.requestId === r1.requestId
          && typeof r1.initDurationMs === 'number', run);
    check(`${name}: the context has the function's name`,
          r1 && r1.result && r1.result.functionName === 'index', run);
    check(`${name}: a thrown Error: status error, errorType from its name`,
          r2 && r2.status === 'error' && r2.error.errorType === 'Peer.Failure'
          && r2.error.errorMessage === 'asked to fail', run);
    check(`${name}: its Invoke Error line carries that request id`,
          r2 && lines(run).some((l) => l.includes(`\t${r2.requestId}\tERROR\tInvoke Error`)), run);
    check(`${name}: warm after the error: the same process, the module's state`,
          r3 && r3.status === 'success' && r3.result.calls === 3
          && r1.result && r3.result.pid === r1.result.pid
          && r3.initDurationMs === undefined, run);
    check(`${name}: START, END and REPORT once per event, from the supervisor`,
          run.records.length === 3
          && run.records.every((r) => lines(run).filter((l) =>
            l.startsWith(`START RequestId: ${r.requestId}`)).length === 1
            && lines(run).filter((l) => l.startsWith(`REPORT RequestId: ${r.requestId}`)).length === 1),
          run);
    check(`${name}: batch exits 1 (one event failed)`, run.status === 1, run);

    run = await batch(builddir, dir,
                      ['index.callback', '--runtime-command', ric('index.callback')],
                      freezeSteps);
    nodeStory = freezeStory(run);
    check(`${name}: callback style, callbackWaitsForEmptyEventLoop false: ` +
          'success at once, the timer left pending',
          run.records.length === 2 && run.records.every((r) => r.status === 'success')
          && run.records[0].result.calls === 1, run);
    check(`${name}: the timer that came due while frozen ran at the thaw, ` +
          'before handler 2 was called (' + nodeStory.join('; ') + ')',
          nodeStory[0] === 'the timer ran at the thaw, before handler 2 was called'
          && nodeStory[1] === 'its line carries the request id of invocation 1'
          && nodeStory[2] === 'handler 2 saw that timer had run', run);
    if (schemeStory)
      check(`${name}: freeze and thaw look as with a Scheme container under bootstrap`,
            util.isDeepStrictEqual(nodeStory, schemeStory), run);
  }

  async function schemeFreeze() {
    const name = 'guile bootstrap';
    const run = await batch(builddir, path.join(functions, 'guile'),
                            ['freeze.handler'], freezeSteps);
    schemeStory = freezeStory(run);
    check(`${name}: the Scheme twin under the default container: ` +
          schemeStory.join('; '),
          run.records.length === 2 && run.records.every((r) => r.status === 'success')
          && schemeStory[0] === 'the timer ran at the thaw, before handler 2 was called'
          && schemeStory[1] === 'its line carries the request id of invocation 1'
          && schemeStory[2] === 'handler 2 saw that timer had run', run);
  }

  async function curlBatch() {
    const name = 'curl under batch';
    const dir = path.join(functions, 'curl');
    const cmd = `/bin/sh '${path.join(__dirname, 'curl-bootstrap.sh')}'`;
    let run = await batch(builddir, dir,
                          ['function.handler', '--runtime-command', cmd],
                          ['{"name":"Ada","list":[1,2]}', '{"name":"Grace"}',
                           '{"fail":true}', '{"name":"Edsger"}']);
    const [r1, r2, r3, r4] = run.records;
    check(`${name}: success: the record has what the shell function printed`,
          r1 && r1.status === 'success' && r1.result.invocation === 1
          && util.isDeepStrictEqual(r1.result.event, { name: 'Ada', list: [1, 2] })
          && r1.result.requestId === r1.requestId, run);
    check(`${name}: warm: the same process serves the second event`,
          r2 && r2.status === 'success' && r2.result.invocation === 2
          && r1.result && r2.result.pid === r1.result.pid, run);
    check(`${name}: a function error: status error with its errorType`,
          r3 && r3.status === 'error' && r3.error.errorType === 'Peer.Failure', run);
    check(`${name}: and the runtime goes on, warm`,
          r4 && r4.status === 'success' && r4.result.invocation === 4
          && r1.result && r4.result.pid === r1.result.pid, run);
    check(`${name}: batch exits 1 (one event failed)`, run.status === 1, run);

    run = await batch(builddir, dir, ['function.missing', '--runtime-command', cmd],
                      ['{}', '{}']);
    check(`${name}: an init error fails each event: Runtime.HandlerNotFound`,
          run.records.length === 2
          && run.records.every((r) => r.status === 'error'
                               && r.error.errorType === 'Runtime.HandlerNotFound'), run);
    check(`${name}: each of them a cold start`,
          run.records.length === 2
          && run.records.every((r) => typeof r.initDurationMs === 'number'), run);
  }

  return [schemeFreeze, ricNode, curlBatch];
};
