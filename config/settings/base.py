"""Settings for every environment; each value comes from the environment with a safe demo default."""

import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from config.database import database_from_url, embedded_database_url
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "demo-only-insecure-secret-key-change-me")
if not DEBUG and SECRET_KEY.startswith("demo-only"):
    raise ValueError("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "pgtrigger",
    "pghistory",
    "accounts",
    "webhooks",
    "metering",
    "outcomes",
    "rollups",
    "billing",
    "payments",
    "value",
    "portal",
    "demo",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RejectNulMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.PortalErrorPagesMiddleware",  # the portal's 404/500 pages with DEBUG on too
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Groups a request's writes under one audit context (the user, the URL); API keys add themselves.
    "audit.middleware.AuditContextMiddleware",
    # Last, as its docs ask: answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content security policy (django-csp 4): scripts only from the app itself or inline with this response's
# nonce (`nonce="{{ request.csp_nonce }}"`); no plugins, no framing, forms post only here. Inline style
# attributes (progress bars, layout) need 'unsafe-inline' for styles, which runs no code. Swagger UI
# (/api/docs/) loads its assets from /static/ and its init script from the docs view itself.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if not _database_url:
    _database_url = embedded_database_url(BASE_DIR / ".pgdata")
DATABASES = {"default": database_from_url(_database_url)}
# Reports (core/replica.py) read from a replica when REPLICA_DATABASE_URL names one; tests mirror it.
if env_str("REPLICA_DATABASE_URL"):
    DATABASES["replica"] = {**database_from_url(env_str("REPLICA_DATABASE_URL")), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
# Axes first: a locked-out account or address is refused before the password hasher runs.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Login throttling (portal and admin): 10 failures lock the account and, separately, the address
# for 15 minutes; the lockout page says so. Failures are kept in the database (AxesDatabaseHandler).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The client's address is REMOTE_ADDR; behind N trusted proxies (AXES_IPWARE_PROXY_COUNT=N) it is read
# from X-Forwarded-For, which a client could otherwise forge to dodge the per-address lockout.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves collected static files (the admin's CSS) from the app itself, DEBUG or not.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
# Before `collectstatic` has run (development, tests, benchmarks) STATIC_ROOT does not exist yet.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.authentication.HasOrganization"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    # JSON only, nesting bounded and NUL refused (400 naming `body`); ingestion reads its own bodies.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": None,
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # Per-key budgets (accounts.api.throttling): batches of events, and every other call. 429 + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "ingest": env_str("INGEST_RATE_LIMIT", "3000/min"),
        "api": env_str("API_RATE_LIMIT", "600/min"),
        "callback": env_str("CALLBACK_RATE_LIMIT", "600/min"),
    },
}

# The audit log (audit/): writes are grouped per request; GETs change nothing audited.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PGHISTORY_ADMIN_MODEL = "pghistory.Events"

# The shared cache: rate-limit counters and the API-key version that makes a revocation visible to
# every worker at once. Without CACHE_URL (the demo, one process) it is per-process memory, and API
# keys are then looked up in the database on every request.
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # Redis away must not stall requests: give up quickly and go on without it.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tally API",
    "DESCRIPTION": (
        "Outcome-based billing: post usage and outcome events, run billing, read invoices and ROI. "
        "Authenticate with `Authorization: Bearer <api key>`. Amounts are decimal strings."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets are served by the app (no CDN), so /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.api.throttling.document_rate_limits",
        "core.api.schema.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "BillingRunStatusEnum": "billing.models.BillingRun.Status",
        "OutcomeStatusEnum": "outcomes.models.OutcomeEvent.Status",
        "WebhookEventTypeEnum": "webhooks.events.EVENT_CHOICES",
        "BaselineMethodEnum": "value.models.Baseline.Method",
        "BaselineStatusEnum": "value.models.Baseline.Status",
        "VerificationMethodEnum": "outcomes.enums.VerificationMethod",
        "VerificationSourceMethodEnum": "outcomes.enums.SourceMethod",
    },
}

