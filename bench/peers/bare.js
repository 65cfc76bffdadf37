#!/usr/bin/env node
/**
 * The ceiling: a bare node:http server that reads the request body and answers every request with
 * the same small JSON body (the size of a token response), no parsing, no storage. No endpoint of
 * any server can be faster than this on the same machine with the same load generator.
 *
 *   node bench/peers/bare.js PORT
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const body = Buffer.from(JSON.stringify({ access_token: 'x'.repeat(47), token_type: 'Bearer', expires_in: 3600, scope: 'read write' }));
const headers = { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': body.length };

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
