/** Leases as the API sees them: read and delete (the DHCP layer owns their life cycle). */
import { notFound } from '../errors.js';
import type { Lease } from '../model/types.js';
import type { ListQuery, ListResult } from '../store/store.js';
import { type CoreDeps, publishChange } from './common.js';
import type { ListSpec } from './list.js';
import { ipToInt } from './validate.js';

export const leaseListSpec: ListSpec = { fields: { address: 'string', mac: 'string', state: 'string', expiresAt: 'string', subnet: 'string', hostname: 'string' } };

export class LeaseService {
  constructor(private readonly deps: CoreDeps) {}

  list(q: ListQuery): Promise<ListResult<Lease>> {
    return this.deps.store.listLeases(q);
  }

  // A key that is no IPv4 address names no lease: 404, like any other key that names nothing.
  async get(address: string): Promise<Lease> {
    if (ipToInt(address) === undefined) throw notFound('lease', address);
    const l = await this.deps.store.getLease(address);
    if (!l) throw notFound('lease', address);
    return l;
  }

  async delete(address: string): Promise<Lease> {
    if (ipToInt(address) === undefined) throw notFound('lease', address);
    const l = await this.deps.store.deleteLease(address);
    if (!l) throw notFound('lease', address);
    this.deps.logger.info({ mac: l.mac, address }, 'lease deleted through the API');
    publishChange(this.deps.bus, 'leases', 'delete', address, l);
    return l;
  }
}
