import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()
# Import every view now rather than during a worker's first request, which would otherwise take about
# a second longer than the rest (a new gunicorn worker starts cold after every restart).
get_resolver().url_patterns  # noqa: B018
