/**
 * `tessera`: finds the command named by the leading words of argv, shows help or runs it, and
 * turns errors into exit codes (0 ok, 1 operational failure, 2 usage error).
 */
import { readFileSync } from 'node:fs';
import { adminCommands } from './commands/admin.js';
import { auditCommands } from './commands/audit.js';
import { clientCommands } from './commands/client.js';
import { keysCommands } from './commands/keys.js';
import { migrateCommands } from './commands/migrate.js';
import { serveCommands } from './commands/serve.js';
import { tokenCommands } from './commands/token.js';
import { userCommands } from './commands/user.js';
import { webhookCommands } from './commands/webhook.js';
import { COMMON_HELP, CommandError, EXIT, UsageError, type Command } from './args.js';

const COMMANDS: readonly Command[] = [
  ...serveCommands, ...clientCommands, ...userCommands, ...tokenCommands, ...auditCommands, ...adminCommands, ...keysCommands, ...webhookCommands, ...migrateCommands,
];

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`tessera ${version()}\n`);
    return EXIT.ok;
  }
  const found = find(argv);
  if (wantsHelp(found.rest)) {
    process.stdout.write(found.command ? commandHelp(found.command) : overview(found.group));
    return EXIT.ok;
  }
  try {
    if (!found.command) throw new UsageError(missing(found.group, argv));
    return await found.command.run(found.rest);
  } catch (err) {
    return report(err, found.command?.name ?? found.group);
  }
}

/** The longest command whose words start argv (`audit verify` before `audit`). */
function find(argv: string[]): { command?: Command; group?: string; rest: string[] } {
  let best: Command | undefined;
  let bestWords = 0;
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    if (words.length > bestWords && words.every((w, i) => argv[i] === w)) {
      best = command;
      bestWords = words.length;
    }
  }
  if (best) return { command: best, rest: argv.slice(bestWords) };
  const group = COMMANDS.some((c) => c.name.startsWith(`${argv[0]} `)) ? argv[0] : undefined;
  return group === undefined ? { rest: argv } : { group, rest: argv.slice(1) };
}

/** --help anywhere before a `--` terminator. */
function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

function missing(group: string | undefined, argv: string[]): string {
  if (group !== undefined) {
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.split(' ')[1]);
    const given = argv[1];
    return given === undefined || given.startsWith('-')
      ? `'tessera ${group}' needs a subcommand: ${subcommands.join(', ')}`
      : `unknown subcommand '${given}' for 'tessera ${group}'; expected one of ${subcommands.join(', ')}`;
  }
  const first = argv[0];
  if (first === undefined) return 'missing command';
  if (first.startsWith('-')) return `put options after the command, e.g. 'tessera client list ${first}'`;
  return `unknown command '${first}'`;
}

/** The version of @tessera/server, from its package.json (dist/cli/main.js → ../../package.json). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function report(err: unknown, where: string | undefined): number {
  if (err instanceof UsageError) {
    // A message that names the help to read (the settings are in serve's) keeps that pointer alone.
    const hint = /\(see '[^']*--help'\)$/.test(err.message) ? '' : ` (see 'tessera${where ? ` ${where}` : ''} --help')`;
    process.stderr.write(`tessera: ${err.message}${hint}\n`);
    return EXIT.usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tessera: ${message}\n`);
  if (!(err instanceof CommandError) && process.env.TESSERA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return EXIT.failed;
}

function commandHelp(command: Command): string {
  const help = command.help ? `\nOptions:\n${command.help}\n` : '';
  return `Usage: tessera ${command.name} ${command.synopsis}\n\n${command.summary}\n${help}\nCommon options:\n${COMMON_HELP}\n`;
}

function overview(group: string | undefined): string {
  const commands = group === undefined ? COMMANDS : COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  const intro = group === undefined
    ? 'tessera: an OAuth 2 authorization server and its token lifecycle, on a SQLite file or on PostgreSQL.\n\nUsage: tessera <command> [options]'
    : `Usage: tessera ${group} <subcommand> [options]`;
  return `${intro}

Commands:
${lines.join('\n')}

Every command takes:
${COMMON_HELP}

'tessera <command> --help' shows a command's options; 'tessera --version' (-V) the version.
Exit codes: 0 ok, 1 operational failure (not found, port in use…), 2 usage error.
TESSERA_DEBUG=1 adds stack traces to unexpected errors.
`;
}
