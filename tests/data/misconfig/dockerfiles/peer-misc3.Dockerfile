FROM debian:12 AS base
ONBUILD FROM other
ONBUILD MAINTAINER me
LABEL "in valid"=1 com.example.ok=2 "-bad"=3
RUN apt-get upgrade -y && apt-get dist-upgrade
RUN apk upgrade && yum update -y && dnf upgrade -y && dnf update
COPY app.tar.gz /tmp/
RUN tar -xzf /tmp/app.tar.gz
EXPOSE 80
STOPSIGNAL SIGKILL
WORKDIR /app
COPY --chmod=777 x /x
RUN pip3 install --user x==1 && pip install --break-system-packages y==2
RUN go install example.com/x@latest && go get example.com/y
HEALTHCHECK NONE
