/**
 * One load run: autocannon (as a library) with a fixed number of connections for a fixed time,
 * every response checked.
 *
 * A request is `{ path, headers, body, check(status, body) → boolean }`; `body` may be a function
 * `(context) → string`, called before each request (autocannon's `setupRequest`), and
 * `onResponse(status, body, context)` sees each response with the same context. The result's
 * req/s is completed responses ÷ elapsed seconds (so a run stopped early, e.g. when a token pool
 * ran out, is still right); `wrong` counts responses that failed `check` (non-2xx included).
 * `attach(instance)` gets the autocannon instance (to stop it early); `extra()` adds fields to
 * the result.
 */
import autocannon from 'autocannon';

export function runLoad({ url, request, connections, duration, amount }) {
  let wrong = 0;
  const spec = {
    method: 'POST',
    path: request.path,
    headers: request.headers,
    onResponse(status, body, context) {
      if (!request.check(status, body)) wrong++;
      request.onResponse?.(status, body, context);
    },
  };
  if (typeof request.body === 'function') {
    spec.setupRequest = (req, context) => ({ ...req, body: request.body(context) });
  } else {
    spec.body = request.body;
  }
  const options = { url, connections, requests: [spec], ...(amount ? { amount } : { duration }) };
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, r) => {
      if (err) return reject(err);
      const elapsed = r.duration;
      resolve({
        rps: Math.round(r.requests.total / elapsed),
        p50: r.latency.p50,
        p99: r.latency.p99,
        requests: r.requests.total,
        seconds: elapsed,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        wrong,
        ...request.extra?.(),
      });
    });
    request.attach?.(instance);
  });
}
