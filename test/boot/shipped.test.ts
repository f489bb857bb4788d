/**
 * Every shipped bootenv rendered for a sample machine, with its output checked: YAML/JSON parse, Ignition
 * structure for its spec version, `cloud-init schema` for cloud-configs, kickstart and preseed structure
 * (ksvalidator is used when installed; Debian 12 does not package python3-pykickstart), shell syntax.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { Renderer } from '../../src/boot/render.js';
import { discoverLoaders } from '../../src/boot/loaders.js';
import { StaticRoot } from '../../src/boot/staticFiles.js';
import { BootTree, type TreeEntry } from '../../src/boot/tree.js';
import { findTool, requireTool } from '../helpers/env.js';
import { machine, MemoryBootData } from './fixtures.js';

const uuid = '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b';
const murl = `http://10.77.0.1:8091/machines/${uuid}`;
const client = { address: '10.77.0.50', port: 2000, localAddress: '10.77.0.1' };
const sampleParams = {
  'ssh-keys': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFarrierTestKey admin@lab'],
  'ntp-servers': ['ntp1.lab', 'ntp2.lab'],
  proxy: 'http://proxy.lab:3128',
  'operating-system-disk': 'vda',
  'root-password-hash': '$6$rounds=4096$salt$hash',
  'default-user': 'ops',
  'default-user-password-hash': '$6$salt$userhash',
  hostname: 'node1',
};

function setup(bootenv: string, params: Record<string, unknown> = sampleParams) {
  const data = new MemoryBootData();
  data.machines.push(machine({ bootenv, params }));
  const tree = new BootTree(data, new Renderer(data), { httpPort: 8091, staticIp: null }, discoverLoaders({}, [], '/nonexistent'), new StaticRoot('/nonexistent'));
  const get = async (path: string): Promise<string> => {
    const e: TreeEntry = await tree.lookup(path, client);
    if (e.kind !== 'buffer') throw new Error(`${path}: ${JSON.stringify(e)}`);
    return e.data.toString('utf8');
  };
  return { data, get };
}

function cloudInitSchema(t: Test, text: string, name: string): void {
  if (!requireTool(t, 'cloud-init')) return;
  const dir = mkdtempSync(join(tmpdir(), 'fboot-ci-'));
  try {
    writeFileSync(join(dir, name), text);
    const out = execFileSync('cloud-init', ['schema', '-c', join(dir, name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    t.match(out, 'Valid cloud-config', `cloud-init schema accepts ${name}`);
  } catch (err) {
    t.fail(`cloud-init schema rejects ${name}: ${(err as { stderr?: string }).stderr ?? err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function shellSyntax(t: Test, script: string, what: string): void {
  execFileSync('sh', ['-n'], { input: script });
  t.pass(`${what} is valid sh`);
}

/** The parts of the Ignition 3.3.0 spec the shipped config uses: required fields, known keys, types. */
const ignition330 = {
  type: 'object',
  required: ['ignition'],
  additionalProperties: false,
  properties: {
    ignition: { type: 'object', required: ['version'], properties: { version: { const: '3.3.0' } } },
    kernelArguments: { type: 'object' },
    systemd: { type: 'object' },
    passwd: {
      type: 'object',
      additionalProperties: false,
      properties: {
        users: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1 },
              sshAuthorizedKeys: { type: 'array', items: { type: 'string' } },
              passwordHash: { type: 'string' }, uid: { type: 'integer' }, gecos: { type: 'string' }, homeDir: { type: 'string' },
              noCreateHome: { type: 'boolean' }, primaryGroup: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } },
              noUserGroup: { type: 'boolean' }, noLogInit: { type: 'boolean' }, shell: { type: 'string' }, system: { type: 'boolean' }, shouldExist: { type: 'boolean' },
            },
          },
        },
        groups: { type: 'array' },
      },
    },
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        files: {
          type: 'array',
          items: {
            type: 'object',
            required: ['path'],
            additionalProperties: false,
            properties: {
              path: { type: 'string', pattern: '^/' },
              overwrite: { type: 'boolean' },
              mode: { type: 'integer', minimum: 0, maximum: 4095 },
              user: { type: 'object' }, group: { type: 'object' }, append: { type: 'array' },
              contents: { type: 'object', additionalProperties: false, properties: { source: { type: 'string' }, compression: { type: 'string' }, httpHeaders: { type: 'array' }, verification: { type: 'object' } } },
            },
          },
        },
        directories: { type: 'array' }, disks: { type: 'array' }, filesystems: { type: 'array' }, links: { type: 'array' }, luks: { type: 'array' }, raid: { type: 'array' },
      },
    },
  },
};
const validateIgnition = new Ajv({ allErrors: true }).compile(ignition330);

