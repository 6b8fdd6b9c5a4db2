from django.urls import path

from accounts.api import views

urlpatterns = [
    path("customers", views.CustomerListApi.as_view(), name="customer-list"),
    path("customers/<str:external_id>", views.CustomerDetailApi.as_view(), name="customer-detail"),
]
