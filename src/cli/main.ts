#!/usr/bin/env node
/** Entry point of the `farrier` command; everything else lives in program.ts and commands/. */
import { run } from './program.js';

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  isTTY: process.stdout.isTTY === true,
});
process.exit(code);
