"""Verification sources' callback secrets at rest: encrypted with core.crypto (as the Stripe keys and the
webhook endpoints' secrets are), the clear column dropped. Existing secrets are encrypted in place, so
sources keep signing with the secret they have."""

from typing import Any

from django.db import migrations, models


def encrypt(apps: Any, schema_editor: Any) -> None:
    from core.crypto import secret_encrypt

    Source = apps.get_model("outcomes", "VerificationSource")
    for source in Source.objects.all().only("pk", "secret"):
        Source.objects.filter(pk=source.pk).update(secret_encrypted=secret_encrypt(source.secret))


def decrypt(apps: Any, schema_editor: Any) -> None:
    from core.crypto import secret_decrypt

    Source = apps.get_model("outcomes", "VerificationSource")
    for source in Source.objects.all().only("pk", "secret_encrypted"):
        Source.objects.filter(pk=source.pk).update(secret=secret_decrypt(source.secret_encrypted))


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0006_outcome_event_organization_keys")]

    operations = [
        migrations.AddField(
            model_name="verificationsource", name="secret_encrypted",
            field=models.TextField(default="",
                                   help_text="Fernet token of the callbacks' signing key (core.crypto)."),
            preserve_default=False,
        ),
        migrations.AlterField(model_name="verificationsource", name="secret",
                              field=models.CharField(max_length=100, blank=True, default="")),
        migrations.RunPython(encrypt, decrypt),
        migrations.RemoveField(model_name="verificationsource", name="secret"),
    ]
