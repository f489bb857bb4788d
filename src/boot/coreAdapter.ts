/**
 * Binds the boot layer's BootData port to the core services. Lookups stay keyed (machine by MAC, address
 * or uuid through the store's indexes); the raw machine is read only to mint its token.
 */
import { FarrierError } from '../errors.js';
import type { Services } from '../core/services.js';
import type { Machine, Template } from '../model/types.js';
import type { AggregatedParams, BootData } from './ports.js';

export function bootDataFromServices(services: Services): BootData {
  return {
    machineByMac: (mac) => services.machines.byMac(mac),
    machineByAddress: (address) => services.machines.byAddress(address),
    async machineByUuid(uuid) {
      const raw = await services.machines.findRaw(uuid);
      if (!raw) return undefined;
      const { tokenSecret: _secret, ...machine } = raw;
      return machine;
    },
    bootEnv: (name) => services.bootenvs.find(name),
    async template(id): Promise<Template | undefined> {
      try {
        return await services.templates.get(id);
      } catch (err) {
        if (err instanceof FarrierError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    },
    async params(machine: Machine | null): Promise<AggregatedParams> {
      const agg = await services.params.aggregate(machine ?? { params: {}, profiles: [] });
      const values: Record<string, unknown> = {};
      const secure: string[] = [];
      for (const [name, p] of Object.entries(agg)) {
        values[name] = p.value;
        if (p.secure) secure.push(name);
      }
      return { values, secure };
    },
    async unknownBootEnv() {
      return (await services.prefs.getPrefs()).unknownBootEnv;
    },
    async mintMachineToken(machine) {
      const raw = await services.machines.findRaw(machine.uuid);
      if (!raw) throw new FarrierError('NOT_FOUND', `machine ${machine.uuid} not found`);
      return services.tokens.mintMachineToken(raw).token;
    },
    publish: (event) => services.bus.publish(event),
  };
}
