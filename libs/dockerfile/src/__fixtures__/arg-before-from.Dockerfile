ARG VERSION=latest
ARG REGISTRY
FROM ${REGISTRY:-docker.io}/library/busybox:$VERSION
ARG VERSION
RUN echo $VERSION > image_version
