from django.urls import path

from accounts.api import billing_details, views

urlpatterns = [
    path("customers", views.CustomerListApi.as_view(), name="customer-list"),
    path("customers/<str:external_id>", views.CustomerDetailApi.as_view(), name="customer-detail"),
    path("billing-profile", billing_details.BillingProfileApi.as_view(), name="billing-profile"),
    path("customers/<str:external_id>/billing-details", billing_details.CustomerBillingApi.as_view(),
         name="customer-billing-details"),
]
