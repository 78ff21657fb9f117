# One image for every Muelle service; the command picks the service (see docker-compose.yml).
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends make gcc libc6-dev pkg-config libseccomp-dev python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/muelle
COPY package.json package-lock.json ./
COPY tools ./tools
COPY libs/isolation/native ./libs/isolation/native
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# The agent's network code runs ip (iproute2), nft (nftables), iptables/iptables-restore (iptables,
# the fallback and NAT) and modprobe (kmod); the isolation helper needs libseccomp2. The others ignore them.
# tools/deploy/compose.spec.ts checks this list against the commands the agent's code runs.
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 nftables iptables kmod util-linux libseccomp2 ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/muelle
COPY --from=build /opt/muelle/node_modules ./node_modules
COPY --from=build /opt/muelle/dist ./dist
COPY --from=build /opt/muelle/libs/isolation/native/build ./libs/isolation/native/build
COPY --from=build /opt/muelle/package.json ./package.json
ENV NODE_ENV=production MUELLE_BIND_HOST=0.0.0.0 MUELLE_DATA_DIR=/var/lib/muelle
CMD ["node", "dist/apps/all-in-one/src/main.js"]
