"""The layers stay layers: the imports of every module of chalicelib/ are read (ast) and checked
against the rules of README "Layout":

- web/ (the HTTP edge) may use every layer below it;
- services/ (use cases) use the domain, the store and the helpers beside them, never web/;
- store/ (DynamoDB) uses the domain and the helpers, never services/ nor web/;
- domain/ (pure rules) uses only the domain and the pure helpers (errors, parsing), no AWS, no HTTP,
  no configuration read from the environment;
- the helpers beside use none of the layers (only `errors`), but `config`, which reads the environment
  into the domain's values (CHRONO_CALLBACK_OWNERS into owned hosts), may use the domain's parsers;
- nothing in chalicelib/ imports app.py, the tests, local/, bench/ or moto.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / 'chalicelib'
LAYERS = ('web', 'services', 'store', 'domain')
HELPERS = ('aws', 'config', 'errors', 'parsing', 'signature')
PURE_HELPERS = ('errors', 'parsing')
# What each layer may import from chalicelib (layers and helpers).
ALLOWED = {
    'web': {'web', 'services', 'store', 'domain', *HELPERS},
    'services': {'services', 'store', 'domain', *HELPERS},
    'store': {'store', 'domain', *HELPERS},
    'domain': {'domain', *PURE_HELPERS},
    'helpers': {'errors'},
    'config': {'domain', *PURE_HELPERS},
}
# Outside chalicelib: never anywhere, and never in the domain (I/O and AWS).
NEVER = ('app', 'tests', 'local', 'bench', 'moto')
NOT_IN_DOMAIN = ('pynamodb', 'botocore', 'boto3', 'chalice', 'requests', 'socket', 'http', 'urllib.request', 'os')


def layer_of(module: str) -> str:
    """'chalicelib.store.legs' (and 'chalicelib.store') -> 'store'; a helper beside the layers -> 'helpers'."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else 'helpers'


def imported(source: str, module: str) -> list[str]:
    """The absolute names a module's source imports (relative ones resolved)."""
    names = []
    package = module.rsplit('.', 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(anchor + ([node.module] if node.module else []))
            if base == 'chalicelib' or base.endswith(tuple(f'.{layer}' for layer in LAYERS)):
                names.extend(f'{base}.{alias.name}' for alias in node.names)  # `from chalicelib import store`
            else:
                names.append(base)
    return names


def violations(module: str, source: str) -> list[str]:
    """Every import of `module` that breaks a rule, as 'module -> name: why'."""
    layer = 'config' if module == 'chalicelib.config' else layer_of(module)
    found = []
    for name in imported(source, module):
        top = name.split('.')[0]
        if top in NEVER:
            found.append(f'{module} -> {name}: chalicelib never imports {top}')
        elif top == 'chalicelib':
            target = name.split('.')[1] if '.' in name else ''
            if target not in ALLOWED[layer]:
                found.append(f'{module} -> {name}: {layer} may not import {target}')
        elif layer == 'domain' and any(name == bad or name.startswith(f'{bad}.') for bad in NOT_IN_DOMAIN):
            found.append(f'{module} -> {name}: the domain does no I/O')
    return found


def modules() -> list[tuple[str, Path]]:
    return sorted(('.'.join(('chalicelib', *path.relative_to(PACKAGE).with_suffix('').parts)).removesuffix('.__init__'),
                   path) for path in PACKAGE.rglob('*.py'))


@pytest.mark.parametrize('module, path', modules(), ids=[m for m, _ in modules()])
def test_each_module_imports_only_what_its_layer_may(module, path):
    assert violations(module, path.read_text()) == []


def test_the_check_fails_when_a_domain_module_imports_the_store():
    """The rules can fail: a domain module reaching for the store (or for boto3), a store module for a
    service, a service for the web edge, anything for app.py."""
    assert violations('chalicelib.domain.places', 'from chalicelib.store import legs\n') == [
        'chalicelib.domain.places -> chalicelib.store.legs: domain may not import store']
    assert violations('chalicelib.domain.places', 'from chalicelib import store\n') == [
        'chalicelib.domain.places -> chalicelib.store: domain may not import store']
    assert violations('chalicelib.domain.places', 'import boto3\n') == [
        'chalicelib.domain.places -> boto3: the domain does no I/O']
    assert violations('chalicelib.domain.places', 'from chalicelib.config import settings\n') == [
        'chalicelib.domain.places -> chalicelib.config: domain may not import config']
    assert violations('chalicelib.store.legs', 'from chalicelib.services.retry import until_written\n') == [
        'chalicelib.store.legs -> chalicelib.services.retry: store may not import services']
    assert violations('chalicelib.services.booking', 'from chalicelib.web.api import Call\n') == [
        'chalicelib.services.booking -> chalicelib.web.api: services may not import web']
    assert violations('chalicelib.errors', 'from chalicelib.domain import places\n') == [
        'chalicelib.errors -> chalicelib.domain.places: helpers may not import domain']
    assert violations('chalicelib.config', 'from chalicelib.store import legs\n') == [
        'chalicelib.config -> chalicelib.store.legs: config may not import store']
    assert violations('chalicelib.web.api', 'import app\n') == ['chalicelib.web.api -> app: chalicelib never imports app']
    assert violations('chalicelib.services.booking', 'from chalicelib.domain.places import Places\n') == []


def test_no_two_modules_share_a_name():
    """A module's name says what it is without its folder: no aliases needed to import two of them."""
    names = [path.stem for _, path in modules() if path.stem != '__init__']
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_every_module_sits_in_a_layer_or_beside_them():
    beside = {path.stem for module, path in modules() if layer_of(module) == 'helpers' and module != 'chalicelib'}
    assert beside == set(HELPERS)
