// A fake app replica: answers every request with JSON naming itself and
// echoing what the edge forwarded. On SIGTERM it stops accepting connections
// and exits once the open ones are done, like the real app.
const http = require('http');
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    backend: process.env.BACKEND_NAME,
    path: req.url,
    request_id: req.headers['x-request-id'] || null,
    forwarded_for: req.headers['x-forwarded-for'] || null,
    forwarded_proto: req.headers['x-forwarded-proto'] || null,
  }) + '\n');
});
server.keepAliveTimeout = 65000;
server.listen(3000);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
