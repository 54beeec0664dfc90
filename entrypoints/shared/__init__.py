"""What both HTTP doors share — the API for booking systems (`entrypoints.http`) and the staff page
(`entrypoints.web`) — without importing each other: who is calling (`auth`), the per-request context
of the Temporal client, the stores and the audit trail (`context`), refusals as problems (`problems`)
and the edge every request passes (`edge`). `entrypoints.asgi` assembles the one app of both."""
