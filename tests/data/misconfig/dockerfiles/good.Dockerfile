# escape=`
FROM debian:12.5@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update `
 && apt-get install -y --no-install-recommends curl=7.88.1-10 `
 && curl -fsSL https://example.com/x.sh | tee /tmp/x.sh `
 && rm -rf /var/lib/apt/lists/*
RUN <<EOF
set -e
echo "heredoc | body" > /etc/motd
EOF
FROM scratch
WORKDIR /app
COPY --from=build /etc/motd /app/
COPY <<-CONF /etc/app.conf
	key=value
CONF
USER 10001:10001
HEALTHCHECK CMD ["/app/healthcheck"]
ENTRYPOINT ["/app/server"]
