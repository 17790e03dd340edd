from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from evalplatform.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "is_automated")
    list_filter = ("is_staff", "is_active", "is_automated")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Rating", {"fields": ("is_automated",)}))
