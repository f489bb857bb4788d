/**
 * Uploads through the real daemon: a file PUT to /api/v1/files lands in the boot tree and the very next
 * HTTP and TFTP fetch of files/<path> returns the same bytes (no sync step).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { requireTool, tempDir } from '../helpers/env.js';
import { ADMIN_PASSWORD, startWhole } from './helpers.js';

const run = promisify(execFile);

t.test('a file uploaded through the daemon is served over HTTP and TFTP at files/<path>', async (t) => {
  const w = await startWhole(t);
  const blob = randomBytes(200_000);
  const sha = createHash('sha256').update(blob).digest('hex');
  const res = await fetch(`${w.daemon.url}/api/v1/files/loaders/custom.bin`, {
    method: 'PUT',
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
      'content-type': 'application/octet-stream',
    },
    body: blob,
  });
  t.equal(res.status, 201, 'upload accepted');
  t.match(await res.json(), { size: blob.length, sha256: sha, treePath: 'files/loaders/custom.bin' });

  const http = Buffer.from(await (await fetch(`${w.daemon.url}/files/loaders/custom.bin`)).arrayBuffer());
  t.ok(http.equals(blob), 'HTTP serves the uploaded bytes');

  if (requireTool(t, 'atftp')) {
    const local = join(tempDir(t, 'fwire-files-'), 'custom.bin');
    await run('atftp', ['--option', 'blksize 1428', '-g', '-r', 'files/loaders/custom.bin', '-l', local, '127.0.0.1', String(w.config.tftpPort)]);
    t.ok(readFileSync(local).equals(blob), 'TFTP serves the same bytes');
  }

  const anon = await fetch(`${w.daemon.url}/api/v1/files/loaders/other.bin`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
  t.equal(anon.status, 401, 'uploads need credentials');
});
