from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiKey, Customer, Organization, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "invoice_grace_days", "created_at"]
    search_fields = ["name", "slug"]


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
