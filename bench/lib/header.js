/**
 * A header value as node:http hands it to a handler: one flat string, made from the bytes that
 * arrived. A string built with `+` or a template literal is a rope in V8 (two strings joined
 * lazily), which the code reading it flattens, a copy no server pays: benchmarks that build
 * headers in JavaScript pass them through this first, outside the timed part.
 */
export const headerValue = (value) => Buffer.from(value, 'latin1').toString('latin1');
