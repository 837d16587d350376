FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake espeak-ng \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent agent
COPY signaling signaling
COPY media media
COPY evaluation evaluation
COPY db db
COPY web web
RUN pip install --no-cache-dir .
USER app
EXPOSE 8000
CMD ["interview", "serve", "--host", "0.0.0.0"]
