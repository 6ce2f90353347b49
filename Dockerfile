# search-sync: the single binary built with Bun, run on a slim base as a non-root user.
#   docker build -t search-sync .
#   docker run -e MONGODB_URI=… -e REDIS_URL=… -p 8000:8000 search-sync           (the service)
#   docker run -e MONGODB_URI=… -e REDIS_URL=… search-sync sync --type boxes       (one sync)
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock ./
# Runtime packages only: building the binary needs no dev tool.
RUN bun install --frozen-lockfile --production
COPY tsconfig.json ./
COPY src ./src
COPY drizzle ./drizzle
RUN bun run build && ./dist/search-sync --version

FROM debian:bookworm-slim
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
