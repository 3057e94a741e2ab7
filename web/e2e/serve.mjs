// Development stand-in for the router's static serving: web/dist at `/`, the playground at
// `GET /graphql` (Accept: text/html) with its assets under /playground/, and everything else
// on /graphql (HTTP and WebSocket) proxied to a running router. Usage:
//   ROUTER=http://127.0.0.1:4100 PORT=4180 node web/e2e/serve.mjs
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const webDist = join(root, 'web/dist');
const playgroundDist = join(root, 'playground/dist');
const router = new URL(process.env.ROUTER ?? 'http://127.0.0.1:4000');
const port = Number(process.env.PORT ?? 4180);

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.ttf': 'font/ttf', '.woff2': 'font/woff2', '.svg': 'image/svg+xml',
};

function sendFile(res, dir, rel) {
  const file = normalize(join(dir, rel));
  if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

function proxy(req, res) {
  const up = request(
    { host: router.hostname, port: router.port, path: req.url, method: req.method, headers: req.headers },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on('error', () => res.writeHead(502).end('router unreachable'));
  req.pipe(up);
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const html = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
  if (path === '/graphql' && html) return sendFile(res, playgroundDist, 'index.html');
  if (path === '/graphql') return proxy(req, res);
  if (path.startsWith('/playground/assets/')) return sendFile(res, playgroundDist, path.slice('/playground/'.length));
  if (path === '/' || path === '/index.html') return sendFile(res, webDist, 'index.html');
  return sendFile(res, webDist, path.slice(1));
});

// WebSocket upgrades: replay the request head to the router, then pipe both ways.
server.on('upgrade', (req, socket, head) => {
  const up = connect(Number(router.port), router.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
});

server.listen(port, '127.0.0.1', () => console.log(`serving on http://127.0.0.1:${port} -> ${router.href}`));
