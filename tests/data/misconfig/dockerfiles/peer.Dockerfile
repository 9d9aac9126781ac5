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
FROM --platform=linux/amd64 fedora:40 AS rpm
RUN dnf install httpd && microdnf install -y curl-8.6.0 vim-enhanced-9.1.0-1.fc40 bash
RUN dnf install -y nginx-1.24.0 && dnf module install -y nodejs:20 && yum install git
RUN yum install -y vim
RUN echo one
RUN echo two && ps aux
# a comment between RUNs does not reset hadolint's count
RUN echo three
RUN --mount=type=cache,target=/var/cache/dnf echo four
RUN gem install rails bundler:2.4.0 && gem install -v 1.2 rake && gem i -- nokogiri:1.16
RUN useradd -u 1000000 app && useradd -l -u 2000000 other && useradd -u 1000 short
