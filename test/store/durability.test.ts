import { join } from 'node:path';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { finished, spawnFixture } from './fixtures/child.js';

for (const durability of ['process', 'power'] as const) {
  t.test(`durability '${durability}': every acknowledged write survives kill -9`, async (t) => {
    const path = join(t.testdir(), 'farrier.db');
    const child = spawnFixture('writer.ts', [path, durability]);
    const exit = finished(child);
    let acked = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        acked += d.toString().split('\n').length - 1;
        if (acked >= 3000) resolve();
      });
      child.on('close', () => resolve());
    });
    child.kill('SIGKILL');
    const { code, stdout, stderr } = await exit;
    t.equal(code, null, `the writer was killed, not finished on its own ${stderr}`);

    // The last line may be cut off by the kill; only complete lines were acknowledged.
    const lines = stdout.split('\n').slice(0, -1).filter((l) => l !== 'ready');
    const objects = lines.filter((l) => l.startsWith('object ')).map((l) => l.slice(7));
    const leases = lines.filter((l) => l.startsWith('lease ')).map((l) => l.slice(6));
    t.ok(objects.length > 1000 && leases.length > 1000, `acknowledged ${objects.length} objects and ${leases.length} leases`);

    const store = await openSqliteStore(path);
    t.teardown(() => store.close());
    t.equal(await store.checkIntegrity(), 'ok');
    const missingObjects: string[] = [];
    for (const key of objects) if ((await store.get('profiles', key)) === undefined) missingObjects.push(key);
    const missingLeases: string[] = [];
    for (const address of leases) if ((await store.getLease(address)) === undefined) missingLeases.push(address);
    t.same(missingObjects, [], 'no acknowledged object is missing');
    t.same(missingLeases, [], 'no acknowledged lease is missing');
  });
}
