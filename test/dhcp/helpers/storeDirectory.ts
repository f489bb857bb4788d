/**
 * The DHCP directory source implemented straight over the real Store, for tests and the benchmark launcher
 * (the daemon wires H-api's services instead). Wrap it in a CachedDirectory for the per-packet lookups.
 */
import { randomUUID } from 'node:crypto';
import type { DirectorySource } from '../../../src/dhcp/ports.js';
import type { BootEnv, Machine, Prefs, Reservation, Subnet } from '../../../src/model/types.js';
import type { Store } from '../../../src/store/store.js';

export function storeDirectory(store: Store): DirectorySource {
  return {
    subnets: async () => (await store.list<Subnet>('subnets')).items,
    reservations: async () => (await store.list<Reservation>('reservations')).items,
    machines: async () => (await store.list<Machine>('machines')).items,
    bootenv: (name) => store.get<BootEnv>('bootenvs', name),
    async prefs() {
      return { defaultBootEnv: 'local', unknownBootEnv: 'ignore', autoRegister: false, ...(await store.getPrefs()) } as Prefs;
    },
    async setMachineAddress(mac, address) {
      const m = await store.findOne<Machine>('machines', [{ path: ['macs'], value: mac }]);
      if (!m || m.address === address) return;
      const others = await store.list<Machine>('machines', { filters: [{ path: ['address'], value: address }] });
      for (const o of others.items) if (o.uuid !== m.uuid) await store.put<Machine>('machines', o.uuid, { ...o, address: null }, { mode: 'replace' });
      await store.put<Machine>('machines', m.uuid, { ...m, address }, { mode: 'replace' });
    },
    async autoRegister(mac, arch) {
      const uuid = randomUUID();
      return store.put<Machine>(
        'machines',
        uuid,
        { uuid, name: `auto-${mac.replace(/:/g, '')}`, macs: [mac], address: null, arch, bootenv: 'discovery', profiles: [], params: {}, description: 'registered on first PXE boot', available: true, errors: [] },
        { mode: 'create' },
      );
    },
  };
}

export function subnet(name: string, cidr: string, start: string, end: string, extra: Partial<Subnet> = {}): Omit<Subnet, 'createdAt' | 'updatedAt' | 'version'> {
  return { name, cidr, enabled: true, proxy: false, onlyReservations: false, activeStart: start, activeEnd: end, leaseTime: 3600, reservedLeaseTime: 7200, nextServer: null, options: [], description: '', ...extra };
}
