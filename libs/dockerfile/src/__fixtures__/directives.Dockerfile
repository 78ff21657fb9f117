# syntax=docker/dockerfile:1.7
# check=skip=JSONArgsRecommended;error=true
#ESCAPE = \
# comment ends the directive block
# escape=`
FROM alpine
RUN echo a \
    b
