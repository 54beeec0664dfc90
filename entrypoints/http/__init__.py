"""The HTTP door: REST v1 and FHIR R4 for booking systems, the SMS provider's delivery reports
(`app.create_app`; `python -m entrypoints.http` serves it with uvicorn)."""
