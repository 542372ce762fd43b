# syntax=docker/dockerfile:1
# The production image of the voter eligibility service (docs/production.md).
#
# Base image: pinned by exact patch tag. A digest pin (python:3.11.14-slim-bookworm@sha256:...)
# is stronger, but the digest can only be read from the registry, which this repository's
# build machines cannot reach; docs/production.md shows how to add it when the image is
# built, and the release pipeline should do so.

FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Exactly the locked runtime (requirements/lock.txt, made by scripts/lock), every file checked
# against its hash; the lock pins pip and the build backend too, so nothing below is fetched
# unchecked. --only-binary keeps it to prebuilt wheels, so neither stage needs a compiler and a
# dependency that would have to be compiled fails the build loudly.
COPY requirements/lock.txt ./requirements/lock.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: \
       -r requirements/lock.txt

COPY pyproject.toml ./
COPY service ./service
# A wheel, not the source tree: the final image carries only what the package declares. Built
# with the locked setuptools and installed without dependencies (they are all in place), then
# `pip check` proves the lock satisfies what pyproject.toml asks for.
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /wheels/voter_eligibility-*.whl \
    && /opt/venv/bin/pip check

# The app reads the contract from CONTRACT_PATH (service/api/app.py: two directories above the
# package), which for an installed wheel lies in site-packages; ask the code where, rather
# than hard-coding the path. Then prove the installed package is whole: the contract loads
# and the migration scripts resolve to a head revision, or the build fails here instead of
# the first pod failing in production. `python -I` keeps /src (the working directory, which
# holds the source tree) off sys.path, so these checks see the installed wheel.
COPY contracts/openapi.yaml /src/contracts/openapi.yaml
RUN target="$(/opt/venv/bin/python -I -c 'from service.api.app import CONTRACT_PATH; print(CONTRACT_PATH)')" \
    && mkdir -p "$(dirname "$target")" \
    && cp /src/contracts/openapi.yaml "$target" \
    && /opt/venv/bin/python -I -c 'from service.api.app import load_contract; from service.db.migrations import head_revision; load_contract(); print("migration head", head_revision())' \
    && /opt/venv/bin/voterctl --help >/dev/null


FROM python:3.11.14-slim-bookworm

LABEL org.opencontainers.image.title="voter-eligibility" \
      org.opencontainers.image.description="Voter eligibility service with a tamper-evident audit log"

# The root filesystem is read-only in Kubernetes: nothing may try to write bytecode at run
# time (the wheel install already compiled it). VOTER_ENV=prod makes the service refuse
# development shortcuts even if a manifest forgets to set it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    VOTER_ENV=prod

# Fixed IDs so the manifests' runAsUser/runAsGroup and fsGroup can name them.
RUN groupadd --system --gid 10001 voter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin voter

# Owned by root and not writable by the service user: the running process cannot alter its code.
COPY --from=builder /opt/venv /opt/venv

WORKDIR /tmp
USER 10001:10001
EXPOSE 8000

# slim has no curl; urlopen raises on a refused connection and on any non-2xx status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

ENTRYPOINT ["voterctl"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