/** Ignition 3.3.0: the spec subset above, and files whose contents are data URLs (decoded for the caller). */
function checkIgnition(t: Test, text: string): Record<string, unknown> {
  const ign = JSON.parse(text) as { ignition: { version: string }; passwd: { users: Array<{ name: string; sshAuthorizedKeys: string[] }> }; storage: { files: Array<{ path: string; mode: number; contents: { source: string } }> } };
  t.ok(validateIgnition(ign), 'Ignition 3.3.0 structure', { errors: validateIgnition.errors });
  for (const u of ign.passwd.users) t.type(u.name, 'string');
  const files: Record<string, string> = {};
  for (const f of ign.storage.files) {
    t.ok(f.path.startsWith('/'), `absolute path ${f.path}`);
    t.ok(Number.isInteger(f.mode));
    t.ok(f.contents.source.startsWith('data:,'));
    files[f.path] = decodeURIComponent(f.contents.source.slice('data:,'.length));
  }
  return { users: ign.passwd.users, files };
}

/** grub-script-check (grub-common) parses a GRUB config the way GRUB will. */
function grubSyntax(t: Test, cfg: string, what: string): void {
  if (!requireTool(t, 'grub-script-check')) return;
  try {
    execFileSync('grub-script-check', [], { input: cfg, stdio: ['pipe', 'pipe', 'pipe'] });
    t.pass(`grub-script-check accepts ${what}`);
  } catch (err) {
    t.fail(`grub-script-check rejects ${what}: ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`);
  }
}

function checkLoaders(t: Test, get: (p: string) => Promise<string>, expect: string[]) {
  return (async () => {
    const ipxe = await get('52-54-00-12-34-56.ipxe');
    const pxe = await get('pxelinux.cfg/01-52-54-00-12-34-56');
    const grub = await get('grub/grub.cfg-01-52-54-00-12-34-56');
    for (const e of expect) {
      t.match(ipxe, e, `iPXE has ${e}`);
      t.match(pxe, e, `pxelinux has ${e}`);
    }
    t.match(ipxe, /^#!ipxe\necho .*\nkernel \S+ .*\ninitrd \S+\n(initrd \S+\n)*boot\n$/);
    t.match(pxe, /LABEL farrier\n {2}KERNEL \S+\n {2}INITRD \S+\n {2}APPEND .+\n {2}IPAPPEND 2\n/);
    t.match(grub, /menuentry "[^"]+" \{\n.*\n {2}linux \/\S+ .+\n {2}initrd .+\n\}\n/);
    grubSyntax(t, grub, 'the GRUB config');
    return { ipxe, pxe, grub };
  })();
}

t.test('flatcar: Ignition via ignition.config.url, flatcar.first_boot=1', async (t) => {
  const { get } = setup('flatcar');
  await checkLoaders(t, get, ['flatcar.first_boot=1', `ignition.config.url=${murl}/ignition.json`]);
  const ign = checkIgnition(t, await get(`machines/${uuid}/ignition.json`)) as { users: Array<{ name: string; sshAuthorizedKeys: string[] }>; files: Record<string, string> };
  t.same(ign.users, [{ name: 'core', sshAuthorizedKeys: sampleParams['ssh-keys'] }]);
  t.equal(ign.files['/etc/hostname'], 'node1');
  t.equal(ign.files['/etc/systemd/timesyncd.conf.d/farrier.conf'], '[Time]\nNTP=ntp1.lab ntp2.lab\n');
  t.match(ign.files['/etc/systemd/system.conf.d/farrier-proxy.conf'], 'HTTP_PROXY=http://proxy.lab:3128');
  const bare = setup('flatcar', {});
  const min = checkIgnition(t, await bare.get(`machines/${uuid}/ignition.json`)) as { files: Record<string, string> };
  t.same(Object.keys(min.files), ['/etc/hostname'], 'optional params left out cleanly');
});

t.test('the Ignition check rejects what Ignition rejects', async (t) => {
  t.notOk(validateIgnition({ ignition: { version: '3.3.0' }, passwd: { users: [{ sshAuthorizedKeys: [] }] } }), 'user without name');
  t.notOk(validateIgnition({ ignition: { version: '2.2.0' } }), 'other spec version');
  t.notOk(validateIgnition({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'relative', mode: 420 }] } }), 'relative path');
  t.notOk(validateIgnition({ ignition: { version: '3.3.0' }, passwd: { users: [{ name: 'core', sshKeys: [] }] } }), 'unknown user key');
});

