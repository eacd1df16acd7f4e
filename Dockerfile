# syntax=docker/dockerfile:1
# Vigil's image, built from the installable package exactly as `npm pack` makes it:
#
#   npm pack && docker build -t vigil .          (the build context is the tarball alone: see .dockerignore)
#
# deploy/image/build.sh does both, with podman or docker, and can make the Node.js base from Debian packages where
# no image registry is reachable (--local-base).
ARG NODE_IMAGE=node:24-bookworm-slim

# Stage 1: the package (compiled JavaScript, the built console) unpacked where it will run, with its production
# dependencies, no install scripts.
FROM ${NODE_IMAGE} AS install
COPY vigil-audit-*.tgz /tmp/
# A build behind a TLS-intercepting proxy passes that proxy's CA as the secret extra-ca (build.sh does).
RUN --mount=type=secret,id=extra-ca \
    set -eu; \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    set -- /tmp/vigil-audit-*.tgz; \
    [ "$#" -eq 1 ] || { echo "expected one vigil-audit-*.tgz in the build context, found: $*" >&2; exit 1; }; \
    mkdir -p /opt/vigil; \
    tar -xzf "$1" --strip-components=1 --no-same-owner -C /opt/vigil; \
    cd /opt/vigil; \
    npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier; \
    npm cache clean --force

# Stage 2: the runtime. Non-root, data in /data, configuration in /etc/vigil (mount yours over vigil.yaml).
FROM ${NODE_IMAGE}
COPY --from=install /opt/vigil /opt/vigil
RUN set -eu; \
    groupadd --system --gid 10001 vigil; \
    useradd --system --uid 10001 --gid vigil --home-dir /data --no-create-home --shell /usr/sbin/nologin vigil; \
    printf '#!/bin/sh\nexec node /opt/vigil/bin/vigil.js "$@"\n' > /usr/local/bin/vigil; \
    chmod 0755 /usr/local/bin/vigil; \
    mkdir -p /data /etc/vigil; \
    chown vigil:vigil /data; \
    printf '%s\n' \
      '# Default configuration of the image: mount your own over /etc/vigil/vigil.yaml (docs/collector.md).' \
      '# Listening beyond loopback needs auth.tokens (or auth.clientCerts): without them vigil serve refuses to start.' \
      'listen: 0.0.0.0:8080' \
      'storage: { type: sqlite, path: /data/vigil.db }' \
      > /etc/vigil/vigil.yaml
ENV NODE_ENV=production
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# Plain HTTP on 8080 by default; a collector on HTTPS or another port sets VIGIL_HEALTH_URL (Kubernetes uses its own
# probes on /healthz and /readyz instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.VIGIL_HEALTH_URL||'http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/opt/vigil/bin/vigil.js", "serve"]
CMD ["--config", "/etc/vigil/vigil.yaml"]
