"""The doors: thin entrypoints that parse, call the application layer and answer — the command line
(`cli`), the HTTP API (`http`) and the staff page (`web`), one ASGI app of both (`asgi`) over what
they share (`shared`), and the codec server of the Web UI (`codec_server`). They import no workflow,
adapter or demo data (`tests/test_layers.py`); `worker.py`, `starter.py` and `dev.py` at the root
start them."""
