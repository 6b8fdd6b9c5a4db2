from django.contrib.auth import views as auth_views
from django.urls import path

from portal.views import invoices

app_name = "portal"

urlpatterns = [
    path("", invoices.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invoices/", invoices.invoice_list_page, name="invoice-list"),
    path("invoices/<int:invoice_id>/", invoices.invoice_detail_page, name="invoice-detail"),
]
