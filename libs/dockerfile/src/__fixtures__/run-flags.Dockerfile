FROM python:3.12
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=netrc,target=/root/.netrc \
    --network=none --security=sandbox \
    pip install -r requirements.txt
