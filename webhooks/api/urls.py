from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhook-endpoints", views.EndpointListApi.as_view(), name="webhook-endpoint-list"),
    path("webhook-endpoints/<int:endpoint_id>", views.EndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path("webhook-endpoints/<int:endpoint_id>/deliveries", views.DeliveryListApi.as_view(),
         name="webhook-delivery-list"),
    path("webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>/resend", views.DeliveryResendApi.as_view(),
         name="webhook-delivery-resend"),
    path("webhook-event-types", views.EventTypeListApi.as_view(), name="webhook-event-type-list"),
]
