/**
 * The node:http adapter finds routes by PlainRequest.path, which it takes from the request target
 * without the URL parser when the target is a plain path. Whatever the target, `path` must be what
 * the WHATWG URL parser makes of it (RFC 3986 §5.2.4 dot segments removed, %-escapes kept), and
 * `url` must hold the same: sent raw over TCP, since fetch would normalise them first.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createNodeServer, drain, type PlainRequest } from '@tessera/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => { data += d; });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('PlainRequest.path and url from the node:http adapter', () => {
  const server = createNodeServer(async (req: PlainRequest) => ({
    status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: req.path, pathname: req.url.pathname, search: req.url.search }),
  }), { maxBodyBytes: 1024 });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => drain(server));

  const targets = ['/token', '/', '/a/b.c/~d_e-f', '/token/../introspect', '/./token', '/.well-known/openid-configuration', '/to%6Ben', '/a b', '/token?x=1&y', '//token', '/token/', '/%2e%2e/token', '/é'];
  for (const target of targets) {
    it(`the path of ${JSON.stringify(target)} is the one the URL parser gives (RFC 3986 §5.2.4)`, async () => {
      const answer = await rawGet(port, target);
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      const expected = new URL(target, 'http://127.0.0.1');
      if (!answer.startsWith('HTTP/1.1 200')) {
        // node:http itself refuses targets it cannot parse (a space); then nothing reached the handler.
        expect(answer).toMatch(/^HTTP\/1\.1 400/);
        return;
      }
      expect(JSON.parse(body)).toEqual({ path: expected.pathname, pathname: expected.pathname, search: expected.search });
    });
  }
});
