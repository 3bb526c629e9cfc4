# One image for every rbsync service (worker, beat, web, flower); docker-compose.yml picks the command.
# No settings or secrets are baked in: they arrive at run time through env_file: .env.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in a layer of their own, so editing code does not reinstall them: the runtime
# dependencies named in pyproject.toml, at the versions constraints.txt pins (the same file `make install`
# uses; the suite is proven on them). The dev extra (pytest, ruff...) stays out of the image.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt
RUN pip install -c constraints.txt -r /tmp/requirements.txt && rm /tmp/requirements.txt

# Then the code, installed without touching the dependencies. README.m[d] is a glob so a missing README
# does not break the build (pyproject names it as the long description).
COPY README.m[d] ./
COPY clients ./clients
COPY tasks ./tasks
COPY web ./web
COPY sandbox ./sandbox
RUN pip install --no-deps -c constraints.txt .

# An unprivileged user owns only what it must write: Flower's state and the worker heartbeat (in /tmp).
# The health checks run /app/tasks/cli/healthcheck.py as a script (docker-compose.yml): keep it there.
RUN useradd --create-home --uid 10001 --user-group rbsync \
    && mkdir -p /data \
    && chown rbsync:rbsync /data
USER rbsync

EXPOSE 8000 5555
CMD ["python", "-m", "web", "--host", "0.0.0.0", "--port", "8000"]
