FROM python:3.12
RUN <<EOF
#!/usr/bin/env python3
print("from a heredoc")
EOF
RUN 3<<FD3 cat <&3
three
FD3
