"""The outside world behind small ports (Protocols), each with an embedded implementation for local use
and an HTTP one shaped like the real system: the directory, SMS, the 1177 inbox, letters."""
