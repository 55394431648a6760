import pytest

from service.domain.jsvalues import js_number_to_string, js_trim


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (123e18, "123000000000000000000"),
        (1.5e-6, "0.0000015"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (0.0, "0"),
        (-2.5, "-2.5"),
        (1.2345678901234568e29, "1.2345678901234568e+29"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (100.0, "100"),
        (0.000001, "0.000001"),
        (123456789.125, "123456789.125"),
    ],
)
def test_number_to_string_matches_javascript(number: float, expected: str) -> None:
    assert js_number_to_string(number) == expected


@pytest.mark.parametrize(
    "char", ["\u001c", "\u001d", "\u001e", "\u001f", "\u0085", "\u180e", "\u200b"]
)
def test_trim_keeps_what_python_strip_removes_but_javascript_does_not(char: str) -> None:
    assert js_trim(f"{char}a{char}") == f"{char}a{char}"


@pytest.mark.parametrize(
    "char",
    [
        "\t",
        "\n",
        "\v",
        "\f",
        "\r",
        " ",
        "\u00a0",
        "\u1680",
        "\u2000",
        "\u200a",
        "\u2028",
        "\u2029",
        "\u202f",
        "\u205f",
        "\u3000",
        "\ufeff",
    ],
)
def test_trim_removes_javascript_whitespace(char: str) -> None:
    assert js_trim(f"{char}{char}a b{char}") == "a b"


def test_trim_of_only_whitespace_is_empty() -> None:
    assert js_trim("\u00a0\u3000\ufeff ") == ""
