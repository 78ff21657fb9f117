FROM alpine
COPY <<a.txt <<"b.txt" /dst/
first file
a.txt
second $file
b.txt
COPY --chmod=755 <<EOF /usr/local/bin/hello
#!/bin/sh
echo hello
EOF
