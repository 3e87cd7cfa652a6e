# syntax=docker/dockerfile:1
# upm-engine: the upm.io aggregated API server (and the rest of the CLI).
#   docker build -t upm-engine:dev .
#   docker run --rm upm-engine:dev --help
ARG NODE_IMAGE=node:20-bookworm

# ---- build: all dependencies, compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# better-sqlite3 is native: the full bookworm image has python3, make and g++ should no
# prebuilt binary match.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- prod-deps: runtime dependencies only, built for the same Debian release as the runtime ----
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# /var/lib/upm holds the SQLite database (a volume in Kubernetes). The "node" user of the
# official image is uid/gid 1000; numeric so that runAsNonRoot can verify it.
RUN mkdir -p /var/lib/upm && chown 1000:1000 /var/lib/upm
USER 1000:1000
EXPOSE 8443
ENTRYPOINT ["node", "dist/cli/main.js"]
