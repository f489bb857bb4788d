/**
 * The API collections the CLI exposes through generic verbs, with their key, allowed verbs, table columns and
 * help examples.
 */
import { pick, type Column } from './output.js';

export type Verb = 'list' | 'show' | 'create' | 'update' | 'patch' | 'delete';
const ALL_VERBS: readonly Verb[] = ['list', 'show', 'create', 'update', 'patch', 'delete'];

export interface Collection {
  name: string;
  /** Singular noun for help text. */
  noun: string;
  /** What identifies an object (help text). */
  keyHelp: string;
  verbs: readonly Verb[];
  columns: Column[];
  /** An example key for `show`/`delete` help. */
  exampleKey: string;
  /** An example document for `create` help (inline JSON). */
  exampleCreate?: string;
  /** An example merge-patch for `patch` help. */
  examplePatch?: string;
  /** An example list filter. */
  exampleFilter: string;
  /** Examples of the collection's special verbs, shown in the group's help. */
  extraExamples?: string[];
}

const col = (header: string, path: string = header): Column => ({ header, value: (row) => pick(row, path) });

export const COLLECTIONS: readonly Collection[] = [
  {
    name: 'machines',
    noun: 'machine',
    keyHelp: 'uuid, name:<name> or mac:<mac>',
    verbs: ALL_VERBS,
    columns: [col('uuid'), col('name'), col('macs'), col('address'), col('bootenv'), col('available')],
    exampleKey: 'name:web1',
    exampleCreate: `'{"name":"web1","macs":["52:54:00:12:34:56"],"bootenv":"local"}'`,
    examplePatch: `'{"description":"rack 4, slot 2"}'`,
    exampleFilter: 'bootenv=local',
    extraExamples: [
      'farrier machines bootenv name:web1 discovery',
      'farrier machines params name:web1 --aggregate',
      'farrier machines param set name:web1 rack r4',
    ],
  },
  {
    name: 'bootenvs',
    noun: 'bootenv',
    keyHelp: 'name',
    verbs: ALL_VERBS,
    columns: [
      col('name'),
      col('os', 'os.name'),
      col('kernel'),
      col('onlyUnknown'),
      col('readOnly'),
      col('available'),
    ],
    exampleKey: 'discovery',
    exampleCreate: '@debian-12.yaml',
    examplePatch: `'{"description":"Debian 12 netinst"}'`,
    exampleFilter: 'onlyUnknown=false',
  },
  {
    name: 'templates',
    noun: 'template',
    keyHelp: 'id',
    verbs: ALL_VERBS,
    columns: [col('id'), col('readOnly'), col('description')],
    exampleKey: 'preseed.tmpl',
    exampleCreate: `'{"id":"motd.tmpl","contents":"Welcome to {{machine.name}}"}'`,
    examplePatch: `'{"description":"message of the day"}'`,
    exampleFilter: 'readOnly=false',
  },
  {
    name: 'profiles',
    noun: 'profile',
    keyHelp: 'name',
    verbs: ALL_VERBS,
    columns: [
      col('name'),
      { header: 'params', value: (row) => Object.keys((row.params as Record<string, unknown> | undefined) ?? {}) },
      col('description'),
    ],
    exampleKey: 'global',
    exampleCreate: `'{"name":"rack4","params":{"ntp-server":"10.0.0.1"}}'`,
    examplePatch: `'{"params":{"ntp-server":"10.0.0.2"}}'`,
    exampleFilter: 'name=rack4',
    extraExamples: ['farrier profiles params rack4', 'farrier profiles param set rack4 ntp-server 10.0.0.1'],
  },
  {
    name: 'params',
    noun: 'param',
    keyHelp: 'name (may contain /)',
    verbs: ALL_VERBS,
    columns: [col('name'), col('type', 'schema.type'), col('default', 'schema.default'), col('secure'), col('description')],
    exampleKey: 'ntp-server',
    exampleCreate: `'{"name":"ntp-server","schema":{"type":"string","default":"pool.ntp.org"}}'`,
    examplePatch: `'{"secure":true}'`,
    exampleFilter: 'secure=true',
  },
  {
    name: 'subnets',
    noun: 'subnet',
    keyHelp: 'name',
    verbs: ALL_VERBS,
    columns: [
      col('name'),
      col('cidr'),
      {
        header: 'range',
        value: (row) => (row.activeStart || row.activeEnd ? `${row.activeStart ?? ''}-${row.activeEnd ?? ''}` : null),
      },
      col('proxy'),
      col('enabled'),
    ],
    exampleKey: 'lab',
    exampleCreate: `'{"name":"lab","cidr":"10.10.0.0/24","activeStart":"10.10.0.100","activeEnd":"10.10.0.200"}'`,
    examplePatch: `'{"enabled":false}'`,
    exampleFilter: 'enabled=true',
  },
  {
    name: 'reservations',
    noun: 'reservation',
    keyHelp: 'address',
    verbs: ALL_VERBS,
    columns: [col('address'), col('mac'), col('nextServer'), col('description')],
    exampleKey: '10.10.0.20',
    exampleCreate: `'{"address":"10.10.0.20","mac":"52:54:00:12:34:56"}'`,
    examplePatch: `'{"description":"bmc of web1"}'`,
    exampleFilter: 'mac=52:54:00:12:34:56',
  },
  {
    name: 'leases',
    noun: 'lease',
    keyHelp: 'address',
    verbs: ['list', 'show', 'delete'],
    columns: [col('address'), col('mac'), col('state'), col('expiresAt'), col('subnet'), col('hostname')],
    exampleKey: '10.10.0.101',
    exampleFilter: 'state=bound',
  },
  {
    name: 'users',
    noun: 'user',
    keyHelp: 'name',
    verbs: ALL_VERBS,
    columns: [col('name'), col('role'), col('description')],
    exampleKey: 'alice',
    exampleCreate: `'{"name":"alice","role":"operator","password":"s3cret-pass"}'`,
    examplePatch: `'{"role":"readonly"}'`,
    exampleFilter: 'role=admin',
  },
];

export function collection(name: string): Collection {
  const c = COLLECTIONS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown collection ${name}`);
  return c;
}
