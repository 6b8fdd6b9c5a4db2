"""Production: DEBUG off, secure cookies, a real broker required."""

from config.env import env_bool
from config.settings.base import *  # noqa: F403

if DEBUG:  # noqa: F405
    raise ValueError("config.settings.production needs DEBUG=0")
if not CELERY_BROKER_URL:  # noqa: F405
    raise ValueError("config.settings.production needs CELERY_BROKER_URL")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
