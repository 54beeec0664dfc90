"""The rules of the seeds as pure functions over pydantic models: no Temporal, no I/O (S1–S16, V1–V14)."""
