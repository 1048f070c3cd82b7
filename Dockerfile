# tensorloom serve in a container: an OpenAI-compatible server over one model.
#
#   docker build -t tensorloom .
#   docker run --rm -p 8080:8080 -v /path/to/models:/models:ro tensorloom \
#     --model /models/model.gguf --host 0.0.0.0 --port 8080 --parallel 4
#
# Stage 1 builds the package exactly as it ships: the TypeScript build plus the prebuilt, stripped
# native addon (`npm run prebuild` → prebuilds/linux-x64/, which picks AVX2 / AVX-512 kernels at run
# time), packed into a tarball by `npm pack`. Stage 2 installs that tarball on a slim Node image with
# no compiler: node-gyp-build finds the prebuild. The prebuild is for glibc, hence Debian, not Alpine.

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
# prebuild compiles and strips the addon (node-gyp via prebuildify); npm pack's prepack builds the TypeScript.
RUN mkdir /out && npm run prebuild && npm pack --pack-destination /out

FROM node:20-bookworm-slim
ENV NODE_ENV=production
COPY --from=build /out/tensorloom-*.tgz /tmp/
RUN npm install --global --omit=dev /tmp/tensorloom-*.tgz && rm /tmp/tensorloom-*.tgz && npm cache clean --force
# The node image's unprivileged user (uid 1000); models are mounted read-only at /models.
USER node
WORKDIR /home/node
EXPOSE 8080
# 200 once the model is loaded; 503 while loading or draining (see README "Running replicas").
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: stop taking requests, finish those in flight, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tensorloom", "serve"]
# The API key, if any, comes from the environment: -e TENSORLOOM_API_KEY=...
CMD ["--model", "/models/model.gguf", "--host", "0.0.0.0", "--port", "8080"]
