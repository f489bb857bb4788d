/**
 * Child-process entry for the daemon tests: starts a real daemon from FARRIER_* env (logs to stderr) and
 * prints `READY <url>` on stdout once the HTTP API listens.
 */
import { loadConfig } from '../../src/config.js';
import { startDaemon } from '../../src/daemon.js';

const daemon = await startDaemon(loadConfig({}, process.env), { logDestination: process.stderr });
process.stdout.write(`READY ${daemon.url}\n`);
