# Yukuai Code verification node. Build: docker build -t yukuai .  Run: docker run -p 8080:8080 -v yukuai-data:/data yukuai
FROM oven/bun:1.4 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# the runtime is the image's own bun; production dependencies only
RUN bun install --production --ignore-scripts

FROM oven/bun:1.4-slim
WORKDIR /app
ENV NODE_ENV=production PORT=8080 YUKUAI_DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
RUN mkdir -p /data && chown bun:bun /data
USER bun
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=2s CMD ["bun", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["bun", "src/main.ts"]
