from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Tasks run in-process in tests; the end-to-end test turns this off and starts a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Login throttling stays on (failures in the test database, rolled back with each test); rate limits
# are far above what any test sends, except the tests of limits, which lower them.
REST_FRAMEWORK = {**REST_FRAMEWORK,  # noqa: F405
                  "DEFAULT_THROTTLE_RATES": {"ingest": "1000000/min", "api": "1000000/min", "callback": "1000000/min"}}
# The test runner empties the database with TRUNCATE after each transactional test; the frozen-document
# guards refuse TRUNCATE unless the session allows it (billing migration 0007).
DATABASES["default"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], "options": "-c tally.allow_truncate=on"}  # noqa: F405
