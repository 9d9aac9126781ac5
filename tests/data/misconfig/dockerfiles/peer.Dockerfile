FROM node:20 AS deps
USER root
RUN npm install express lodash@4.17.21 && npm install
RUN npm install @scope/pkg ./local git+https://example.com/x.git
EXPOSE 80 70000/tcp
HEALTHCHECK CMD ["true"]
HEALTHCHECK CMD ["false"]
ENTRYPOINT ["a"]
ENTRYPOINT ["b"]
FROM deps
RUN pip install --index-url https://pypi.example/simple flask==2.0 && pip3 install -r req.txt
RUN wget -nv https://x && wget --progress=dot:giga https://y && wget -O- https://z
RUN apk add --virtual .deps gcc=13 && apk add --no-cache musl
USER 0:0
