"""The operator console: server-rendered HTML pages under `/console`, behind the API token.

- `app` — `Console`, the ASGI app the ingress mounts: routes, the session guard, headers;
- `sessions` — the login session cookie (signed, never the token itself);
- `views` — the pages and the fragments htmx polls, over the project's own queries;
- `charts` — analytics answers as Chart.js configurations;
- `rendering` — the Jinja2 templates, their filters, and where links point;
- `templates/` — the pages; `static/` — htmx and Chart.js (vendored from the npm
  registry, with their licences: no CDN, no build step) and the console's own script
  and style.
"""

from deployments.console.app import Console

__all__ = ["Console"]
