"""`make test` starts the longest modules first (tests/conftest.py, LONGEST_FIRST): a module renamed or moved
without that list would silently go back to starting whenever xdist reaches it."""
from __future__ import annotations

from tests.conftest import LONGEST_FIRST, ROOT


def test_every_module_named_longest_first_exists():
    assert [path for path in LONGEST_FIRST if not (ROOT / path).is_file()] == []
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)


def test_they_are_collected_before_the_others_in_the_lists_order(request):
    """The session's own items as pytest ordered them (under xdist, every worker collects them all)."""
    modules = [item.nodeid.split('::')[0] for item in request.session.items]
    listed = [module for module in modules if module in LONGEST_FIRST]
    assert modules[:len(listed)] == listed
    assert list(dict.fromkeys(listed)) == [path for path in LONGEST_FIRST if path in listed]
