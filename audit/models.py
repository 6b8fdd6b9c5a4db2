from django.db import models  # noqa: F401  (the event models are generated in audit.trackers)
