"""How the service runs: settings, the Temporal client, logging, the worker's assembly, namespace set-up."""
