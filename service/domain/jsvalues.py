"""JavaScript value semantics that Rocket.Chat's validator applies to request bodies."""

from __future__ import annotations

import math
from decimal import Decimal

# ECMAScript WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP and every Zs character)
# plus LineTerminator (LF, CR, LS, PS). Python's str.strip() differs: it also
# strips U+001C..U+001F and U+0085, and does not strip U+FEFF.
JS_WHITESPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_WHITESPACE_CHARS = "".join(sorted(JS_WHITESPACE))


def js_trim(value: str) -> str:
    """Return ``value.trim()`` as JavaScript computes it."""
    return value.strip(_JS_WHITESPACE_CHARS)


def js_number_to_string(value: float) -> str:
    """Return ``String(value)`` for a JavaScript number (ECMA-262 Number::toString)."""
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0"  # covers -0, which JavaScript prints without its sign
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value < 0:
        return "-" + js_number_to_string(-value)
    # repr() gives the shortest digit string that round-trips, as ECMA-262 asks.
    _, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + exponent  # the decimal point sits after n digits
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
