FROM alpine
COPY --chown=55:mygroup --chmod=644 --link files* /somedir/
COPY --parents --exclude=*.md --exclude=*.txt ./x/**/y/ /out/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://mirrors.edge.kernel.org/pub/linux/kernel/Historic/linux-0.01.tar.gz /
ADD --keep-git-dir=true --unpack=false https://github.com/moby/buildkit.git#v0.10.1 /buildkit
ADD hom?.txt /mydir/
