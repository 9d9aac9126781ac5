FROM alpine:3 AS st
FROM alpine:3
COPY --from=st / /
COPY --from=img:1 / /z
COPY --from=img / /z
COPY --from=st / .
COPY --from=img /bin /
