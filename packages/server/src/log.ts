/**
 * The server's logger: JSON lines on stderr (stdout belongs to the CLI's own output, e.g.
 * `serve --json`). Lines are written asynchronously, so a request never waits on a write to a
 * slow pipe; pino flushes what is buffered when the process exits.
 */
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const isLogLevel = (value: string): value is LogLevel => (LOG_LEVELS as readonly string[]).includes(value);

/** A logger at `level` (default info); an unknown level is an error that names the allowed ones. */
export function createLogger(level = 'info'): Logger {
  if (!isLogLevel(level)) throw new Error(`log level must be one of ${LOG_LEVELS.join(', ')}; got '${level}'`);
  // If stderr stops draining (a stalled collector), lines beyond 16 MiB are dropped, not held in memory.
  return pino({ level }, pino.destination({ dest: 2, sync: false, maxLength: 16 * 1024 * 1024 }));
}
