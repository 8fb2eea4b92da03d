"""The tree drawn at the top of fedsilo.errors is the tree there is: every error class
of fedsilo is defined in that module and drawn under its own parent."""

from __future__ import annotations

import inspect
import re

import fedsilo.errors
from fedsilo.errors import FedsiloError
from tests.transport.test_status_codes import every_error

DRAWN = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w*Error)\b")


def drawn_tree() -> dict[str, str | None]:
    """Each class the docstring draws, with the class drawn as its parent."""
    assert fedsilo.errors.__doc__ is not None
    lines = fedsilo.errors.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("FedsiloError"))
    tree: dict[str, str | None] = {}
    path: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        match = DRAWN.match(line)
        assert match is not None, f"not a class of the tree: {line!r}"
        depth, rest = divmod(len(match["indent"]), 4)
        assert rest == 0 and 1 <= depth <= len(path) + 1, f"misdrawn: {line!r}"
        del path[depth - 1 :]
        assert match["name"] not in tree, f"drawn twice: {match['name']}"
        tree[match["name"]] = path[-1] if path else None
        path.append(match["name"])
    return tree


def defined_tree() -> dict[str, str | None]:
    """Each error class defined in fedsilo.errors, with its base class."""
    tree: dict[str, str | None] = {}
    for name, kind in vars(fedsilo.errors).items():
        if inspect.isclass(kind) and issubclass(kind, FedsiloError):
            assert kind.__module__ == "fedsilo.errors" and kind.__name__ == name
            (base,) = kind.__bases__
            tree[name] = None if kind is FedsiloError else base.__name__
    return tree


def test_the_tree_at_the_top_of_errors_draws_exactly_the_classes_defined_there() -> None:
    assert drawn_tree() == defined_tree()


def test_every_error_class_of_fedsilo_is_defined_in_the_errors_module() -> None:
    elsewhere = [
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in every_error()
        if kind.__module__ != "fedsilo.errors"
    ]
    assert elsewhere == [], "define these in fedsilo.errors and draw them in its tree"
