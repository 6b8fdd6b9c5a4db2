from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import customer_scope, organization_of
from accounts.models import Customer
from accounts.selectors import customer_get, customer_list
from accounts.services import customer_create
from core.api.fields import CurrencyField
from core.errors import NotFound


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["external_id", "name", "currency", "email", "created_at"]


class CustomerInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=200)
    currency = CurrencyField()
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class CustomerListApi(APIView):
    @extend_schema(responses=CustomerOutput(many=True))
    def get(self, request: Request) -> Response:
        customers = customer_list(organization=organization_of(request))
        return Response(CustomerOutput(customers, many=True).data)

    @extend_schema(request=CustomerInput, responses={201: CustomerOutput})
    def post(self, request: Request) -> Response:
        data = CustomerInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_create(organization=organization_of(request), **data.validated_data)
        return Response(CustomerOutput(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(APIView):
    customer_readable = True

    @extend_schema(responses=CustomerOutput)
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        return Response(CustomerOutput(customer).data)


def scoped_customer_get(request: Request, external_id: str) -> Customer:
    """A customer of the caller's organization; a customer key finds only its own customer."""
    scope = customer_scope(request)
    if scope is not None and scope.external_id != external_id:
        raise NotFound(f"No customer with external_id {external_id!r}.", field="customer")
    return customer_get(organization=organization_of(request), external_id=external_id)
