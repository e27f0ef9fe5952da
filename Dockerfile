# The seerlog image for docker-compose.yml: built on Debian 12 with the same packages as
# scripts/setup (Debian's librdkafka 2.0.2, Avro C 1.11.1, ...), then only the runtime libraries.
FROM debian:12 AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libavro-dev libjansson-dev \
      libcriterion-dev libmicrohttpd-dev liblmdb-dev libcurl4-openssl-dev libssl-dev \
      zlib1g-dev uuid-dev && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /build -j"$(nproc)" \
      --target seerlog

FROM debian:12
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      librdkafka1 libavro23 libjansson4 libmicrohttpd12 liblmdb0 libcurl4 libssl3 zlib1g \
      libuuid1 ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/seerlog --create-home seerlog
COPY --from=build /build/cmd/seerlog /usr/local/bin/seerlog
USER seerlog
WORKDIR /var/lib/seerlog
ENTRYPOINT []
CMD ["seerlog", "--help"]
