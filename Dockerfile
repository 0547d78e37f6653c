# ringproxy container image.
#
#   docker build -t ringproxy:0.1.0 .
#   docker run --rm -v "$PWD/my.yml:/etc/ringproxy/ringproxy.yml:ro" -p 22121:22121 -p 22222:22222 \
#     ringproxy:0.1.0
#
# The build stage installs its packages with the project's own .ci/install-deps and builds with
# the commands of .ci/test, so the image cannot drift from what CI builds and tests; the unit
# tests run before anything is copied out. The runtime stage holds the binary,
# the shared libraries it links (worked out from the binary, not listed by hand) and a default
# configuration, and runs as a non-root user. tests/k8s/build_image.sh builds this file in CI.

FROM debian:bookworm AS build
WORKDIR /src
# Only the install script first: the package layer stays cached while the sources change.
COPY .ci/install-deps .ci/install-deps
RUN bash .ci/install-deps build && rm -rf /var/lib/apt/lists/*
COPY . .
# A Release build (gcc -O3, no assertions), as users and packagers build it; CI's other stages
# build RelWithDebInfo and sanitized trees, so this is where the unit tests meet -O3. Benchmarks
# are off: they are not run here, and Google Benchmark would only lengthen the build.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGPROXY_BENCH=OFF \
      >/dev/null \
 && cmake --build build -j"$(nproc)" \
 && ctest --test-dir build --output-on-failure -j"$(nproc)" -L unit
# The Debian packages that own the shared libraries the binary loads, for the runtime stage.
RUN mkdir -p /out \
 && objcopy --strip-debug build/proxy/ringproxy /out/ringproxy \
 && ldd /out/ringproxy | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' \
    | while read -r lib; do \
        real=$(readlink -f "$lib"); \
        dpkg-query -S "$real" 2>/dev/null || dpkg-query -S "${real#/usr}" 2>/dev/null \
          || dpkg-query -S "/usr$real"; \
      done \
    | cut -d: -f1 | sort -u > /out/runtime-packages \
 && cat /out/runtime-packages

FROM debian:bookworm-slim
COPY --from=build /out/runtime-packages /usr/share/ringproxy/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive xargs -a /usr/share/ringproxy/runtime-packages \
      apt-get install -y -qq --no-install-recommends >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ringproxy
COPY --from=build /out/ringproxy /usr/local/bin/ringproxy
# The default configuration is the Kubernetes base's, so `-t` in CI checks what is deployed; a
# ConfigMap (or a bind mount) replaces the whole /etc/ringproxy directory at run time.
COPY k8s/base/ringproxy.yml /etc/ringproxy/ringproxy.yml
# Fails the build if a library is missing rather than the first container start.
RUN ! ldd /usr/local/bin/ringproxy | grep 'not found' && /usr/local/bin/ringproxy --version

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /
EXPOSE 22121 22222
# Nothing is written at run time (logs go to stderr, no pid file), so the root filesystem can be
# mounted read-only. SIGTERM drains: in-flight requests finish, then the process exits 0.
STOPSIGNAL SIGTERM
# bash's /dev/tcp, because the image carries no HTTP client; Kubernetes ignores this and probes
# /healthz and /readyz itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22222 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/ringproxy", "-c", "/etc/ringproxy/ringproxy.yml", "-s", "22222", "-a", "0.0.0.0"]
CMD []
