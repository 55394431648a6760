import pytest

from service.domain.errors import InvalidParams
from service.domain.oauth_apps import CREATE_SCHEMA

VALID = {"name": "app", "active": True, "redirectUri": "https://x.test"}


def first_error(body: object) -> str:
    with pytest.raises(InvalidParams) as caught:
        CREATE_SCHEMA.validate(body)
    return caught.value.message


@pytest.mark.parametrize("body", [[], [VALID], "x", 1.0, None, True])
def test_body_must_be_object(body: object) -> None:
    assert first_error(body) == "must be object"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, "name"),
        ({"active": True, "redirectUri": "u"}, "name"),
        ({"name": "a", "redirectUri": "u"}, "active"),
        ({"name": "a", "active": True}, "redirectUri"),
        ({"redirectUri": "u", "extra": 1}, "name"),  # required is checked before extras
        ({"name": [], "extra": 1}, "active"),  # and before types
    ],
)
def test_required_in_order(body: dict[str, object], missing: str) -> None:
    assert first_error(body) == f"must have required property '{missing}'"


def test_additional_property_before_types() -> None:
    assert first_error(VALID | {"name": [], "x": 1}) == "must NOT have additional properties"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (VALID | {"name": {}, "active": "yes"}, "must be string"),
        (VALID | {"active": "yes", "redirectUri": []}, "must be boolean"),
        (VALID | {"redirectUri": {}}, "must be string"),
    ],
)
def test_types_in_property_order(body: dict[str, object], message: str) -> None:
    assert first_error(body) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ("as is ", "as is "),
    ],
)
def test_string_coercion(value: object, expected: str) -> None:
    assert CREATE_SCHEMA.validate(VALID | {"name": value})["name"] == expected


@pytest.mark.parametrize("value", [[], ["a"], {}, {"a": 1}])
def test_string_refuses_arrays_and_objects(value: object) -> None:
    assert first_error(VALID | {"name": value}) == "must be string"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, True),
        (0.0, False),
        (-0.0, False),
        (True, True),
        (False, False),
        (None, False),
        ("true", True),
        ("false", False),
    ],
)
def test_boolean_coercion(value: object, expected: bool) -> None:
    assert CREATE_SCHEMA.validate(VALID | {"active": value})["active"] is expected


@pytest.mark.parametrize(
    "value", [2.0, -1.0, 0.5, "1", "0", "yes", "", "True", " true", [], {}, [True]]
)
def test_boolean_refuses_everything_else(value: object) -> None:
    assert first_error(VALID | {"active": value}) == "must be boolean"
