"""The investigator's workspace in the browser: server-rendered pages over the services."""