# Celery: with no broker configured (the demo), tasks run in-process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "tally")
# Queues of their own, so a slow Stripe or a dead webhook receiver never delays a billing run:
# one line per task name (payments.*: "payments", webhooks.*: "webhooks"). `make worker` consumes them all.
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {
    "webhooks.*": {"queue": env_str("WEBHOOKS_QUEUE", "webhooks")},
    "payments.*": {"queue": "payments"},
}
# How long Redis waits for the ack of a delivered task before giving it to another worker (acks are
# late, so a task whose worker died is delivered again after this). It must exceed the longest task:
# a billing-run chunk of 25 customers with 40 outcomes each took 1.3 s here, ~4 s at 150 ms a customer;
# retries wait at most 16 s. Redis's default, an hour, stalled a run that long when its worker died.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}

# Outbound webhooks (webhooks/): deliveries to private or loopback addresses are refused unless this is
# on (tests, the demo); attempts wait these many seconds after each failure (x3 each time, ~27 h in all,
# with up to 10% jitter) and an endpoint whose delivery fails them all is disabled.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOKS_RETRY_DELAYS = [float(s) for s in env_list("WEBHOOKS_RETRY_DELAYS", ["90", "270", "810", "2430", "7290",
                                                                                 "21870", "65610"])]
WEBHOOKS_TIMEOUT_SECONDS = float(env_int("WEBHOOKS_TIMEOUT_SECONDS", 10))
# Events and their delivery logs are deleted this many days after the event (webhooks.prune, daily).
WEBHOOKS_RETENTION_DAYS = env_int("WEBHOOKS_RETENTION_DAYS", 30)

# Billing runs: customers per chunk (see billing.services.runs), starts per organization a minute,
# and how long a running run may go without a finished chunk before the reaper sends its chunks again.
BILLING_RUN_CHUNK_SIZE = env_int("BILLING_RUN_CHUNK_SIZE", 25)
BILLING_RUN_STARTS_PER_MINUTE = env_int("BILLING_RUN_STARTS_PER_MINUTE", 10)
BILLING_RUN_STALL_SECONDS = env_int("BILLING_RUN_STALL_SECONDS", 600)
# What one outcome is worth to its customer in the ROI figures: the value app's baselines in force
# (empty: each outcome type's value estimate). VALUE_SIGNING_SECRET derives the receipt signing keys
# (empty: SECRET_KEY).
ROI_VALUE_BASIS = "value.selectors.baselines.value_basis_expression"
VALUE_SIGNING_SECRET = env_str("VALUE_SIGNING_SECRET", "")
CELERY_TIMEZONE = "UTC"

# Secrets at rest (core.crypto): each organization's Stripe keys and each webhook endpoint's signing secret
# are stored encrypted with the first of these Fernet keys (any of them decrypts, so keys rotate); unset, one
# key is derived from SECRET_KEY. PAYMENTS_ENCRYPTION_KEYS is the setting's earlier name, still read.
SECRETS_ENCRYPTION_KEYS = env_list("SECRETS_ENCRYPTION_KEYS", env_list("PAYMENTS_ENCRYPTION_KEYS", []))
# Stripe's API address: blank is Stripe itself; tests and the demo point it at the stand-in (payments.standin).
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
# The portal's public address, for the link to an invoice's per-task detail printed on its Stripe invoice.
PORTAL_PUBLIC_URL = env_str("PORTAL_PUBLIC_URL", "http://127.0.0.1:8000")
# Invoice tax (billing.services.tax): Stripe Tax for organizations that turned it on, their own rates otherwise.
TAX_CALCULATOR = "payments.tax.StripeTaxCalculator"

# Ingestion limits (the API contract).
INGEST_MAX_BATCH = 1000
INGEST_MAX_FUTURE_SECONDS = 300
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 8 * 1024 * 1024)
# A TrueType font with more than Latin-1 for PDF invoices (Debian's fonts-dejavu-core); without it the
# PDFs use the built-in Helvetica and print other characters as "?".
PDF_FONT_DIR = env_str("PDF_FONT_DIR", "/usr/share/fonts/truetype/dejavu")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The embedded database (pgserver) and django-axes log their routine start and stop at INFO; the stripe
    # SDK logs every request (and at DEBUG its parameters: customers' names and addresses) at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"},
                "axes": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}
