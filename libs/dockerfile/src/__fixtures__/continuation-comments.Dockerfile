FROM debian:12
RUN apt-get update \
# the comment is dropped
    && apt-get install -y \
      # so is this one
      vim \
    && rm -rf /var/lib/apt/lists/*
RUN echo hello # not a comment, passed to the shell
