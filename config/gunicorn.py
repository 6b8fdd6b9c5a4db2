"""gunicorn's configuration (`gunicorn -c config/gunicorn.py config.wsgi:application`).

gunicorn has no setting to drop its `Server: gunicorn` banner, which tells an attacker what to look up;
this file, run once in the master before it forks its workers, removes the header from every response.
Settings may still be given on the command line (`--bind`, `--workers`) or as GUNICORN_CMD_ARGS.
"""

import os

from gunicorn.http import wsgi

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Only the proxy in front of us may say the request came over HTTPS (X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

_default_headers = wsgi.Response.default_headers


def _headers_without_server(self: wsgi.Response) -> list[str]:
    return [header for header in _default_headers(self) if not header.lower().startswith("server:")]


wsgi.Response.default_headers = _headers_without_server  # gunicorn has no setting for it
