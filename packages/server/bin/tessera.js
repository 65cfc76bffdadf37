#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// The reader of stdout went away (`tessera client list | head -1`): what the command did is done.
// Say so on stderr and exit 1, rather than crash with EPIPE and a stack trace; what was cut off
// may have been a secret shown once (a client secret, a webhook's signing secret).
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
  process.stderr.write('tessera: the output was cut off (its reader closed the pipe); if it held a secret shown once, rotate that secret to see a new one\n');
  process.exit(1);
});

process.exitCode = await main(process.argv.slice(2));
