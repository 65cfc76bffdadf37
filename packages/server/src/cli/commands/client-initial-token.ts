/** `tessera client initial-token`: an initial access token for /register (RFC 7591 §3). */
import { EXIT, parse, positiveInt, type Command } from '../args.js';
import { fields, note, print, printJson, withTessera } from '../io.js';

/** A day: long enough to hand the token to whoever registers, short enough not to linger. */
const DEFAULT_EXPIRES_IN = 86_400;

export const initialToken: Command = {
  name: 'client initial-token',
  synopsis: '[--expires-in SECONDS] [--json]',
  summary: 'mint an initial access token that lets one client register at /register (shown once)',
  help: `  --expires-in S      seconds the token stays usable (default ${DEFAULT_EXPIRES_IN})
  The token registers one client, once (RFC 7591 §3); it is stored hashed and shown only now.
  Needed when the server runs with --registration token (the default).`,
  async run(argv) {
    const { values, db } = parse(argv, { 'expires-in': { type: 'string' } });
    const expiresIn = values['expires-in'] === undefined ? DEFAULT_EXPIRES_IN : positiveInt('--expires-in', values['expires-in']);
    return withTessera(db, 'existing', async ({ engine }) => {
      const { value, expiresAt } = await engine.mintInitialAccessToken(expiresIn, { actor: 'cli' });
      const at = new Date(expiresAt).toISOString();
      if (values.json) {
        printJson({ initial_access_token: value, expires_at: at });
      } else {
        print(fields([['initial_access_token', value], ['expires_at', at]]));
        note('The token is shown only this once and registers one client: send it as "Authorization: Bearer …" to /register.');
      }
      return EXIT.ok;
    });
  },
};
