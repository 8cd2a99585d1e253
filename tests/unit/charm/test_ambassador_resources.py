"""The Ambassador resources validate against Emissary's own CRD schemas, for both API versions."""

import json
import pathlib

import jsonschema
import pytest
import yaml

from ambassador import AmbassadorSettings, lookalike_spellings, render_resources, render_resources_yaml

CRDS = pathlib.Path(__file__).resolve().parents[2] / "data" / "emissary-crds"
SCHEMAS = {
    "getambassador.io/v3alpha1": {
        "Mapping": ["emissary-v3.10.0-mappings-v3alpha1", "emissary-v4.1.0-mappings-v3alpha1"],
        "AuthService": ["emissary-v3.10.0-authservices-v3alpha1", "emissary-v4.1.0-authservices-v3alpha1"],
    },
    "getambassador.io/v2": {
        "Mapping": ["ambassador-v1.14.4-mappings-v1+v2", "emissary-v3.10.0-mappings-v2", "emissary-v4.1.0-mappings-v2"],
        "AuthService": [
            "ambassador-v1.14.4-authservices-v1+v2",
            "emissary-v3.10.0-authservices-v2",
            "emissary-v4.1.0-authservices-v2",
        ],
    },
}


def schema(name: str) -> dict:
    return json.loads((CRDS / f"{name}.openapi.json").read_text())


def settings(version: str) -> AmbassadorSettings:
    return AmbassadorSettings(
        app_name="dex-auth", namespace="kubeflow", api_version=version, userid_header="x-user", groups_header="x-groups"
    )


@pytest.mark.parametrize("version", list(SCHEMAS))
def test_every_resource_validates_and_uses_only_known_fields(version):
    resources = render_resources(settings(version))
    assert sorted(r["kind"] for r in resources) == ["AuthService", "Mapping", "Mapping"]
    for resource in resources:
        for name in SCHEMAS[version][resource["kind"]]:
            crd = schema(name)
            jsonschema.Draft7Validator(crd).validate(resource)
            # The CRDs allow unknown fields; a typo would pass silently, so check names too.
            assert set(resource["spec"]) <= set(crd["properties"]["spec"]["properties"]), name


def test_a_wrong_type_fails_the_schema():
    """The schema check can fail: a string where Emissary wants a boolean is caught."""
    mapping = render_resources(settings("getambassador.io/v3alpha1"))[0]
    mapping["spec"]["bypass_auth"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema("emissary-v4.1.0-mappings-v3alpha1")).validate(mapping)


def by_name(version: str = "getambassador.io/v3alpha1") -> dict:
    return {r["metadata"]["name"]: r for r in render_resources(settings(version))}


def test_dex_mapping_keeps_the_dex_prefix_and_bypasses_auth():
    spec = by_name()["dex-auth-dex"]["spec"]
    assert spec["prefix"] == "/dex/"
    assert spec["rewrite"] == "/dex/"
    assert spec["bypass_auth"] is True
    assert spec["service"] == "dex-auth.kubeflow:5556"


def test_gatekeeper_mapping_serves_its_own_endpoints_unauthenticated():
    spec = by_name()["dex-auth-gatekeeper"]["spec"]
    assert (spec["prefix"], spec["rewrite"], spec["bypass_auth"]) == ("/authservice/", "/authservice/", True)
    assert spec["service"] == "dex-auth.kubeflow:8080"


def test_auth_service_points_at_the_check_endpoint_with_identity_headers():
    spec = by_name()["dex-auth"]["spec"]
    assert spec["auth_service"] == "dex-auth.kubeflow:8080"
    assert spec["path_prefix"] == "/authservice/check"
    assert spec["allowed_authorization_headers"] == ["x-user", "x-groups"]
    for header in ("accept", "x-requested-with", "sec-fetch-mode", "cookie", "authorization"):
        assert header in spec["allowed_request_headers"]


def test_lookalike_identity_headers_go_to_the_gatekeeper():
    spec = render_resources(AmbassadorSettings(app_name="dex-auth", namespace="kubeflow"))[2]["spec"]
    for header in ("kubeflow_userid", "kubeflow_groups"):
        assert header in spec["allowed_request_headers"]


def test_lookalike_spellings_cover_every_dash_and_only_lookalikes():
    assert lookalike_spellings("x-auth-user") == ["x-auth_user", "x_auth-user", "x_auth_user"]
    assert lookalike_spellings("X-User") == ["x_user"]
    assert lookalike_spellings("user") == []
    assert lookalike_spellings("a-b-c-d-e-f-g") == ["a_b_c_d_e_f_g"]


def test_resources_live_in_the_model_namespace():
    for resource in render_resources(settings("getambassador.io/v2")):
        assert resource["metadata"]["namespace"] == "kubeflow"
        assert resource["apiVersion"] == "getambassador.io/v2"
    assert "hostname" not in by_name("getambassador.io/v2")["dex-auth-dex"]["spec"]
    assert by_name()["dex-auth-dex"]["spec"]["hostname"] == "*"


def test_yaml_is_the_same_list():
    s = settings("getambassador.io/v3alpha1")
    assert yaml.safe_load(render_resources_yaml(s)) == render_resources(s)


@pytest.mark.parametrize("path", ["/authservice/unavailable", "/authservice/signed-out", "/authservice/oidc/login"])
def test_the_gatekeepers_own_pages_are_on_the_bypassed_mapping(path):
    """A 503 from the unavailable page must reach the browser as it is, not as the check's 403."""
    mappings = [r["spec"] for r in render_resources(settings("getambassador.io/v3alpha1")) if r["kind"] == "Mapping"]
    [gatekeeper] = [m for m in mappings if path.startswith(m["prefix"])]
    assert gatekeeper["bypass_auth"] is True and gatekeeper["service"].endswith(":8080")
