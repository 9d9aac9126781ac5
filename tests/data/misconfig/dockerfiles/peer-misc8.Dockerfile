FROM --platform=$TARGETPLATFORM alpine:3 AS scratch
FROM --platform=${TARGETPLATFORM} alpine:3 AS context
FROM --platform=$BUILDPLATFORM alpine:3 AS from
FROM alpine:3 AS Build
COPY --from=gloursdocker/docker / /
COPY --from=from /. /x
COPY --from=from /* /y
COPY --from=from / /z/
COPY / /w
FROM alpine:3 AS latest
