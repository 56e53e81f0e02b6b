"""The razor layer's exceptions: a clear Python type that is also the type mmrazor raises.

mmrazor 1.0 rejects bad input with bare ``assert`` statements (and a few wrong states with
``AttributeError``). nasops raises the type that says what went wrong, with a message naming the
value and what is accepted; each class also derives from mmrazor's type, so code and tests
written against mmrazor (``except AssertionError``, ``pytest.raises(AssertionError)``) still
catch it.
"""


class ValueAssertionError(ValueError, AssertionError):
    """A value outside what is accepted (mmrazor: a failed ``assert``)."""


class TypeAssertionError(TypeError, AssertionError):
    """An argument of the wrong type (mmrazor: a failed ``assert isinstance``)."""


class RuntimeAssertionError(RuntimeError, AssertionError):
    """A call the mutable's state does not allow yet (mmrazor: a failed ``assert``)."""


class RuntimeAttributeError(RuntimeError, AttributeError):
    """Something read before the call that creates it (mmrazor: ``AttributeError``)."""


class ValueAttributeError(ValueError, AttributeError):
    """A request the mutable has no answer for (mmrazor: ``AttributeError``)."""


class AttributeAssertionError(AttributeError, AssertionError):
    """A second ``fix_chosen`` (mmrazor raises ``AttributeError`` or fails an ``assert``)."""
