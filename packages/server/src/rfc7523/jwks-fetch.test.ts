import type { LookupAddress, LookupOptions } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientKeys } from './client-jwks.js';
import { isPublicAddress, jwksFetch, MAX_JWKS_BYTES, publicAddressesOnly } from './jwks-fetch.js';

/** A resolver that knows a few names, as dns.lookup answers: one address, or all of them. */
function resolver(names: Record<string, string[]>): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    const addresses: LookupAddress[] = (names[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (addresses.length === 0) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    else if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

const lookupOnce = (lookup: LookupFunction, hostname: string, all: boolean) =>
  new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>((resolve) => {
    lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family }));
  });

describe('isPublicAddress: only public unicast addresses pass', () => {
  const cases: [string, boolean, string][] = [
    ['93.184.215.14', true, 'public IPv4'],
    ['8.8.8.8', true, 'public IPv4'],
    ['1.1.1.1', true, 'public IPv4'],
    ['0.0.0.0', false, 'unspecified'],
    ['0.1.2.3', false, '"this network" 0/8'],
    ['127.0.0.1', false, 'loopback'],
    ['127.255.255.254', false, 'loopback 127/8'],
    ['10.0.0.1', false, 'RFC 1918 10/8'],
    ['172.16.0.1', false, 'RFC 1918 172.16/12'],
    ['172.31.255.255', false, 'RFC 1918 172.16/12, last'],
    ['172.32.0.1', true, 'just past 172.16/12'],
    ['192.168.1.1', false, 'RFC 1918 192.168/16'],
    ['169.254.169.254', false, 'link-local: cloud metadata'],
    ['169.254.0.1', false, 'link-local'],
    ['100.64.0.1', false, 'CGNAT 100.64/10'],
    ['100.127.255.255', false, 'CGNAT 100.64/10, last'],
    ['100.128.0.1', true, 'just past 100.64/10'],
    ['192.0.0.8', false, 'IETF protocol assignments'],
    ['192.0.2.1', false, 'documentation'],
    ['198.18.0.1', false, 'benchmarking'],
    ['224.0.0.1', false, 'multicast'],
    ['239.255.255.250', false, 'multicast'],
    ['240.0.0.1', false, 'reserved'],
    ['255.255.255.255', false, 'broadcast'],
    ['2606:4700:4700::1111', true, 'public IPv6'],
    ['2a00:1450:4001:80b::200e', true, 'public IPv6'],
    ['::', false, 'IPv6 unspecified'],
    ['::1', false, 'IPv6 loopback'],
    ['0:0:0:0:0:0:0:1', false, 'IPv6 loopback, long form'],
    ['fc00::1', false, 'unique-local fc00::/7'],
    ['fd12:3456:789a::1', false, 'unique-local fd00::/8'],
    ['fe80::1', false, 'link-local'],
    ['fe80::1%eth0', false, 'link-local with a zone'],
    ['febf::1', false, 'link-local fe80::/10, last'],
    ['fec0::1', false, 'site-local'],
    ['ff02::1', false, 'multicast'],
    ['100::1', false, 'discard-only'],
    ['2001:db8::1', false, 'documentation'],
    ['2001::1', false, 'Teredo'],
    ['2002:7f00:1::1', false, '6to4'],
    ['::ffff:127.0.0.1', false, 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', false, 'IPv4-mapped loopback, hex'],
    ['::ffff:10.1.2.3', false, 'IPv4-mapped RFC 1918'],
    ['::ffff:a9fe:a9fe', false, 'IPv4-mapped cloud metadata'],
    ['0:0:0:0:0:ffff:c0a8:101', false, 'IPv4-mapped 192.168.1.1, long form'],
    ['::ffff:0.0.0.0', false, 'IPv4-mapped unspecified'],
    ['::ffff:8.8.8.8', true, 'IPv4-mapped public'],
    ['::127.0.0.1', false, 'IPv4-compatible (deprecated)'],
    ['::8.8.8.8', false, 'IPv4-compatible (deprecated), even public'],
    ['64:ff9b::a9fe:a9fe', false, 'NAT64 of the cloud metadata address'],
    ['64:ff9b::127.0.0.1', false, 'NAT64 of loopback'],
    ['64:ff9b::8.8.8.8', true, 'NAT64 of a public address (DNS64 on an IPv6-only network)'],
    ['64:ff9b:1::1', false, 'NAT64 local use'],
    ['jwks.example', false, 'not an IP address'],
    ['', false, 'empty'],
  ];
  it.each(cases)('%s → %s (%s)', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('publicAddressesOnly(lookup): the lookup a registered client\'s jwks_uri is connected with', () => {
  const lookup = publicAddressesOnly(resolver({
    'public.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'loopback.example': ['127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': ['93.184.215.14', '10.0.0.7'],
    'v6.example': ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', 'fd00::7'],
    'mapped.example': ['::ffff:127.0.0.1'],
  }));

  it('passes on a name whose every address is public, in the form asked for (one address, or all)', async () => {
    expect(await lookupOnce(lookup, 'public.example', false)).toEqual({ err: null, address: '93.184.215.14', family: 4 });
    expect((await lookupOnce(lookup, 'public.example', true)).address).toEqual([
      { address: '93.184.215.14', family: 4 }, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
  });

  it('refuses a name with any address that is not public (loopback, link-local, one private among public ones, IPv4-mapped)', async () => {
    for (const name of ['loopback.example', 'metadata.example', 'mixed.example', 'v6.example', 'mapped.example']) {
      for (const all of [false, true]) {
        const { err } = await lookupOnce(lookup, name, all);
        expect(err?.code, name).toBe('ENOTPUBLIC');
      }
    }
  });

  it('passes the resolver\'s own error on', async () => {
    expect((await lookupOnce(lookup, 'nowhere.example', false)).err?.code).toBe('ENOTFOUND');
  });
});

describe('jwksFetch: the address is checked as the connection resolves it', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  let jwk: JWK;
  const requests: string[] = [];

  beforeAll(async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/jwks') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      } else if (req.url === '/big') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [], padding: 'x'.repeat(MAX_JWKS_BYTES) }));
      } else if (req.url === '/moved') {
        res.statusCode = 302;
        res.setHeader('location', '/jwks');
        res.end();
      } else if (req.url === '/text') {
        res.end('not json');
      } else if (req.url === '/slow') {
        // Never answers.
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server?.closeAllConnections();
    server?.close();
  });

  const toLoopback = resolver({ 'jwks.example': ['127.0.0.1'] });
  const get = (fetch: ReturnType<typeof jwksFetch>, href: string, signal = AbortSignal.timeout(5000)) =>
    fetch(href, { method: 'GET', headers: new Headers({ accept: 'application/json' }), redirect: 'manual', signal });

  it('a registered client\'s jwks_uri whose name resolves to 127.0.0.1 is refused before connecting: no connection is made', async () => {
    const before = connections;
    await expect(get(jwksFetch(toLoopback, true), `http://jwks.example:${port}/jwks`)).rejects.toThrow('the JWK Set could not be fetched');
    await expect(get(jwksFetch(toLoopback, true), `https://jwks.example:${port}/jwks`)).rejects.toThrow('the JWK Set could not be fetched');
    expect(connections - before).toBe(0);
  });

  it('an IP address (connected to without a lookup) is refused the same way when not public: no connection', async () => {
    const before = connections;
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]']) {
      await expect(get(jwksFetch(toLoopback, true), `http://${host}:${port}/jwks`)).rejects.toThrow('the JWK Set could not be fetched');
    }
    expect(connections - before).toBe(0);
  });

  it('an operator\'s jwks_uri (any address) connects where the given lookup says: the lookup is the one the connection uses', async () => {
    const before = connections;
    const res = await get(jwksFetch(toLoopback, false), `http://jwks.example:${port}/jwks`);
    expect(await res.json()).toEqual({ keys: [jwk] });
    expect(connections - before).toBe(1);
  });

  it('the bounds stay: more than 64 KiB, a status other than 200 (a redirect is not followed), a body that is not JSON, a timeout: one error', async () => {
    const fetch = jwksFetch(toLoopback, false);
    requests.length = 0;
    for (const path of ['/big', '/moved', '/text', '/missing']) {
      await expect(get(fetch, `http://jwks.example:${port}${path}`), path).rejects.toThrow('the JWK Set could not be fetched');
    }
    expect(requests).toEqual(['/big', '/moved', '/text', '/missing']);
    const started = Date.now();
    await expect(get(fetch, `http://jwks.example:${port}/slow`, AbortSignal.timeout(200))).rejects.toThrow('the JWK Set could not be fetched');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ClientKeys: a client registered at /register (it holds a registration token hash) is held to public addresses, an operator\'s client is not, for the same jwks_uri', async () => {
    const keys = new ClientKeys(toLoopback);
    const jwksUri = `http://jwks.example:${port}/jwks`;
    const header = { alg: 'ES256', kid: 'k1' };
    const token = { payload: '', signature: '' };
    const before = connections;
    const operators = keys.resolver({ jwks: null, jwksUri, registrationTokenHash: null });
    expect(await operators?.(header, token)).toBeDefined();
    expect(connections - before).toBe(1);
    const registered = keys.resolver({ jwks: null, jwksUri, registrationTokenHash: 'hash' });
    expect(registered).not.toBe(operators);
    await expect(registered?.(header, token)).rejects.toThrow('the JWK Set could not be fetched');
    expect(connections - before).toBe(1);
  });
});
