# Liufang API / worker image: Python 3.11 with ffmpeg; the same image runs gunicorn (api) or `liufang worker`.
# libgl1, libglib2.0-0, libxcb1: OpenCV, which the default OCR engine (rapidocr-onnxruntime) loads; add
# tesseract-ocr tesseract-ocr-chi-sim to use LIUFANG_OCR_ENGINE=tesseract.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LIUFANG_INSTANCE_PATH=/var/lib/liufang

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg poppler-utils curl libgl1 libglib2.0-0 libxcb1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/liufang --create-home liufang

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY media ./media
COPY transcription ./transcription
COPY migrations ./migrations
COPY scripts/gunicorn.conf.py ./scripts/gunicorn.conf.py
RUN pip install '.[models]'

USER liufang
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8000/api/health || exit 1
# The same settings as `make run` and the tests (gevent workers; WEB_CONCURRENCY processes, default 2).
CMD ["gunicorn", "-c", "scripts/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
