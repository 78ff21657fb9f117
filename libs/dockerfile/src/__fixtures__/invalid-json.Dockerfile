FROM alpine
CMD ["echo", 'single quotes are not JSON']
ENTRYPOINT ["/bin/sh", "-c",]
RUN ["unterminated
VOLUME [/var/data]
