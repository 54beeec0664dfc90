"""The doors: thin entrypoints that parse, call the application layer and answer (the command line,
the codec server of the Web UI). `worker.py`, `starter.py` and `dev.py` at the root start them."""
