RUN echo before-from
FROM node:20 AS b
USER app
RUN yarn install && yarn add lodash
RUN apt-get update && apt-get upgrade -y && apt-get install -y --no-install-recommends x=1 && rm -rf /var/lib/apt/lists/*
RUN apk upgrade --no-cache
RUN dnf update -y && dnf clean all
RUN yum update -y && yum clean all
RUN npm ci && npm cache clean --force
RUN curl -o x https://x && chmod +x x
RUN pip install -e . && pip install --upgrade pip==24.0
COPY --chown=app:app --chmod=0644 a /a
ADD --chown=app x /x
RUN --mount=type=secret,id=token cat /run/secrets/token
ENTRYPOINT ["a"]
CMD ["b"]
EXPOSE 8080/udp 9000-9010
VOLUME /data
USER 1000:1000
HEALTHCHECK --interval=5s CMD ["x"]
