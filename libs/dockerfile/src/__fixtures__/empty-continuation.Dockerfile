FROM alpine
RUN echo one \

    two \
   
    three
RUN echo after
