# Yukuai Code verification node. Build: docker build -t yukuai .  Run: docker run -p 8080:8080 -v yukuai-data:/data yukuai
FROM oven/bun:1.4 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# the runtime is the image's own bun; production dependencies only (devDependencies such as the npm
# "bun" package and the bench tools stay out), exactly as locked in package-lock.json
RUN bun install --production --ignore-scripts --frozen-lockfile

# the API reference page's script (GET /docs/scalar.js): one file of a devDependency, not its dependency tree
FROM oven/bun:1.4 AS docs
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --ignore-scripts --frozen-lockfile && cp node_modules/@scalar/api-reference/dist/browser/standalone.js /scalar-standalone.js

# the verification core (native/): compiled with node-gyp against Node's own headers (the image's compiler,
# python3 and make); the same Debian release as the runtime image, so the same C library. If the image is
# built without it, the node starts on node:crypto and says so; here a failed build fails the image.
FROM node:20-bookworm AS native
WORKDIR /app
COPY native ./native
RUN node native/install.mjs && test -f native/build/Release/yukuai_ed25519.node

FROM oven/bun:1.4-slim
WORKDIR /app
ENV NODE_ENV=production PORT=8080 YUKUAI_DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY --from=docs /scalar-standalone.js ./vendor/scalar-standalone.js
COPY --from=native /app/native/build/Release/yukuai_ed25519.node ./native/build/Release/yukuai_ed25519.node
RUN mkdir -p /data && chown bun:bun /data
USER bun
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=2s CMD ["bun", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["bun", "src/main.ts"]
