RUN b
FROM x:1
USER 1000:app
USER app:1000
USER 1000
USER root
USER "1000"
RUN yarn
RUN yarn install && yarn cache clean
RUN yarn install --frozen-lockfile && yarn cache clean --all
RUN yarn global add x && yarn install
RUN yarn install; yarn cache clean
