FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
COPY config.py connection.py codec_server.py logging_setup.py worker.py starter.py operations.py demo.py demo_data.py dev.py ./
COPY domain ./domain
COPY services ./services
COPY activities ./activities
COPY workflows ./workflows
COPY security ./security
RUN pip install --no-cache-dir .
USER nobody
CMD ["python", "worker.py"]
