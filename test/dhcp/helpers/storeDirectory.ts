/**
 * The DHCP server's directory port implemented straight over the real Store, for tests and the benchmark
 * launcher (the daemon wires H-api's services instead). Subnets are cached briefly: they are read on every
 * packet and change rarely.
 */
import { randomUUID } from 'node:crypto';
import type { DhcpDirectory } from '../../../src/dhcp/ports.js';
import type { BootEnv, Machine, Prefs, Reservation, Subnet } from '../../../src/model/types.js';
import type { Store } from '../../../src/store/store.js';

export function storeDirectory(store: Store, cacheMs = 1000): DhcpDirectory {
  let subnets: { at: number; list: Subnet[] } | undefined;
  return {
    async subnets() {
      if (!subnets || Date.now() - subnets.at > cacheMs) subnets = { at: Date.now(), list: (await store.list<Subnet>('subnets')).items };
      return subnets.list;
    },
    reservationByMac: (mac) => store.findOne<Reservation>('reservations', [{ path: ['mac'], value: mac }]),
    reservationByAddress: (address) => store.findOne<Reservation>('reservations', [{ path: ['address'], value: address }]),
    machineByMac: (mac) => store.findOne<Machine>('machines', [{ path: ['macs'], value: mac }]),
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
