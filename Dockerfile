# syntax=docker/dockerfile:1.7
# One image recipe for every Python service: `docker build --build-arg SERVICE=<package> .`
# The container runs `python -m <package> <process>`; the process (migrate, http, worker)
# is the command, `http` by default.
#
# How only that service's dependencies get in: the service and the two libraries are
# installed from their own pyprojects with plain pip, into a virtualenv that the runtime
# stage copies. Their workspace dependencies are PDM-style `file:///${PROJECT_ROOT}/../..`
# URLs, which pdm-backend resolves relative to each project when pip builds it; the builder
# therefore keeps the repository layout (libs/ next to services/) so those URLs point at the
# copied sources, and pip installs exactly the dependency closure of one service. Versions
# come from pdm.lock, turned into a pip constraints file (a constraint never adds a package,
# it only pins the ones the service really needs), so the image runs what CI tested.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS builder
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<package>" >&2; exit 1; }
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pdm.lock ./
RUN python - <<'EOF'
import tomllib
from pathlib import Path

lock = tomllib.loads(Path("pdm.lock").read_text())
pins = sorted({f"{p['name']}=={p['version']}" for p in lock["package"] if "path" not in p})
Path("constraints.txt").write_text("\n".join(pins) + "\n")
EOF
COPY libs/common_core libs/common_core
COPY libs/huleedu_service_libs libs/huleedu_service_libs
COPY services/${SERVICE} services/${SERVICE}
RUN test -f "services/${SERVICE}/src/${SERVICE}/__main__.py" \
    || { echo "services/${SERVICE} has no runnable package ${SERVICE}" >&2; exit 1; }
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --constraint constraints.txt "./services/${SERVICE}"

FROM python:${PYTHON_VERSION}-slim AS runtime
ARG SERVICE
ENV SERVICE_PACKAGE=${SERVICE} \
    PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000
RUN groupadd --system --gid 10001 huleedu \
    && useradd --system --uid 10001 --gid huleedu --no-create-home --shell /usr/sbin/nologin huleedu
COPY --from=builder /opt/venv /opt/venv
# The registry's topic bootstrap ships in every image: the compose `kafka-topics` step runs it.
COPY tools/bootstrap_topics.py tools/replay_dead_letters.py /app/tools/
WORKDIR /app
USER huleedu:huleedu
EXPOSE 8000
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"${SERVICE_PACKAGE}\" \"$@\"", "--"]
CMD ["http"]
