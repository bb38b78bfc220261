# The Diaspor.FM / Diaspor TV backend: one image for the API (`diaspor serve`), the background
# worker (`diaspor worker`) and one-off commands (`diaspor db upgrade`, `diaspor token create`).
# The base by tag: Python's patch release and Debian's (bookworm) both named. Not by digest: no
# image registry answers where this is written and tested, and a digest nobody could check is a
# guess; add one (`FROM python:3.11.14-slim-bookworm@sha256:…`) where `docker pull` shows it.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg/ffprobe from Debian: the code prefers the system's over the imageio-ffmpeg wheel's.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# The dependencies from requirements.lock (`make lock`), every one pinned and checked by its
# hash; copied alone first, so this layer is rebuilt only when the lock changes. The lock holds
# setuptools too (the build system's own requirement), which builds the project below.
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Only what the package needs (.dockerignore keeps the rest out of the build context), installed
# on top without resolving anything (--no-deps) and built by the pinned setuptools rather than
# one fetched for an isolated build.
COPY pyproject.toml ./
COPY station ./station
COPY accounts ./accounts
COPY jobs ./jobs
COPY media ./media
COPY schedules ./schedules
COPY audience ./audience
COPY playout ./playout
COPY streamer ./streamer
COPY api ./api
COPY diaspor ./diaspor
RUN pip install --no-deps --no-build-isolation /src && rm -rf /src

# Scratch space (uploads in flight, analysis) lives in DIASPOR_DATA_DIR; a volume in compose.
RUN groupadd --system --gid 10001 diaspor \
    && useradd --system --uid 10001 --gid diaspor --home-dir /var/lib/diaspor \
        --shell /usr/sbin/nologin diaspor \
    && mkdir -p /var/lib/diaspor \
    && chown diaspor:diaspor /var/lib/diaspor

ENV DIASPOR_DATA_DIR=/var/lib/diaspor \
    DIASPOR_HOST=0.0.0.0 \
    DIASPOR_PORT=8000

USER diaspor
WORKDIR /var/lib/diaspor
EXPOSE 8000

CMD ["diaspor", "serve"]