t.test('fedora-coreos: live PXE with rootfs URL and Ignition', async (t) => {
  const { get } = setup('fedora-coreos');
  await checkLoaders(t, get, ['coreos.live.rootfs_url=http://10.77.0.1:8091/fedora-coreos/', `ignition.config.url=${murl}/config.ign`, 'ignition.firstboot']);
  checkIgnition(t, await get(`machines/${uuid}/config.ign`));
});

t.test('rancheros: cloud-init url datasource and a valid cloud-config', async (t) => {
  const { get } = setup('rancheros');
  await checkLoaders(t, get, [`rancher.cloud_init.datasources=[url:${murl}/cloud-config.yml]`, 'rancher.state.autoformat=[vda]']);
  const cc = await get(`machines/${uuid}/cloud-config.yml`);
  t.ok(cc.startsWith('#cloud-config\n'));
  t.match(parseYaml(cc), { hostname: 'node1', ssh_authorized_keys: sampleParams['ssh-keys'], rancher: { state: { autoformat: ['vda'] }, environment: { HTTP_PROXY: 'http://proxy.lab:3128' } } });
  cloudInitSchema(t, cc, 'rancheros.yml');
});

t.test('linuxkit: kernel + initrd + cmdline, per-machine files in config.cpio', async (t) => {
  const { get } = setup('linuxkit');
  const { ipxe } = await checkLoaders(t, get, ['console=ttyS0']);
  t.match(ipxe, `initrd http://10.77.0.1:8091/machines/${uuid}/config.cpio`);
  t.equal(await get(`machines/${uuid}/hostname`), 'node1\n');
  t.equal(await get(`machines/${uuid}/authorized_keys`), `${sampleParams['ssh-keys'][0]}\n`);
  t.match(JSON.parse(await get(`machines/${uuid}/machine.json`)), { uuid, mac: '52:54:00:12:34:56', ntpServers: ['ntp1.lab', 'ntp2.lab'] });
});

const KICKSTART_COMMANDS = new Set(['text', 'url', 'lang', 'keyboard', 'timezone', 'network', 'rootpw', 'user', 'sshkey', 'ignoredisk', 'zerombr', 'clearpart', 'autopart', 'bootloader', 'firstboot', 'selinux', 'reboot']);

t.test('rocky-9: inst.ks + inst.repo; kickstart structure; %post hands the machine back', async (t) => {
  const { get } = setup('rocky-9');
  await checkLoaders(t, get, [`inst.ks=${murl}/kickstart.cfg`, 'inst.repo=http://10.77.0.1:8091/rocky-9']);
  const ks = await get(`machines/${uuid}/kickstart.cfg`);
  const ksvalidator = findTool('ksvalidator');
  if (ksvalidator) {
    const dir = mkdtempSync(join(tmpdir(), 'fboot-ks-'));
    writeFileSync(join(dir, 'ks.cfg'), ks);
    execFileSync(ksvalidator, ['-v', 'RHEL9', join(dir, 'ks.cfg')]);
    rmSync(dir, { recursive: true, force: true });
    t.pass('ksvalidator accepts the kickstart');
  } else {
    t.comment('ksvalidator not installed (python3-pykickstart is not in Debian 12): checking kickstart structure here');
  }
  const lines = ks.split('\n');
  let section: string | null = null;
  const post: string[] = [];
  for (const line of lines) {
    if (line.startsWith('%')) {
      if (line === '%end') {
        t.not(section, null, '%end closes a section');
        section = null;
      } else {
        t.equal(section, null, `${line} opens inside no other section`);
        section = line.split(/\s/)[0];
      }
      continue;
    }
    if (section === '%post') post.push(line);
    if (section || line.trim() === '' || line.startsWith('#')) continue;
    t.ok(KICKSTART_COMMANDS.has(line.split(/\s/)[0]), `known kickstart command: ${line.split(/\s/)[0]}`);
  }
  t.equal(section, null, 'every section is closed');
  t.match(ks, 'url --url=http://10.77.0.1:8091/rocky-9 --proxy=http://proxy.lab:3128');
  t.match(ks, 'rootpw --iscrypted $6$rounds=4096$salt$hash');
  t.match(ks, 'timezone UTC --utc --ntpservers=ntp1.lab,ntp2.lab');
  t.match(ks, `sshkey --username=root "${sampleParams['ssh-keys'][0]}"`);
  t.match(ks, 'clearpart --all --initlabel --drives=vda');
  t.match(ks, 'user --name=ops --groups=wheel --iscrypted --password=$6$salt$userhash');
  const script = post.join('\n');
  shellSyntax(t, script, '%post');
  t.match(script, `FARRIER_URL='http://10.77.0.1:8091/api/v1/machines/${uuid}/bootenv'`);
  t.match(script, `FARRIER_BODY='{"bootenv":"local"}'`);
  t.match(script, "Authorization: Bearer tok-3f2a6c1e");
});

