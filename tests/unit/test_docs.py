"""The docs stay a map that leads somewhere: a README a newcomer reads in two minutes, the two commands
first, and every file, folder, link and anchor the docs name present in the repository (a module
moved or renamed without its docs fails here).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
DOCS = sorted((ROOT / 'docs').glob('*.md'))
PAGES = [README, *DOCS]
FILE_SUFFIXES = ('.py', '.md', '.yml', '.json')
# Made by the make targets, never in the repository (build/package, build/bench.json, .venv/bin/python).
GENERATED = ('build', '.venv', 'node_modules')

FENCE = re.compile(r'^```.*?^```', re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r'`([^`\n]+)`')
LINK = re.compile(r'\]\(([^)\s]+)\)')
PATH_LIKE = re.compile(r'[\w.-]+(?:/[\w.{},-]+)*/?')


def inline_code(text: str) -> list[str]:
    """What the prose writes in backquotes (fenced blocks hold commands, not references)."""
    return INLINE_CODE.findall(FENCE.sub('', text))


def expand_braces(path: str) -> list[str]:
    """`tests/{unit,api}` names two folders."""
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    return [expanded for choice in match.group(1).split(',')
            for expanded in expand_braces(path[:match.start()] + choice + path[match.end():])]


def named_paths(text: str) -> list[str]:
    """The repository paths a page names in backquotes: a word with a `/` that ends like a file of ours
    (`chalicelib/web/api.py`, even a stale `store/bookings.py`) or starts at a top-level folder of the
    repository (`chalicelib/web/`, `tests/unit`). URLs, routes (`/api/agenda/`), MIME types
    (`text/calendar`), placeholders (`bench/<name>.py`) and generated files are not paths."""
    top_level = {entry.name for entry in ROOT.iterdir()}
    paths = []
    for span in inline_code(text):
        for word in span.split():
            word = word.lstrip('("\'').rstrip('.,;:)"\'')
            if '/' not in word or word.startswith('/') or not PATH_LIKE.fullmatch(word):
                continue
            for path in expand_braces(word):
                first = path.split('/')[0]
                if first in GENERATED:
                    continue
                if path.rstrip('/').endswith(FILE_SUFFIXES) or first in top_level:
                    paths.append(path)
    return paths


def missing_paths(text: str) -> list[str]:
    return [path for path in named_paths(text) if not (ROOT / path).exists()]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace('`', '')
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip('#')) for line in FENCE.sub('', page.read_text()).splitlines() if line.startswith('#')}


def broken_links(page: Path) -> list[str]:
    """Relative links of a page whose file or heading is not there."""
    broken = []
    for target in LINK.findall(FENCE.sub('', page.read_text())):
        if re.match(r'[a-z]+:', target):
            continue  # https:, mailto:
        path, _, anchor = target.partition('#')
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == '.md' and anchor not in anchors(linked)):
            broken.append(target)
    return broken


def test_the_readme_is_read_in_two_minutes():
    assert len(README.read_text().splitlines()) < 150


def test_the_readme_starts_with_the_two_commands():
    text = README.read_text()
    first_block = FENCE.search(text)
    assert first_block is not None
    assert first_block.start() < text.index('\n## ')  # before any section
    commands = [line.split('#')[0].strip() for line in first_block.group(0).splitlines()[1:-1] if line.strip()]
    assert commands[:2] == ['make run', 'make test']


def test_the_readme_links_every_page_of_docs_and_each_exists():
    linked = {target.partition('#')[0] for target in LINK.findall(README.read_text())}
    docs_linked = {target for target in linked if target.startswith('docs/')}
    assert all((ROOT / target).is_file() for target in docs_linked), docs_linked
    assert {f'docs/{page.name}' for page in DOCS} <= docs_linked


@pytest.mark.parametrize('page', PAGES, ids=[page.relative_to(ROOT).as_posix() for page in PAGES])
def test_every_path_a_page_names_exists(page):
    assert missing_paths(page.read_text()) == []


@pytest.mark.parametrize('page', PAGES, ids=[page.relative_to(ROOT).as_posix() for page in PAGES])
def test_every_link_of_a_page_leads_somewhere(page):
    assert broken_links(page) == []


def test_the_checks_can_fail():
    """Stale module paths, folders and anchors are caught; routes, URLs, MIME types, placeholders and
    generated files are not taken for paths."""
    text = ('`chalicelib/http.py`, `store/bookings.py` and `chalicelib/web/api.py`; `chalicelib/nowhere/`, '
            '`tests/{unit,gone}`; `.venv/bin/python -m pytest tests/api/test_fillslot.py -k name`; '
            '`GET /api/agenda/`, `https://agendas.example.org/x.json`, `text/calendar`, `bench/<name>.py`, '
            '`build/bench.json`, `{"demo": ["127.0.0.1:*"]}`\n```sh\ncat chalicelib/models.py\n```\n')
    assert named_paths(text) == ['chalicelib/http.py', 'store/bookings.py', 'chalicelib/web/api.py',
                                 'chalicelib/nowhere/', 'tests/unit', 'tests/gone', 'tests/api/test_fillslot.py']
    assert missing_paths(text) == ['chalicelib/http.py', 'store/bookings.py', 'chalicelib/nowhere/', 'tests/gone']
    assert slug("Changing a booking, a user's bookings, iCalendar") == 'changing-a-booking-a-users-bookings-icalendar'
    assert slug('The front door: `make run` is the deployed one') == 'the-front-door-make-run-is-the-deployed-one'


def test_a_broken_link_is_caught(tmp_path):
    (tmp_path / 'other.md').write_text('# Other page\n## A section\n')
    page = tmp_path / 'page.md'
    page.write_text('# Page\n[ok](other.md#a-section) [gone](gone.md) [no anchor](other.md#nothing) '
                    '[here](#page) [not here](#elsewhere) [web](https://example.org/x.md)\n')
    assert broken_links(page) == ['gone.md', 'other.md#nothing', '#elsewhere']
