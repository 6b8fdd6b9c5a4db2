from django.urls import path

from value.api import baselines, tools

urlpatterns = [
    path("customers/<str:external_id>/baselines", baselines.BaselineListApi.as_view(), name="baseline-list"),
    path("customers/<str:external_id>/baselines/<int:baseline_id>/approve", baselines.BaselineDecisionApi.as_view(),
         name="baseline-approve"),
    path("customers/<str:external_id>/baselines/<int:baseline_id>/decline", baselines.BaselineDeclineApi.as_view(),
         name="baseline-decline"),
    path("customers/<str:external_id>/receipts", baselines.ReceiptListApi.as_view(), name="receipt-list"),
    path("receipts/<int:receipt_id>", baselines.ReceiptDetailApi.as_view(), name="receipt-detail"),
]

urlpatterns += [
    path("simulations", tools.SimulationApi.as_view(), name="simulation"),
    path("efficiency", tools.EfficiencyApi.as_view(), name="efficiency"),
    path("guardrails", tools.GuardrailApi.as_view(), name="guardrail"),
    path("customers/<str:external_id>/tasks/<str:task_id>/budget", tools.TaskBudgetApi.as_view(), name="task-budget"),
]
