# One image for every rbsync service (worker, beat, web, flower); docker-compose.yml picks the command.
# No settings or secrets are baked in: they arrive at run time through env_file: .env.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so editing code does not reinstall them. README.m[d] is a glob so a missing README
# does not break the build (pyproject names it as the long description). constraints.txt pins every
# dependency to the versions the test suite is proven on (the same file `make install` uses).
COPY pyproject.toml constraints.txt README.m[d] ./
COPY clients ./clients
COPY tasks ./tasks
COPY web ./web
COPY sandbox ./sandbox
RUN pip install -c constraints.txt .

# An unprivileged user owns only what it must write: Flower's state and the worker heartbeat (in /tmp).
RUN useradd --create-home --uid 10001 --user-group rbsync \
    && mkdir -p /data \
    && chown rbsync:rbsync /data
USER rbsync

EXPOSE 8000 5555
CMD ["python", "-m", "web", "--host", "0.0.0.0", "--port", "8000"]