t.test('debian-12: preseed auto=true priority=critical url=; late_command hands back', async (t) => {
  const { get } = setup('debian-12', { ...sampleParams, nextBootEnv: 'flatcar', 'operating-system-disk': '/dev/vda' });
  await checkLoaders(t, get, ['auto=true priority=critical', `url=${murl}/preseed.cfg`, 'netcfg/get_hostname=node1']);
  const preseed = await get(`machines/${uuid}/preseed.cfg`);
  const logical = preseed.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  for (const l of logical) t.match(l, /^[a-z0-9-]+ [a-z0-9-]+\/[A-Za-z0-9_/-]+ (string|boolean|select|multiselect|password|note)( .*)?$/, `preseed line: ${l.slice(0, 50)}`);
  t.match(preseed, 'd-i partman-auto/disk string /dev/vda');
  t.match(preseed, 'd-i passwd/root-password-crypted password $6$rounds=4096$salt$hash');
  t.match(preseed, 'd-i mirror/http/proxy string http://proxy.lab:3128');
  t.match(preseed, `wget -q -O /target/tmp/farrier-done.sh ${murl}/farrier-done.sh`);
  const done = await get(`machines/${uuid}/farrier-done.sh`);
  shellSyntax(t, done, 'farrier-done.sh');
  t.match(done, `FARRIER_BODY='{"bootenv":"flatcar"}'`, 'nextBootEnv param wins over local');
});

t.test('ubuntu-24.04: autoinstall through NoCloud meta-data/user-data/vendor-data', async (t) => {
  const { get } = setup('ubuntu-24.04');
  const { grub } = await checkLoaders(t, get, [`ds=nocloud-net;s=${murl}/`, 'autoinstall', 'url=http://10.77.0.1:8091/isos/ubuntu-24.04-live-server-amd64.iso']);
  t.match(grub, `ds=nocloud-net\\;s=${murl}/`, 'GRUB gets the ; escaped');
  t.same(parseYaml(await get(`machines/${uuid}/meta-data`)), { 'instance-id': uuid, 'local-hostname': 'node1' });
  const ud = await get(`machines/${uuid}/user-data`);
  t.ok(ud.startsWith('#cloud-config\n'));
  const doc = parseYaml(ud) as { autoinstall: Record<string, unknown> };
  t.match(doc.autoinstall, {
    version: 1,
    identity: { hostname: 'node1', username: 'ops', password: '$6$salt$userhash' },
    ssh: { 'install-server': true, 'authorized-keys': sampleParams['ssh-keys'] },
    proxy: 'http://proxy.lab:3128',
    ntp: { enabled: true, servers: ['ntp1.lab', 'ntp2.lab'] },
    storage: { layout: { name: 'lvm', match: { path: 'vda' } } },
  });
  t.match((doc.autoinstall['late-commands'] as string[]).join('\n'), `${murl}/farrier-done.sh`);
  cloudInitSchema(t, ud, 'user-data');
  const vd = await get(`machines/${uuid}/vendor-data`);
  cloudInitSchema(t, vd, 'vendor-data');
  shellSyntax(t, await get(`machines/${uuid}/farrier-done.sh`), 'farrier-done.sh');
});

t.test('e2e-busybox: per-machine cloud-init line and config initrd', async (t) => {
  const { get } = setup('e2e-busybox', { 'e2e/nonce': 'nonce-42' });
  await checkLoaders(t, get, [`cfg=${murl}/cloud-init`]);
  const ci = await get(`machines/${uuid}/cloud-init`);
  t.equal(ci.split('\n')[0], '#cloud-config run=nonce-42 mac=52:54:00:12:34:56');
  t.match(ci, `farrier_callback: http://10.77.0.1:8091/api/v1/machines/${uuid}/bootenv`);
  t.match(await get(`machines/${uuid}/e2e.env`), "FARRIER_NONCE='nonce-42'");
});

t.test('GRUB chooser and local-boot configs parse', async (t) => {
  const { get } = setup('local');
  grubSyntax(t, await get('grub/grub.cfg'), 'grub/grub.cfg');
  const local = await get('grub/grub.cfg-01-52-54-00-12-34-56');
  t.match(local, /\n\s+exit\n/);
  grubSyntax(t, local, 'the local-boot config');
});
