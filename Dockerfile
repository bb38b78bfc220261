# The Diaspor.FM / Diaspor TV backend: one image for the API (`diaspor serve`), the background
# worker (`diaspor worker`) and one-off commands (`diaspor db upgrade`, `diaspor token create`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg/ffprobe from Debian: the code prefers the system's over the imageio-ffmpeg wheel's.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# Only what the package needs, so the build context's .venv, data and caches stay out.
WORKDIR /src
COPY pyproject.toml ./
COPY station ./station
COPY accounts ./accounts
COPY jobs ./jobs
COPY media ./media
COPY schedules ./schedules
COPY playout ./playout
COPY streamer ./streamer
COPY api ./api
COPY diaspor ./diaspor
RUN pip install /src && rm -rf /src

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
