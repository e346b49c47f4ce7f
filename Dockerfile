# syntax=docker/dockerfile:1
#
# NeuralBridge: one image for all five services. The service is the command:
#
#   docker run neuralbridge serve gateway            (the default CMD)
#   docker run neuralbridge serve dataset_transform
#   docker run neuralbridge dlq list DLQ_DATASET_TRANSFORMS
#
# Build from the repository root:  docker build -t neuralbridge:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# builder: a virtualenv at /opt/venv with the project and its pinned deps.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# 1. Third-party dependencies only, read from pyproject.toml and pinned by
#    constraints.txt. This layer is rebuilt only when either file changes,
#    not on every source edit.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt

# 2. The project itself (a regular, non-editable wheel install). README.md is
#    needed because pyproject.toml names it as the package readme.
COPY README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install --no-deps -c constraints.txt . \
 && pip check \
 && nb --help > /dev/null

# ---------------------------------------------------------------------------
# runtime: the same base image, the virtualenv, a non-root user. No compilers,
# no source tree, no pip cache.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="neuralbridge" \
      org.opencontainers.image.description="NeuralBridge services (nb serve <service>) over NATS JetStream" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric UID/GID so Kubernetes `runAsNonRoot` can verify it.
RUN groupadd --system --gid 10001 neuralbridge \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin neuralbridge

COPY --from=builder /opt/venv /opt/venv

# The image is meant to run with a read-only root filesystem and a writable
# /tmp (an emptyDir in Kubernetes, a tmpfs in compose):
# - PYTHONDONTWRITEBYTECODE: .pyc files were compiled at install time;
# - HOME and NB_DATA_DIR point into /tmp so nothing tries to write elsewhere.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    NB_DATA_DIR=/tmp/neuralbridge

WORKDIR /app
USER 10001:10001

# 4000: gateway HTTP (GATEWAY_PORT). 9090: /metrics, /healthz, /readyz (METRICS_PORT).
EXPOSE 4000 9090

# Liveness only (/healthz answers while the process is alive); readiness is
# for the orchestrator. No curl in the slim image, so Python does the request.
# Kubernetes ignores HEALTHCHECK and uses the probes in deploy/k8s instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '9090'), timeout=4)"]

# SIGTERM starts a graceful drain (SHUTDOWN_GRACE_SECONDS, default 30); give
# the container longer than that before SIGKILL (compose: stop_grace_period,
# Kubernetes: terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM

ENTRYPOINT ["nb"]
CMD ["serve", "gateway"]
