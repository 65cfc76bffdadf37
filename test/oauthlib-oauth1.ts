/**
 * oauthlib's RFC 5849 provider (test/interop/oauthlib_oauth1_server.py) as a child process of the
 * system Python (Debian's python3-oauthlib): started on a free loopback port, ready once it
 * printed the port, stopped by its PID.
 */
import { spawn } from 'node:child_process';
import type { webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./interop/oauthlib_oauth1_server.py', import.meta.url));

/** oauthlib's default validator takes client keys of 20 to 30 letters and digits. */
export const CLIENT_KEY = 'tesseraOAuth1Client2024';
/** A secret that must be percent-encoded into the HMAC key and the PLAINTEXT signature (§3.4.2, §3.4.4). */
export const CLIENT_SECRET = 'kd94hf93k423kf44 &+/é';
/**
 * A second client, whose secret needs no encoding: oauthlib percent-decodes oauth_ parameters
 * from the query and the form body twice (once as the form, once more as oauth_ values), so a
 * PLAINTEXT signature sent there verifies only when it contains no "%" (an oauthlib bug; the
 * header, decoded once, is right).
 */
export const PLAIN_CLIENT_KEY = 'tesseraOAuth1PlainClient';
export const PLAIN_CLIENT_SECRET = 'ja893SD9plain';
export const CALLBACK_URI = 'http://127.0.0.1:8080/callback';

export interface OAuthlibServer {
  url: string;
  pid: number;
  /** What the server wrote to stderr (a Python traceback, if any). */
  stderr(): string;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

/** Starts the provider with its two clients; `rsaPublicKey` (SPKI PEM) is their RSA-SHA1 key. */
export async function startOAuthlibServer(rsaPublicKey: string): Promise<OAuthlibServer> {
  const child = spawn(PYTHON, [SCRIPT], {
    env: {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: '1',
      CALLBACK_URI,
      CLIENTS: JSON.stringify({
        [CLIENT_KEY]: { secret: CLIENT_SECRET, rsa_public_key: rsaPublicKey },
        [PLAIN_CLIENT_KEY]: { secret: PLAIN_CLIENT_SECRET, rsa_public_key: rsaPublicKey },
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the oauthlib server printed no port within 30 s:\n${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^\{.*\}$/m.exec(out);
      if (line === null) return;
      clearTimeout(timer);
      resolve((JSON.parse(line[0]) as { port: number }).port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the oauthlib server exited (${code}) before it listened:\n${err}`));
    });
  });
  const pid = child.pid as number;
  return {
    url: `http://127.0.0.1:${port}`,
    pid,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}

/** An RSA key pair for RSA-SHA1 (RSASSA-PKCS1-v1_5 with SHA-1), by Web Crypto: the CryptoKey, its PKCS #8 PEM, and the public key's SPKI PEM. */
export async function rsaSha1KeyPair(): Promise<{ privateKey: webcrypto.CryptoKey; privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    true,
    ['sign', 'verify'],
  )) as webcrypto.CryptoKeyPair;
  const pem = (label: string, der: ArrayBuffer) =>
    `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').trimEnd()}\n-----END ${label}-----\n`;
  return {
    privateKey,
    privatePem: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', privateKey)),
    publicPem: pem('PUBLIC KEY', await crypto.subtle.exportKey('spki', publicKey)),
  };
}
