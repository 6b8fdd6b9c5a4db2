"""Webhook endpoints' signing secrets at rest: encrypted with core.crypto (as the Stripe keys are), the
clear column dropped. Existing secrets are encrypted in place, so receivers keep verifying."""

from typing import Any

from django.db import migrations, models


def encrypt(apps: Any, schema_editor: Any) -> None:
    from core.crypto import secret_encrypt

    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.all().only("pk", "secret"):
        Endpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=secret_encrypt(endpoint.secret))


def decrypt(apps: Any, schema_editor: Any) -> None:
    from core.crypto import secret_decrypt

    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.all().only("pk", "secret_encrypted"):
        Endpoint.objects.filter(pk=endpoint.pk).update(secret=secret_decrypt(endpoint.secret_encrypted))


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_outbox_endpoints_deliveries")]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint", name="secret_encrypted",
            field=models.TextField(default="", help_text="Fernet token of the signing secret (core.crypto)."),
            preserve_default=False,
        ),
        migrations.AlterField(model_name="webhookendpoint", name="secret",
                              field=models.CharField(max_length=100, blank=True, default="")),
        migrations.RunPython(encrypt, decrypt),
        migrations.RemoveField(model_name="webhookendpoint", name="secret"),
    ]
