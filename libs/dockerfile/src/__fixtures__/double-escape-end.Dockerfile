FROM alpine
RUN echo literal-backslash\\
RUN echo next
