"""One booking request or care invitation (V1–V14): the process (`process.Request`), how it sends a
message (`sending`), the types it runs as (`generations`: `REQUEST_TYPES`)."""
