# a plain comment first
# escape=`
FROM alpine
RUN echo \
    continued
