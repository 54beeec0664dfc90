FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
COPY worker.py starter.py dev.py ./
COPY domain ./domain
COPY contracts ./contracts
COPY workflows ./workflows
COPY activities ./activities
COPY adapters ./adapters
COPY application ./application
COPY infrastructure ./infrastructure
COPY security ./security
COPY entrypoints ./entrypoints
COPY demo ./demo
RUN pip install --no-cache-dir .
# PM_DATA_DIR in compose (the letters volume): a new named volume takes this owner, so `nobody` can write
RUN mkdir /data && chown nobody:nogroup /data
USER nobody
CMD ["python", "worker.py"]
