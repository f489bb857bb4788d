#!/usr/bin/env bash
# Installs the Debian packages Farrier's test suite and benchmarks use: real DHCP/TFTP clients and
# reference servers, QEMU with iPXE/SeaBIOS/OVMF firmware, bootloaders, a guest kernel and busybox.
# Idempotent: only missing packages are installed. Needs root.
set -euo pipefail

PKGS=(
  qemu-system-x86 ipxe-qemu ovmf          # QEMU + iPXE NIC ROMs + UEFI firmware for real boots
  ipxe pxelinux syslinux-common           # loaders Farrier serves (undionly.kpxe, ipxe.efi, lpxelinux.0 ...)
  linux-image-amd64 busybox-static        # guest kernel + userland of the test initramfs
  cpio kmod xz-utils zstd gzip file       # initramfs building
  isc-dhcp-client udhcpc kea-admin        # dhclient, udhcpc, perfdhcp
  kea-dhcp4-server dnsmasq                # reference DHCP servers (benchmarks)
  tftp-hpa atftp                          # TFTP clients
  tftpd-hpa nginx-light wrk               # reference TFTP/HTTP servers and load tool (benchmarks;
                                          # atftpd conflicts with tftpd-hpa: bench/ unpacks its .deb instead)
  libarchive-tools                        # bsdtar: ISO explode
  xorriso                                 # builds the small ISO images the ISO upload tests explode
  cloud-init grub-common                  # `cloud-init schema` and grub-script-check validate shipped templates
  systemd libcap2-bin util-linux          # systemd-analyze (unit check), setcap/setpriv (privilege test)
  iproute2 curl procps psmisc
  sqlite3                                 # holds a database lock from another process (disk test)
  strace                                  # shows the store syncing its WAL before acknowledging (store test)
  openssl                                 # self-signed certificate for the TLS test
)

if [ "$(id -u)" != 0 ]; then
  echo "install-test-deps: must run as root (apt-get)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
# Packaged daemons (dnsmasq, kea, tftpd-hpa, atftpd, nginx) must never start on the host: tests start
# their own copies inside network namespaces.
if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# cloud-init is installed only for its schema validator: it must never configure this host.
mkdir -p /etc/cloud && touch /etc/cloud/cloud-init.disabled
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
  systemctl disable --now dnsmasq kea-dhcp4-server tftpd-hpa atftpd nginx 2>/dev/null || true
fi
echo "install-test-deps: done"
