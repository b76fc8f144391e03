"""Server-rendered web UI: engineers' queue, ticket pages, search, SLA dashboard, and the client portal."""
