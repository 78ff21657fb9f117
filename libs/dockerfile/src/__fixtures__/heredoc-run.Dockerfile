FROM debian:12
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN <<-EOT bash
	set -e
		echo indented
	EOT
RUN <<'EOF'
echo $HOME stays literal
EOF
RUN python3 <<EOF > /out.txt
print('hi')
EOF
