"""Production: DEBUG off, a real broker, HTTPS only (HSTS, redirect, secure cookies), each from the environment."""

from config.env import env_bool, env_int
from config.settings.base import *  # noqa: F403

if DEBUG:  # noqa: F405
    raise ValueError("config.settings.production needs DEBUG=0")
if not CELERY_BROKER_URL:  # noqa: F405
    raise ValueError("config.settings.production needs CELERY_BROKER_URL")

# Cookies travel over HTTPS only; the session cookie is never readable by scripts.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True

# HTTPS: plain-HTTP requests are redirected, except the probes of a load balancer that checks over HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Browsers remember to use HTTPS for a year; subdomains and the preload list only when asked, since both
# are hard to undo (every subdomain must serve HTTPS; leaving the preload list takes months).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a proxy that terminates TLS, Django learns the scheme from X-Forwarded-Proto. Trust it only when
# the proxy sets it (TRUST_PROXY_SSL_HEADER=1): reached directly, a client could send the header itself.
if env_bool("TRUST_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
