FROM alpine
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
RUN ["echo", "exec form"]
VOLUME ["/data", "/var/log app"]
COPY ["my file.txt", "/dest dir/"]
ENTRYPOINT ["/entrypoint.sh"]
CMD ["--help"]
