# search-sync: the single binary built with Bun, run on a slim base as a non-root user.
#   docker build -t search-sync .
#   docker run -e MONGODB_URI=… -e REDIS_URL=… -p 127.0.0.1:8000:8000 search-sync          (the service)
#   docker run -e MONGODB_URI=… -e REDIS_URL=… search-sync sync --type boxes              (one sync)
#   docker run -e MONGODB_URI=… -e REDIS_URL=… search-sync check-config                   (settings, connections)
#
# Base images. Pin them by digest for builds that must be repeatable: resolve the tag once and
# pass it whole (README, "Docker"), e.g.
#   docker build --build-arg BUN_IMAGE=oven/bun:1.4.5@sha256:<digest> \
#                --build-arg BASE_IMAGE=debian:bookworm-slim@sha256:<digest> .
# with <digest> from `docker buildx imagetools inspect oven/bun:1.4.5` (the index digest). The
# defaults are tags: this repository was written where no registry could be asked for digests.
ARG BUN_IMAGE=oven/bun:1.4.5
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BUN_IMAGE} AS build
WORKDIR /src
COPY package.json bun.lock ./
# Runtime packages only: building the binary needs no dev tool.
RUN bun install --frozen-lockfile --production
COPY tsconfig.json ./
COPY src ./src
COPY drizzle ./drizzle
RUN bun run build && ./dist/search-sync --version

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="search-sync" \
      org.opencontainers.image.description="Keeps a Redis search index of a shop catalog in step with MongoDB and serves autocomplete search over it." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      org.opencontainers.image.documentation="README.md"
# CA certificates for rediss://, mongodb+srv:// and HTTPS webhooks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/search-sync --create-home --shell /usr/sbin/nologin search-sync
COPY --from=build /src/dist/search-sync /usr/local/bin/search-sync
USER search-sync
# The history database and dataset files live in the volume; a .env there is read too.
WORKDIR /var/lib/search-sync
ENV PORT=8000 LISTEN_HOST=0.0.0.0 HISTORY_DB_PATH=/var/lib/search-sync/search-sync-history.db DATA_SET_FILE=/var/lib/search-sync/data_set.json
EXPOSE 8000
VOLUME ["/var/lib/search-sync"]
# No curl in the image: the binary asks its own /healthz (exit 0 healthy, 1 not).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["search-sync", "healthcheck"]
# On SIGTERM an active run gets SHUTDOWN_TIMEOUT_SECONDS (25) to finish: stop with a longer grace
# period than Docker's default 10 s (docker stop -t 40, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["search-sync"]
CMD ["serve"]
