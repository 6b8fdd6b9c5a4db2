def test_customer_is_created_and_read_back(vendor) -> None:
    response = vendor.api.post(
        "/api/v1/customers", {"external_id": "globex", "name": "Globex", "currency": "eur", "email": "ap@globex.test"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "EUR"

    body = vendor.api.get("/api/v1/customers/globex").json()
    assert body["name"] == "Globex"
    assert body["email"] == "ap@globex.test"


def test_existing_external_id_answers_409(vendor) -> None:
    response = vendor.api.post("/api/v1/customers", {"external_id": "acme", "name": "Again", "currency": "USD"})
    assert response.status_code == 409
    assert "external_id" in response.json()["errors"]


def test_bad_customer_input_names_the_field(vendor) -> None:
    response = vendor.api.post("/api/v1/customers", {"external_id": "x", "name": "X", "currency": "ZZZ"})
    assert response.status_code == 400
    assert "currency" in response.json()["errors"]
    response = vendor.api.post("/api/v1/customers", {"name": "X", "currency": "USD"})
    assert response.status_code == 400
    assert "external_id" in response.json()["errors"]


def test_malformed_json_is_a_400_not_a_500(vendor) -> None:
    response = vendor.api.post("/api/v1/customers", "{not json")
    assert response.status_code == 400


def test_another_organization_gets_404_for_our_customer(vendor, stranger) -> None:
    vendor.api.post("/api/v1/customers", {"external_id": "globex", "name": "Globex", "currency": "USD"})
    assert stranger.api.get("/api/v1/customers/globex").status_code == 404
    # Both have an "acme": each sees its own.
    assert vendor.api.get("/api/v1/customers/acme").json()["name"] == "Acme Corp"
    listed = [c["external_id"] for c in stranger.api.get("/api/v1/customers").json()]
    assert listed == ["acme"]


def test_codes_may_use_dots_and_colons_but_not_spaces(vendor) -> None:
    ok = vendor.api.post("/api/v1/meters", {"code": "gpu.seconds", "name": "GPU", "unit": "s", "aggregation": "sum"})
    assert ok.status_code == 201
    bad = vendor.api.post("/api/v1/meters", {"code": "gpu seconds", "name": "GPU", "unit": "s", "aggregation": "sum"})
    assert bad.status_code == 400 and "code" in bad.json()["errors"]
    outcome = vendor.api.post("/api/v1/outcome-types", {"code": "review:done", "name": "Review", "price": "4",
                                                         "currency": "USD", "verification_window_hours": 24,
                                                         "value": "45"})
    assert outcome.status_code == 201
