/**
 * Bootloaders come from Debian packages, found at their packaged paths (each overridable by name through
 * the `loaderPaths` config). A missing loader is not fatal: it is a warning naming the package to install,
 * and shows in GET /api/v1/info.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface LoaderSpec {
  /** Name in the boot tree (what DHCP hands out or a loader asks for). */
  name: string;
  /** Where Debian installs it. */
  path: string;
  /** Debian package that ships it. */
  package: string;
  /** Needed for the common boot paths (false for Secure Boot and arm64 extras not every site uses). */
  essential: boolean;
  /** What to do when it is missing, when installing the package is not the answer. */
  hint?: string;
}

export interface LoaderStatus {
  name: string;
  path: string;
  package: string;
  found: boolean;
  size?: number;
  /** Set when missing: what to do about it. */
  warning?: string;
}

export interface LoaderSet {
  /** Tree name → file on disk, for the loaders that exist. */
  files: Map<string, { path: string; size: number }>;
  status: LoaderStatus[];
  /** One line per missing essential loader. */
  warnings: string[];
}

export const debianLoaders: readonly LoaderSpec[] = [
  { name: 'undionly.kpxe', path: '/usr/lib/ipxe/undionly.kpxe', package: 'ipxe', essential: true },
  { name: 'ipxe.efi', path: '/usr/lib/ipxe/ipxe.efi', package: 'ipxe', essential: true },
  { name: 'snponly.efi', path: '/usr/lib/ipxe/snponly.efi', package: 'ipxe', essential: true },
  { name: 'pxelinux.0', path: '/usr/lib/PXELINUX/pxelinux.0', package: 'pxelinux', essential: true },
  { name: 'lpxelinux.0', path: '/usr/lib/PXELINUX/lpxelinux.0', package: 'pxelinux', essential: true },
  { name: 'ldlinux.c32', path: '/usr/lib/syslinux/modules/bios/ldlinux.c32', package: 'syslinux-common', essential: true },
  { name: 'shimx64.efi', path: '/usr/lib/shim/shimx64.efi.signed', package: 'shim-signed', essential: false },
  // shim chain-loads grubx64.efi from its own directory; Debian's signed netboot GRUB takes that name.
  { name: 'grubx64.efi', path: '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed', package: 'grub-efi-amd64-signed', essential: false },
  { name: 'grubaa64.efi', path: '/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed', package: 'grub-efi-arm64-signed', essential: false },
  {
    name: 'ipxe-arm64.efi',
    path: '/usr/lib/ipxe/arm64-efi/ipxe.efi',
    package: 'ipxe',
    essential: false,
    hint: 'Debian 12 packages no arm64 iPXE: build bin-arm64-efi/ipxe.efi and set loaderPaths.ipxe-arm64.efi',
  },
];

/** Where syslinux-common keeps the BIOS COM32 modules pxelinux loads beside itself (menus, chain ...). */
export const syslinuxModulesDir = '/usr/lib/syslinux/modules/bios';

function fileSize(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Looks each loader up once (at start); `overrides` maps a tree name to another path, and may add names.
 * Every `.c32` module of `modulesDir` is exposed too, so pxelinux menus and chain loading work.
 */
export function discoverLoaders(
  overrides: Record<string, string> = {},
  specs: readonly LoaderSpec[] = debianLoaders,
  modulesDir: string = syslinuxModulesDir,
): LoaderSet {
  const files = new Map<string, { path: string; size: number }>();
  const status: LoaderStatus[] = [];
  const warnings: string[] = [];
  const known = new Set(specs.map((s) => s.name));
  const wanted: LoaderSpec[] = [
    ...specs.map((s) => (overrides[s.name] ? { ...s, path: overrides[s.name] } : s)),
    ...Object.entries(overrides)
      .filter(([name]) => !known.has(name))
      .map(([name, path]) => ({ name, path, package: '(configured)', essential: true })),
  ];
  try {
    for (const entry of readdirSync(modulesDir)) {
      if (!entry.endsWith('.c32') || known.has(entry) || overrides[entry]) continue;
      const size = fileSize(join(modulesDir, entry));
      if (size !== undefined) files.set(entry, { path: join(modulesDir, entry), size });
    }
  } catch {
    // No modules directory: ldlinux.c32's own status below carries the syslinux-common warning.
  }
  for (const spec of wanted) {
    const size = fileSize(spec.path);
    if (size !== undefined) {
      files.set(spec.name, { path: spec.path, size });
      status.push({ name: spec.name, path: spec.path, package: spec.package, found: true, size });
      continue;
    }
    const warning = `loader ${spec.name} not found at ${spec.path}: ${spec.hint ?? `install the Debian package ${spec.package} or set loaderPaths.${spec.name}`}`;
    status.push({ name: spec.name, path: spec.path, package: spec.package, found: false, warning });
    if (spec.essential) warnings.push(warning);
  }
  return { files, status, warnings };
}
