import { describe, expect, it } from 'vitest';
import { hostOf, redactUrl } from './connection.js';

describe('libpq URI forms postgres.js does not read (PostgreSQL docs 34.1.1.2)', () => {
  it('a host parameter names the server: a socket directory or a host name, the URL keeping its other parameters', () => {
    expect(hostOf('postgres://u@/db?host=/var/run/postgresql')).toEqual({ url: 'postgres://u@localhost/db', host: '/var/run/postgresql' });
    expect(hostOf('postgresql://u@ignored:5433/db?sslmode=disable&host=db.internal')).toEqual({ url: 'postgresql://u@localhost:5433/db?sslmode=disable', host: 'db.internal' });
  });

  it('a percent-encoded directory as the host is a Unix-domain socket, port kept', () => {
    expect(hostOf('postgresql://u:p@%2Ftmp%2Fpg:5433/db')).toEqual({ url: 'postgresql://u:p@localhost:5433/db', host: '/tmp/pg' });
  });

  it('an empty host parameter is the default (the URI host); an ordinary URL is left alone', () => {
    expect(hostOf('postgres://u@db.internal/db?host=')).toEqual({ url: 'postgres://u@db.internal/db' });
    expect(hostOf('postgres://u@127.0.0.1:5432/db')).toEqual({ url: 'postgres://u@127.0.0.1:5432/db' });
  });
});

describe('redactUrl: no password in a message', () => {
  it('hides the password of the user info and of a password parameter, in every form', () => {
    expect(redactUrl('postgres://u:s3cret@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(redactUrl('postgres://u:s3cret@/db?host=/run/pg&password=other')).toBe('postgres://u:***@/db?host=/run/pg&password=***');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
  });

  it('a URL that does not parse is not repeated', () => {
    expect(redactUrl('postgres://u:s3cret@bad host/db')).toBe('the PostgreSQL URL given');
  });
});
