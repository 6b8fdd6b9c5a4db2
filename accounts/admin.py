from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiKey, BillingProfile, Customer, Organization, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "invoice_grace_days", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    """The seller on the organization's invoices; the logo is uploaded on the portal's billing settings."""

    list_display = ["organization", "legal_name", "country", "tax_id", "payment_terms_days"]
    exclude = ["logo"]
    readonly_fields = ["logo_content_type", "updated_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "organization", "currency", "email"]
    list_filter = ["organization", "currency"]
    search_fields = ["external_id", "name", "email"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "organization", "created_at", "revoked_at"]
    list_filter = ["organization"]
    readonly_fields = ["prefix", "key_hash", "created_at"]


@admin.register(User)
class TallyUserAdmin(UserAdmin):
    list_display = ["username", "email", "organization", "role", "customer", "is_staff"]
    list_filter = ["organization", "role", "is_staff"]
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Tally", {"fields": ("organization", "role", "customer")}))
