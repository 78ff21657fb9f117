FROM alpine
ENV LEGACY value with spaces
ENV A=1 B="two words" C='single $quoted'
ENV D=\$escaped E=dollar\ space \
    F=last
ENV ONE TWO= THREE=world
