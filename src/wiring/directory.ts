/**
 * The DHCP server's DirectorySource over the core services: what it reads (subnets, reservations, machines,
 * bootenvs, prefs) and the two writes it makes (a bound lease's address on its machine, auto-registration).
 * Every write goes through the services, so it is validated and published on the bus like an API write.
 */
import type { Services } from '../core/services.js';
import type { DirectorySource } from '../dhcp/ports.js';
import type { Machine } from '../model/types.js';

export function servicesDirectory(services: Services): DirectorySource {
  return {
    subnets: async () => (await services.subnets.list({})).items,
    reservations: async () => (await services.reservations.list({})).items,
    // Straight from the store: DHCP needs MACs, bootenv and address, not the API's computed status, which
    // checks every machine's bootenv files on disk (100,000 machines took 8–12 s per index load).
    machines: async () => (await services.store.list<Machine>('machines')).items.map(({ tokenSecret: _secret, ...m }) => m),
    bootenv: (name) => services.bootenvs.find(name),
    prefs: () => services.prefs.getPrefs(),
    externalVersion: () => services.store.externalVersion(),
    async setMachineAddress(mac, address) {
      // MachineService.setAddress clears the address from any other machine in the same serialised step.
      await services.machines.setAddress(mac, address);
    },
    autoRegister(mac, arch): Promise<Machine | undefined> {
      // Like a machine created through the API without a bootenv, it gets pref defaultBootEnv: the
      // unknownBootEnv kinds (discovery) are onlyUnknown and cannot be assigned to a known machine.
      return services.machines.create({
        name: `auto-${mac.replace(/:/g, '')}`,
        macs: [mac],
        arch,
        description: 'registered on its first PXE boot (pref autoRegister)',
      });
    },
  };
}
