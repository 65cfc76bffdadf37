/**
 * Fetching a client's jwks_uri, bounded, and for a client that registered itself (RFC 7591) only
 * from public addresses, so that a registrant cannot make the server send requests into the
 * network it runs in (SSRF: loopback, private networks, the cloud metadata service at
 * 169.254.169.254).
 *
 * The address is checked where the socket gets it: in the `lookup` the connection resolves its
 * host name with, and the socket connects to the addresses that lookup answered. A separate check
 * before the fetch would be a second resolution, and a name can answer a public address to the
 * check and a private one to the connection (DNS rebinding). Node's global fetch takes no lookup
 * (that needs the undici package), so this is node:http and node:https, which do.
 */
import type { LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { FetchImplementation } from 'jose';

export type { LookupFunction } from 'node:net';

/** A JWK Set larger than this is refused (inline or fetched). */
export const MAX_JWKS_BYTES = 64 * 1024;

/**
 * IPv4 ranges that are not public unicast (RFC 6890's special-purpose registry, those not
 * globally reachable, and multicast): [network, prefix length].
 */
const NON_PUBLIC_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 the unspecified address (RFC 1122 §3.2.1.3)
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback (RFC 1122)
  ['169.254.0.0', 16], // link-local (RFC 3927), cloud metadata services among them
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890)
  ['192.0.2.0', 24], // documentation, TEST-NET-1 (RFC 5737)
  ['192.88.99.0', 24], // 6to4 relay anycast, deprecated (RFC 7526)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // documentation, TEST-NET-2 (RFC 5737)
  ['203.0.113.0', 24], // documentation, TEST-NET-3 (RFC 5737)
  ['224.0.0.0', 4], // multicast (RFC 5771)
  ['240.0.0.0', 4], // reserved (RFC 1112), 255.255.255.255 broadcast among them
];

/**
 * IPv6 that may be public: global unicast (RFC 4291 §2.4), and the two forms that carry an IPv4
 * address, which then decides: IPv4-mapped (RFC 4291 §2.5.5.2) and NAT64's well-known prefix
 * (RFC 6052 §2.1, what DNS64 answers on an IPv6-only network).
 */
const MAYBE_PUBLIC_V6: [string, number][] = [['2000::', 3], ['::ffff:0:0', 96], ['64:ff9b::', 96]];

/**
 * Not public within those: special-purpose blocks of global unicast, and every non-public IPv4
 * range in both IPv4-carrying forms. (Outside 2000::/3 nothing is public: ::1 and :: (RFC 4291),
 * unique-local fc00::/7 (RFC 4193), link-local fe80::/10, site-local fec0::/10, multicast
 * ff00::/8, discard 100::/64, NAT64 local-use 64:ff9b:1::/48.)
 */
const NON_PUBLIC_V6: [string, number][] = [
  ['2001::', 32], // Teredo (RFC 4380): tunnels to an IPv4 address it hides
  ['2001:2::', 48], // benchmarking (RFC 5180)
  ['2001:10::', 28], // ORCHID (RFC 4843)
  ['2001:20::', 28], // ORCHIDv2 (RFC 7343)
  ['2001:db8::', 32], // documentation (RFC 3849)
  ['2002::', 16], // 6to4 (RFC 3056, deprecated by RFC 7526): tunnels to the IPv4 address it embeds
  ['3fff::', 20], // documentation (RFC 9637)
  ...NON_PUBLIC_V4.flatMap(([net, bits]): [string, number][] => [[`::ffff:${net}`, 96 + bits], [`64:ff9b::${net}`, 96 + bits]]),
];

const rules = (ranges: [string, number][], type: 'ipv4' | 'ipv6') => {
  const list = new BlockList();
  for (const [net, bits] of ranges) list.addSubnet(net, bits, type);
  return list;
};
const nonPublicV4 = rules(NON_PUBLIC_V4, 'ipv4');
const maybePublicV6 = rules(MAYBE_PUBLIC_V6, 'ipv6');
const nonPublicV6 = rules(NON_PUBLIC_V6, 'ipv6');

/** Whether an IP address is a public unicast one: anything else (or not an IP address) is not. */
export function isPublicAddress(address: string): boolean {
  switch (isIP(address)) {
    case 4:
      return !nonPublicV4.check(address, 'ipv4');
    case 6:
      // A zone index (fe80::1%eth0) only scopes link-local addresses.
      return !address.includes('%') && maybePublicV6.check(address, 'ipv6') && !nonPublicV6.check(address, 'ipv6');
    default:
      return false;
  }
}

/**
 * A lookup answering only public addresses: `lookup`'s answer when every address it gives is
 * public, an error otherwise (one private address among public ones is refused too: the
 * connection could try it).
 */
export function publicAddressesOnly(lookup: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, found, family) => {
      if (err) {
        callback(err, '');
        return;
      }
      const addresses: LookupAddress[] = typeof found === 'string' ? [{ address: found, family: family ?? isIP(found) }] : found;
      if (addresses.length === 0 || !addresses.every((a) => isPublicAddress(a.address))) {
        callback(Object.assign(new Error(`${hostname} resolves to an address that is not public`), { code: 'ENOTPUBLIC' }), '');
        return;
      }
      const first = addresses[0] as LookupAddress;
      if (options.all === true) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/** Every failure reads the same, so a registrant learns nothing of what listens where; the cause stays for debugging. */
const unfetched = (cause?: unknown) => new Error('the JWK Set could not be fetched', { cause });

/**
 * A fetch for jose's createRemoteJWKSet: a GET of `url` that resolves host names with `lookup`
 * (the server passes dns.lookup), only to public addresses when `publicOnly`. It answers a
 * Response only for a 200 whose body is JSON of at most MAX_JWKS_BYTES (jose itself has no
 * bound), follows no redirect (a 3xx is no 200), and fails one way, a plain Error, for
 * everything else (the caller reports any such failure in the same words).
 */
export function jwksFetch(lookup: LookupFunction, publicOnly: boolean): FetchImplementation {
  const connectLookup = publicOnly ? publicAddressesOnly(lookup) : lookup;
  return async (href, options) => {
    const url = new URL(href);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An IP address is connected to without a lookup: it is checked here instead.
    if (publicOnly && isIP(host) !== 0 && !isPublicAddress(host)) throw unfetched(new Error(`${host} is not a public address`));
    // The deadline is jose's (timeoutDuration), through the signal.
    const body = await get(url, Object.fromEntries(options.headers), connectLookup, options.signal);
    try {
      JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw unfetched(err);
    }
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/** The body of a 200 answer to a GET, at most MAX_JWKS_BYTES of it. */
function get(url: URL, headers: Record<string, string>, lookup: LookupFunction, signal: AbortSignal): Promise<Buffer> {
  const request = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (request === undefined) return Promise.reject(unfetched(new Error(`${url.protocol} is not http or https`)));
  return new Promise((resolve, reject) => {
    const fail = (cause: unknown) => {
      req.destroy();
      reject(unfetched(cause));
    };
    // agent: false, a connection of its own: a pooled one may have been opened for another
    // client's jwks_uri on the same host, by a lookup that allowed any address.
    const req = request(url, { method: 'GET', headers, lookup, signal, agent: false }, (res) => {
      res.on('error', fail);
      if (res.statusCode !== 200) {
        fail(new Error(`status ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_JWKS_BYTES) fail(new Error(`more than ${MAX_JWKS_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      // Cut short (aborted, reset) without an error of its own: settled once, so this is a no-op after 'end'.
      res.on('close', () => reject(unfetched(new Error('the answer ended early'))));
    });
    req.on('error', fail);
    req.end();
  });
}
