import { main } from './main.js';

/**
 * The `lit-streamctl` executable. A reader that goes away (`| head`) ends the output quietly, as
 * systemctl's does.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
