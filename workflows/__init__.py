"""The workflows: they only orchestrate (time from `workflow.now()`, I/O in activities) and import only
`domain`, `contracts` and each other."""
