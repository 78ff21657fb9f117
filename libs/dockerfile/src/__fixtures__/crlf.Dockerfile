FROM alpine
RUN apk add --no-cache \
    curl \
    git
LABEL a=b
