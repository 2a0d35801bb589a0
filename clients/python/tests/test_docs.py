"""The examples in the SDK's docstrings — the seed page's, as its users know them — run as written
against lit-streamd (in module order: the package's own examples start ``contoso``'s ``bitcoin``)."""

from __future__ import annotations

import doctest
import os
from types import ModuleType

import pytest

import lit.sdk.services.stream
from lit.sdk.services.stream import _errors, _format, _stream

NEEDS_SERVER = {lit.sdk.services.stream, _stream}


@pytest.mark.parametrize("module", [_format, _errors, lit.sdk.services.stream, _stream], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: ModuleType) -> None:
    if module in NEEDS_SERVER and "LIT_STREAM_TEST_READER_TOKEN" not in os.environ:
        pytest.skip("needs a lit-streamd with contoso's bitcoin: run through npm test")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module.__name__} failed (see the output above)"
