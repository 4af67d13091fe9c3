# One image for every role: `docker run IMAGE gateway|auth|converter|notifier|serve|...`.
#   docker build -t video2mp3:0.1.0 .          (or: minikube image build -t video2mp3:0.1.0 .)
# deploy/check verifies that the runtime stage installs the package of every shared library
# the binary links, and that both base images are pinned.

# ---- build: compiler and -dev packages, the same list scripts/install-deps uses
FROM debian:12.8-slim AS build
COPY scripts/install-deps /usr/local/bin/install-deps
RUN install-deps --build && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake cmake
COPY include include
COPY src src
COPY bench bench
COPY web web
RUN cmake --preset release -DVIDEO2MP3_BUILD_TESTS=OFF \
    && cmake --build --preset release --target video2mp3 \
    && strip build/release/video2mp3

# ---- runtime: the shared libraries the binary links, CA certificates for TLS, nothing else
FROM debian:12.8-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates \
        libavcodec59 libavformat59 libavutil57 libswresample4 \
        libbson-1.0-0 libmongoc-1.0-0 librabbitmq4 libpq5 libpqxx-6.4 libsqlite3-0 \
        libcpp-httplib0.11 libcurl4 libfmt9 libjwt0 libsodium23 libspdlog1.10 libssl3 \
        libyaml-cpp0.7 \
        libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 video2mp3 \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin \
        video2mp3 \
    && install -d -o video2mp3 -g video2mp3 /data
COPY --from=build /src/build/release/video2mp3 /usr/local/bin/video2mp3
USER 10001:10001
WORKDIR /data
EXPOSE 8080 8081 9090
ENTRYPOINT ["video2mp3"]
CMD ["--help"]
