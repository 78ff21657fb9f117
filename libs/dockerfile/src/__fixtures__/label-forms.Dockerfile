FROM alpine
LABEL "com.example.vendor"="ACME Incorporated"
LABEL version="1.0" description="This text illustrates \
that label-values can span multiple lines."
LABEL multi.label1="value1" multi.label2=value2 other="value3"
