# wanform: the offline DashScope emulator (default) and the CLI.
#   docker build -t wanform .
#   docker run --rm -p 8000:8000 wanform                      # emulator on http://localhost:8000/api/v1
#   docker run --rm -v "$PWD:/work" -w /work wanform validate recipes/
#   docker run --rm -v "$PWD:/work" -w /work --user "$(id -u):$(id -g)" wanform run recipes/   # files owned by you
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/wanform
COPY pyproject.toml README.md ./
COPY spec ./spec
COPY runner ./runner
COPY emulator ./emulator
COPY package ./package
RUN pip install . && useradd --create-home --uid 10001 wanform

USER wanform
EXPOSE 8000
ENTRYPOINT ["wanform"]
CMD ["emulator", "--host", "0.0.0.0", "--port", "8000"]
