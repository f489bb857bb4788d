# syntax=docker/dockerfile:1
# Farrier: DHCP + TFTP + HTTP boot files + REST API in one Node process.
#
#   docker build -t farrier .
#   docker run -d --name farrier --network host \
#     -v farrier-data:/var/lib/farrier -e FARRIER_ADMIN_PASSWORD=change-me \
#     -e FARRIER_DHCP_INTERFACES=eth1 farrier
#
# Host networking is required: DHCP clients broadcast, and a broadcast never crosses Docker's NAT bridge; TFTP
# answers from ephemeral ports that a port mapping cannot follow. See docs/operating.md ("Docker").

# --- build: compile TypeScript and the two native addons (better-sqlite3, sockopt) ----------------------
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# node-gyp builds against the headers the Node image ships instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (a tsc build) needs src/, which is not copied yet (that keeps
# this dependency layer cached across source changes); the two addons are then built explicitly.
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3 sockopt
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# better-sqlite3 keeps its SQLite sources and, when compiled here rather than fetched prebuilt, ~30 MB of
# object files next to the one file it loads (build/Release/better_sqlite3.node): drop the rest.
RUN npm run build \
 && npm prune --omit=dev \
 && find node_modules/better-sqlite3/build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find node_modules/better-sqlite3/build/Release -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} + \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src

# --- loaders: Secure Boot shim and signed netboot GRUB, unpacked from Debian's packages -----------------
# Installing shim-signed and grub-efi-amd64-signed with apt pulls in grub-common, grub-efi-amd64-bin,
# grub2-common, mokutil and friends (~45 MB) for two files of ~5 MB; Farrier only serves the files.
FROM node:20-bookworm-slim AS loaders
WORKDIR /tmp/debs
RUN apt-get update \
 && apt-get download shim-signed grub-efi-amd64-signed \
 && for deb in ./*.deb; do dpkg-deb -x "$deb" /out; done \
 && rm -rf /var/lib/apt/lists/*

# --- runtime ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# ipxe: undionly.kpxe, ipxe.efi, snponly.efi; pxelinux + syslinux-common: lpxelinux.0, ldlinux.c32 and the
# .c32 modules; libarchive-tools: bsdtar, to unpack ISOs and netboot tarballs into the boot tree.
# setcap lets the unprivileged user bind 67/69 (CAP_NET_BIND_SERVICE) and pin DHCP sockets to their
# interface (CAP_NET_RAW for SO_BINDTOIFINDEX on kernels before 5.7); libcap2-bin is removed afterwards.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ipxe pxelinux syslinux-common libarchive-tools libcap2-bin \
 && setcap cap_net_bind_service,cap_net_raw=+ep /usr/local/bin/node \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 farrier \
 && useradd --system --uid 10001 --gid farrier --home-dir /var/lib/farrier --shell /usr/sbin/nologin farrier \
 && install -d -o farrier -g farrier -m 0700 /var/lib/farrier
COPY --from=loaders /out/usr/lib/shim/shimx64.efi.signed /usr/lib/shim/shimx64.efi.signed
COPY --from=loaders /out/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed

WORKDIR /opt/farrier
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json openapi.yaml ./
COPY bootenvs ./bootenvs
COPY templates ./templates
COPY contrib/docker/healthcheck.mjs ./contrib/docker/healthcheck.mjs

ENV NODE_ENV=production \
    FARRIER_DATA_DIR=/var/lib/farrier
VOLUME /var/lib/farrier
# DHCP, TFTP, proxyDHCP (UDP) and HTTP: API, Swagger UI, boot files (TCP). Documentation only: use --network host.
EXPOSE 67/udp 69/udp 4011/udp 8091/tcp
USER farrier
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "contrib/docker/healthcheck.mjs"]
# The README's `npm start` (package.json "start") plus --strict: a port that cannot be bound stops the
# container instead of leaving it half-running.
CMD ["node", "dist/cli/main.js", "serve", "--strict"]
