FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY brief ./brief
COPY tasks ./tasks
COPY templates ./templates
# A regular (non-editable) install: templates and migrations ship in the wheel.
RUN pip install . && useradd --create-home --uid 1000 brief && mkdir /data && chown brief /data

USER brief
VOLUME /data
ENV BRIEF_DATA_DIR=/data
CMD ["celery", "-A", "tasks", "worker", "-B", "-l", "info"]
