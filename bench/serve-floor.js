// bench/serve-floor.js: the floor of the serve bench (bench/serve.sh):
// a Node `http' server that parses each request's JSON body and answers
// it, which is the least an Invoke API can do per request.  It prints
// its port on standard output once it listens on 127.0.0.1.
'use strict';
const http = require('node:http');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let event;
    try {
      event = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: String(err) }));
      return;
    }
    const body = JSON.stringify({ ok: true, id: event.id });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
