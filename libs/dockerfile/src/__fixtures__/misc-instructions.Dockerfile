FROM alpine
MAINTAINER Jane Doe <jane@example.com>
USER app:app
WORKDIR /srv/${APP_DIR}
VOLUME /var/log /var/db
STOPSIGNAL SIGTERM
ARG A B=2 C="three 3"
