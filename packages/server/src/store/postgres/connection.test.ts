import { describe, expect, it } from 'vitest';
import { describeFailure, isUnavailable, libpqOptions, redactUrl } from './connection.js';

describe('libpq URI forms postgres.js does not read (PostgreSQL docs 34.1.1.2)', () => {
  it('a host parameter names the server: a socket directory or a host name, the URL keeping its other parameters', () => {
    expect(libpqOptions('postgres://u@/db?host=/var/run/postgresql')).toEqual({ url: 'postgres://u@localhost/db', options: { host: '/var/run/postgresql' } });
    expect(libpqOptions('postgresql://u@ignored:5433/db?sslmode=disable&host=db.internal')).toEqual({
      url: 'postgresql://u@localhost:5433/db?sslmode=disable', options: { host: 'db.internal' },
    });
  });

  it('port, user, dbname and password parameters become options, not settings sent to the server', () => {
    expect(libpqOptions('postgres:///?host=/run/pg&port=5433&user=tessera&dbname=auth&password=pw')).toEqual({
      url: 'postgres://localhost/', options: { host: '/run/pg', port: 5433, user: 'tessera', database: 'auth', password: 'pw' },
    });
    expect(libpqOptions('postgres://db.internal/auth?user=tessera')).toEqual({ url: 'postgres://db.internal/auth', options: { user: 'tessera' } });
    // Not a port: left in place for PostgreSQL to refuse by name.
    expect(libpqOptions('postgres://h/db?port=fast')).toEqual({ url: 'postgres://h/db?port=fast', options: {} });
  });

  it('a percent-encoded directory as the host is a Unix-domain socket, port kept', () => {
    expect(libpqOptions('postgresql://u:p@%2Ftmp%2Fpg:5433/db')).toEqual({ url: 'postgresql://u:p@localhost:5433/db', options: { host: '/tmp/pg' } });
  });

  it('an empty host parameter is the default (the URI host); an ordinary URL is left alone', () => {
    expect(libpqOptions('postgres://u@db.internal/db?host=')).toEqual({ url: 'postgres://u@db.internal/db', options: {} });
    expect(libpqOptions('postgres://u@127.0.0.1:5432/db')).toEqual({ url: 'postgres://u@127.0.0.1:5432/db', options: {} });
  });
});

describe('redactUrl: no password in a message', () => {
  it('hides the password of the user info (a raw @ in it too) and of a password parameter, in every form', () => {
    expect(redactUrl('postgres://u:s3cret@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(redactUrl('postgres://u:p@ss@127.0.0.1/db')).toBe('postgres://u:***@127.0.0.1/db');
    expect(redactUrl('postgres://u:s3cret@/db?host=/run/pg&password=other')).toBe('postgres://u:***@/db?host=/run/pg&password=***');
    expect(redactUrl('postgres://u@h/db?password=other')).toBe('postgres://u@h/db?password=***');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
  });

  it('a URL that does not parse is not repeated', () => {
    expect(redactUrl('postgres://u:s3cret@bad host/db')).toBe('the PostgreSQL URL given');
  });
});

describe('a socket that is not there', () => {
  it('is the database being away (a 503 the client may retry), as a refused TCP connection is, and says so', () => {
    const err = Object.assign(new Error('connect ENOENT /run/pg/.s.PGSQL.5432'), { code: 'ENOENT' });
    expect(isUnavailable(err)).toBe(true);
    expect(describeFailure(err, 'postgres://u:pw@/db?host=/run/pg')).toBe(
      'cannot connect to PostgreSQL at postgres://u:***@/db?host=/run/pg: no socket in that directory (is PostgreSQL running, with its socket there?)',
    );
  });
});
