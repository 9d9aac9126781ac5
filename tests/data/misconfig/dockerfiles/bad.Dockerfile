# syntax=docker/dockerfile:1
ARG BASE=ubuntu
FROM ${BASE} AS build
MAINTAINER someone@example.com
ENV DB_PASSWORD=hunter2hunter2 APP_HOME=/app
ARG GITHUB_TOKEN
WORKDIR app
RUN sudo apt-get update && apt-get install curl \
    # a comment inside the continuation
    wget
RUN curl -fsSL https://get.example.com/install.sh | sh
ADD https://example.com/tool.tar.gz /opt/
ADD config.json /etc/app/
RUN pip install flask requests
RUN apk add nginx
RUN cd /tmp && wget https://example.com/x
COPY a.txt b.txt /dest
COPY --from=nowhere /x /y
COPY --from=build /x /y
FROM build AS build
RUN apt install vim
USER root
CMD python app.py
CMD ["python", "app.py"]
