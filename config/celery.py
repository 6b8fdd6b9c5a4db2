"""The Celery app. Every periodic schedule is declared here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab

from config.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("tally")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "verify-outcomes": {"task": "outcomes.verify_due", "schedule": 300.0},
    # Yesterday's outcomes awaiting their customers' confirmation, one email per customer with signed links.
    "ask-for-confirmations": {"task": "outcomes.send_confirmation_requests", "schedule": crontab(hour=7, minute=0)},
    "refresh-drafts": {"task": "billing.refresh_open_drafts", "schedule": crontab(minute=15)},
    # Runs whose worker died or whose chunks were never sent; BILLING_RUN_STALL_SECONDS decides when.
    "reap-billing-runs": {"task": "billing.reap_runs", "schedule": float(env_int("BILLING_RUN_REAP_SECONDS", 60))},
    "finalize-after-grace": {"task": "billing.finalize_due", "schedule": crontab(minute=45)},
    # Stripe pushes whose task was lost (a broker restarted without it): payments.services.push.
    "resume-stripe-pushes": {"task": "payments.resume_pushes", "schedule": 600.0},
    "expire-credits": {"task": "billing.expire_credits", "schedule": crontab(minute=5)},
    "announce-overdue-invoices": {"task": "billing.announce_overdue", "schedule": crontab(minute=20)},
    # The outbox sweep: events whose on-commit relay was lost, deliveries due for a retry or whose attempt
    # died with its worker (webhooks.services.delivery).
    "webhooks-sweep": {"task": "webhooks.relay", "schedule": float(env_int("WEBHOOKS_SWEEP_SECONDS", 15))},
    "webhooks-prune": {"task": "webhooks.prune", "schedule": crontab(hour=3, minute=30)},
    "archive-usage": {"task": "billing.archive_usage", "schedule": crontab(hour=2, minute=30)},
    "ensure-usage-partitions": {"task": "metering.ensure_partitions", "schedule": crontab(hour=1, minute=0)},
    # Tasks of the current period over their type's margin guardrail, recorded once (value.services.guardrails).
    "guardrails-scan": {"task": "value.guardrails_scan", "schedule": 300.0},
}
# Rollups folded and the drafts of customers they changed refreshed, the live figures' freshness: one
# entry per shard of customers, so the shards' cycles run on as many workers at once.
_live_shards = env_int("LIVE_DRAFTS_SHARDS", 2)
app.conf.beat_schedule.update({
    f"refresh-live-drafts-{shard}": {"task": "billing.refresh_live_drafts",
                                     "schedule": float(env_int("LIVE_DRAFTS_SECONDS", 10)),
                                     "kwargs": {"shard": shard, "shards": _live_shards}}
    for shard in range(_live_shards)
})
