import { describe, expect, it } from 'vitest';
import { type FeedEvent, RevocationSet, type TokenFacts } from './revocations.js';

const NOW = 1_800_000_000; // seconds
const token: TokenFacts = { jti: 'j1', sub: 'u1', clientId: 'c1', iat: NOW - 100, grant: 'g1', family: 'f1' };
const event = (type: FeedEvent['type'], value: string | number, over: Partial<FeedEvent> = {}): FeedEvent => ({
  cursor: 1, type, value, at: NOW * 1000, until: (NOW + 3600) * 1000, ...over,
});

describe('RevocationSet', () => {
  it.each([
    ['token', 'j1'],
    ['family', 'f1'],
    ['grant', 'g1'],
    ['user', 'u1'],
    ['client', 'c1'],
  ] as const)('a %s event revokes the token it names, and no other', (type, value) => {
    const set = new RevocationSet(5);
    set.add(event(type, value));
    expect(set.check(token, NOW)).toBe('revoked');
    expect(set.check({ jti: 'j2', sub: 'u2', clientId: 'c2', iat: NOW - 100, grant: 'g2', family: 'f2' }, NOW)).toBe('live');
  });

  it('user and client events cover only tokens issued before the revocation; the same second is ambiguous (iat has 1 s precision)', () => {
    const set = new RevocationSet(5);
    const at = NOW * 1000 + 400;
    set.add(event('user', 'u1', { at }));
    expect(set.check({ ...token, iat: NOW - 1 }, NOW)).toBe('revoked');
    expect(set.check({ ...token, iat: NOW }, NOW)).toBe('ambiguous');
    expect(set.check({ ...token, iat: NOW + 1 }, NOW + 1)).toBe('live');
  });

  it('issued_before T revokes earlier tokens of everyone, not later ones', () => {
    const set = new RevocationSet(5);
    set.add(event('issued_before', NOW * 1000));
    expect(set.check({ ...token, sub: 'anyone', iat: NOW - 1 }, NOW)).toBe('revoked');
    expect(set.check({ ...token, iat: NOW }, NOW)).toBe('live');
  });

  it('a revoked id outweighs an ambiguous cut', () => {
    const set = new RevocationSet(5);
    set.add(event('client', 'c1', { at: NOW * 1000 + 1 }));
    set.add(event('token', 'j1'));
    expect(set.check({ ...token, iat: NOW }, NOW)).toBe('revoked');
  });

  it('entries are kept until their tokens would have expired (plus the clock leeway), then pruned', () => {
    const set = new RevocationSet(5);
    const until = (NOW + 60) * 1000;
    for (const type of ['token', 'family', 'grant', 'user', 'client', 'issued_before'] as const) set.add(event(type, type === 'issued_before' ? NOW * 1000 : 'x', { until }));
    expect(set.prune(NOW + 65, 100)).toBe(0);
    expect(set.check({ ...token, jti: 'x' }, NOW + 65)).toBe('revoked');
    expect(set.prune(NOW + 66, 100)).toBe(5);
    expect(set.size).toEqual({ tokens: 0, families: 0, grants: 0, users: 0, clients: 0, issuedBefore: 0 });
  });

  it('pruning visits at most `budget` entries per call and resumes where it stopped', () => {
    const set = new RevocationSet(0);
    for (let i = 0; i < 10; i++) set.add(event('token', `t${i}`, { until: NOW * 1000 }));
    expect(set.prune(NOW + 1, 4)).toBe(4);
    expect(set.prune(NOW + 1, 4)).toBe(4);
    expect(set.prune(NOW + 1, 4)).toBe(2);
    expect(set.size.tokens).toBe(0);
  });
});
