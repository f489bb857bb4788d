/**
 * Farrier's object model: the JSON shapes the API accepts and returns (camelCase), shared by the store,
 * the services and the protocol layers. JSON Schemas for validation live beside this file (model/schemas);
 * these types must stay in step with them and with openapi.yaml.
 */

/** Collections addressed as /api/v1/<kind>. */
export type Kind =
  | 'machines'
  | 'bootenvs'
  | 'templates'
  | 'profiles'
  | 'params'
  | 'subnets'
  | 'reservations'
  | 'users'
  | 'tokens';

export type Arch = 'amd64' | 'arm64';

/** Fields every stored object carries; the store sets them. */
export interface Meta {
  createdAt: string; // ISO 8601
  updatedAt: string; // ISO 8601
  /** Monotonic per object, bumped on every write; used for optimistic concurrency. */
  version: number;
}

export interface Machine extends Meta {
  uuid: string;
  name: string;
  /** Lower-case colon form aa:bb:cc:dd:ee:ff, unique across machines. */
  macs: string[];
  address: string | null;
  arch: Arch;
  bootenv: string;
  profiles: string[];
  params: Record<string, unknown>;
  description: string;
  /** Secret the machine's tokens are bound to; rotating it revokes them. Never returned by the API. */
  tokenSecret?: string;
  /** Read-only, computed. */
  available: boolean;
  errors: string[];
}

export interface OsInfo {
  name: string;
  family?: string;
  version?: string;
  isoFile?: string;
  isoSha256?: string;
  isoUrl?: string;
}

export interface BootEnvTemplate {
  name: string;
  /** A Handlebars template string, rendered per machine, giving the file's path in the boot tree. */
  path: string;
  templateId?: string;
  contents?: string;
}

export interface ConfigInitrdFile {
  /** Path inside the archive, e.g. `etc/hostname`. */
  path: string;
  /** Name of one of the bootenv's `templates` (its contents are rendered into this file). */
  template: string;
  /** Octal permission bits, default 0o644. */
  mode?: number;
}

export interface BootEnv extends Meta {
  name: string;
  description: string;
  os: OsInfo;
  kernel: string;
  initrds: string[];
  /** Handlebars template string for the kernel command line. */
  bootParams: string;
  templates: BootEnvTemplate[];
  requiredParams: string[];
  optionalParams: string[];
  /** True for bootenvs meant only for unknown machines (e.g. `discovery`, `ignore`). */
  onlyUnknown: boolean;
  /** Extra keys a bootenv may carry for the boot layer (e.g. `loader: "pxelinux"`, config initrd). */
  loader?: 'ipxe' | 'pxelinux' | 'grub';
  netboot?: boolean;
  /**
   * Files of a per-machine cpio archive served at `machines/<uuid>/config.cpio` and appended to `initrds`
   * by the loader templates, for images with no metadata client.
   */
  configInitrd?: ConfigInitrdFile[];
  available: boolean;
  errors: string[];
  /** True for objects loaded from the repo's bootenvs/ directory. */
  readOnly: boolean;
}

export interface Template extends Meta {
  id: string;
  contents: string;
  description: string;
  readOnly: boolean;
}

export interface Profile extends Meta {
  name: string;
  params: Record<string, unknown>;
  description: string;
}

export interface Param extends Meta {
  name: string;
  /** A JSON Schema; its `default` is the last-resort value. */
  schema: Record<string, unknown>;
  description: string;
  secure: boolean;
  /** True for definitions shipped in the repo (bootenvs/params/*.yaml); they cannot be changed through the API. */
  readOnly?: boolean;
}

export interface DhcpOption {
  code: number;
  /** A string; may be a Handlebars template over the request's options. */
  value: string;
}

export interface Subnet extends Meta {
  name: string;
  cidr: string;
  enabled: boolean;
  proxy: boolean;
  onlyReservations: boolean;
  activeStart: string;
  activeEnd: string;
  leaseTime: number;
  reservedLeaseTime: number;
  nextServer: string | null;
  options: DhcpOption[];
  description: string;
}

export interface Reservation extends Meta {
  address: string;
  mac: string;
  options: DhcpOption[];
  nextServer: string | null;
  description: string;
}

export type LeaseState = 'offered' | 'bound' | 'released' | 'declined' | 'expired';

export interface Lease {
  address: string;
  mac: string;
  state: LeaseState;
  /** ISO 8601. */
  expiresAt: string;
  subnet: string;
  hostname: string | null;
  /** Raw option 61 as hex, if the client sent one. */
  clientId: string | null;
  updatedAt: string;
}

export type Role = 'admin' | 'operator' | 'readonly';

export interface User extends Meta {
  name: string;
  role: Role;
  /** scrypt hash `scrypt$N$r$p$salt$hash`; never returned by the API. */
  passwordHash: string;
  description: string;
  /** Bumped to revoke every token issued to this user (tokens carry the generation they were minted at). */
  tokenGen?: number;
}

/** Well-known prefs; the map may hold more keys. */
export interface Prefs {
  defaultBootEnv: string;
  unknownBootEnv: string;
  autoRegister: boolean;
  [key: string]: unknown;
}

/** One published change or boot event (GET /api/v1/events). */
/** One step of a machine's boot as Farrier saw it (GET /api/v1/machines/{key}/timeline). */
export interface TimelineEntry {
  time: string;
  /** The machine's uuid. */
  machine: string;
  /** `dhcp`, `tftp`, `http`, `render`, `bootenv` or `callback`. */
  kind: string;
  /** One line for a human. */
  summary: string;
  detail: Record<string, unknown>;
}

export interface FarrierEvent {
  time: string;
  /** A collection name for object changes, or `dhcp`, `tftp`, `http`, `render`, `boot`. */
  type: string;
  action: string;
  key: string;
  object?: unknown;
}
