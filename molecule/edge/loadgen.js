// Sends requests through the edge from 4 parallel clients (new connection per
// request) until SWITCH_TO has been answering for AFTER_MS (or DEADLINE_MS has
// passed), then prints one JSON line: how many succeeded, how many failed (any
// status but 200, or a connection error) and which replica answered, in order
// of first appearance.
const http = require('http');
const deadline = Date.now() + Number(process.env.DEADLINE_MS || 45000);
let end = deadline;
const result = {ok: 0, failed: 0, errors: [], backends: {}, order: []};
function client() {
  return new Promise((resolve) => {
    const next = () => {
      if (Date.now() > end) return resolve();
      const req = http.get({host: process.env.EDGE_HOST, port: 80, path: '/load', agent: false}, (res) => {
        let body = '';
        res.on('data', (chunk) => { body += chunk; });
        res.on('end', () => {
          if (res.statusCode === 200) {
            const name = JSON.parse(body).backend;
            result.ok += 1;
            if (!(name in result.backends)) {
              result.order.push(name);
              if (name === process.env.SWITCH_TO) end = Math.min(deadline, Date.now() + Number(process.env.AFTER_MS || 6000));
            }
            result.backends[name] = (result.backends[name] || 0) + 1;
          } else {
            result.failed += 1;
            result.errors.push(res.statusCode);
          }
          next();
        });
      });
      req.on('error', (err) => { result.failed += 1; result.errors.push(err.code); next(); });
    };
    next();
  });
}
Promise.all([client(), client(), client(), client()]).then(() => console.log(JSON.stringify(result)));
