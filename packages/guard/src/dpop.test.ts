/** The DPoP replay cache (RFC 9449 §11.1) on its own: what it forgets first. */
import { describe, expect, it } from 'vitest';
import { ReplayCache } from './dpop.js';

describe('DPoP replay cache (RFC 9449 §11.1)', () => {
  it('RFC 9449 §11.1: a jti is refused while its proof lives; a full cache forgets expired entries, then its oldest, and the latest stay refused', () => {
    const cache = new ReplayCache(3);
    expect(cache.add('a', 100, 0)).toBe(true);
    expect(cache.add('a', 100, 50)).toBe(false);
    expect(cache.add('b', 10, 0)).toBe(true);
    expect(cache.add('c', 200, 0)).toBe(true);
    // Full: a new jti pushes out the oldest (a), though it lives.
    expect(cache.add('d', 200, 5)).toBe(true);
    expect(cache.size).toBe(3);
    expect([cache.has('a', 5), cache.has('b', 5), cache.has('c', 5), cache.has('d', 5)]).toEqual([false, true, true, true]);
    // b expired: it makes room (c and d, still alive, stay).
    expect(cache.add('e', 300, 20)).toBe(true);
    expect([cache.has('b', 20), cache.has('c', 20), cache.has('d', 20), cache.has('e', 20)]).toEqual([false, true, true, true]);
  });

  it('RFC 9449 §11.1: a jti remembered again after its proof expired is kept for its new proof (its old place in line does not forget it)', () => {
    const cache = new ReplayCache(3);
    cache.add('a', 100, 0);
    cache.add('x', 10, 0);
    // x expired; a new proof with the same jti is accepted and must be remembered as long as it lives.
    expect(cache.add('x', 200, 20)).toBe(true);
    cache.add('b', 200, 20);
    // Full: a goes, then x's old place comes up (expired) and must not take x's new entry along.
    cache.add('c', 200, 20);
    expect(cache.has('a', 20)).toBe(false);
    expect(cache.has('x', 20)).toBe(true);
    expect(cache.add('x', 200, 30)).toBe(false);
  });
});
