FROM x:1
LABEL Maintainer=a
LABEL com.docker.x=1
LABEL a..b=1
LABEL a-b.c_d=1
LABEL 1abc=1
LABEL abc-=1
LABEL org.opencontainers.image.title=x
LABEL A=1 b=2
COPY app.tar.gz /tmp/
COPY a.zip b.tgz /tmp/
HEALTHCHECK NONE
RUN go install example.com/x@latest
ENV X=1
RUN go get example.com/y
ENV X=1
RUN go install example.com/z@v1.2.3
ENV X=1
RUN go run ./cmd
ADD a.tar.gz /tmp/
