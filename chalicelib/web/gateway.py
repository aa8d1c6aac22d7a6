"""Serve the Chalice app behind an HTTP API or a Lambda function URL (payload format 2.0).

Why: the Publik signature covers the raw query string, which only payload 2.0 carries
(`rawQueryString`); API Gateway REST, Chalice's default, hands over decoded parameters only.
Chalice itself only understands REST events, so this adapter turns a 2.0 event into the
REST shape, keeping the raw query in `requestContext.rawQueryString` where `http.raw_query`
reads it. Behind REST, the signature check falls back to rebuilding the query (docs/api.md, signatures).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from chalice import Chalice


def match_route(path: str, routes: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The route template for a path, with its (still percent-encoded) parameters.

    As API Gateway does, a trailing slash is ignored and fixed segments win over parameters.
    """
    if path != '/' and path.endswith('/'):
        path = path[:-1]
    parts = path.split('/')
    best: tuple[int, str, dict[str, str]] | None = None
    for template in routes:
        template_parts = template.split('/')
        if len(template_parts) != len(parts):
            continue
        captured, fixed = {}, 0
        for part, pattern in zip(parts, template_parts, strict=True):
            if pattern.startswith('{') and pattern.endswith('}'):
                if not part:
                    break
                captured[pattern[1:-1]] = part
            elif part != pattern:
                break
            else:
                fixed += 1
        else:
            if best is None or fixed > best[0]:
                best = (fixed, template, captured)
    return (best[1], best[2]) if best else None


def to_rest_event(event: dict[str, Any], routes: dict[str, Any]) -> dict[str, Any] | None:
    """A payload-2.0 event in the REST (1.0) shape Chalice reads; None when no route matches."""
    http = event.get('requestContext', {}).get('http', {})
    path = event.get('rawPath') or http.get('path') or '/'
    matched = match_route(path, routes)
    if matched is None:
        return None
    template, params = matched
    raw_query = event.get('rawQueryString') or ''
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        multi.setdefault(name, []).append(value)
    headers = {k.lower(): v for k, v in (event.get('headers') or {}).items()}
    if event.get('cookies'):
        headers['cookie'] = '; '.join(event['cookies'])
    return {
        'resource': template,
        'path': path,
        'httpMethod': http.get('method', 'GET'),
        'headers': headers,
        'multiValueQueryStringParameters': multi or None,
        'pathParameters': params or None,
        'stageVariables': None,
        'body': event.get('body'),
        'isBase64Encoded': bool(event.get('isBase64Encoded')),
        'requestContext': {
            'httpMethod': http.get('method', 'GET'),
            'resourcePath': template,
            'path': path,
            'rawQueryString': raw_query,
            'identity': {'sourceIp': http.get('sourceIp')},
            'requestId': event.get('requestContext', {}).get('requestId'),
        },
    }


def http_api_handler(app: Chalice) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler for an HTTP API / function URL; REST events pass through unchanged.

    `make run` and the HTTP tests serve through this same handler (local/server.py), so every
    answer below (HEAD, unrouted methods, unknown paths) is the deployed one by construction.
    """

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        rest_event = to_rest_event(event, app.routes)
        if rest_event is None:
            # Unlike API Gateway REST (403 "Missing Authentication Token"), an unknown path gets Chrono's 404.
            return {
                'statusCode': 404,
                'headers': {'Content-Type': 'application/json'},
                'isBase64Encoded': False,
                'body': json.dumps({'err': 1, 'err_class': 'not found', 'err_desc': 'unknown path'}),
            }
        response = app(rest_event, context)
        headers = dict(response.get('headers') or {})
        for name, values in (response.pop('multiValueHeaders', None) or {}).items():
            headers[name] = ', '.join(values)  # payload 2.0 has no multi-value headers
        for name in [n for n in headers if n.lower() == 'allow']:
            allowed = [m.strip() for m in headers[name].split(',')]
            if 'GET' in allowed and 'HEAD' not in allowed:
                headers[name] = ', '.join(allowed + ['HEAD'])  # HEAD is served wherever GET is (below)
        response['headers'] = headers
        return response

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get('version') != '2.0':
            return app(event, context)
        http = event.get('requestContext', {}).get('http', {})
        if http.get('method') != 'HEAD':
            return answer(event, context)
        # HEAD is GET without the body, as Chrono (Django) answers it: same status and headers, the
        # GET's Content-Length, no body; Chalice alone would answer 405 (routes declare GET only).
        as_get = {**event, 'requestContext': {**event['requestContext'], 'http': {**http, 'method': 'GET'}}}
        response = answer(as_get, context)
        return {
            **response,
            'body': '',
            'isBase64Encoded': False,
            'headers': {**response['headers'], 'Content-Length': str(len(body_bytes(response)))},
        }

    return handler


def body_bytes(response: dict[str, Any]) -> bytes:
    """The bytes a client receives for a Lambda answer's body."""
    body = response.get('body') or ''
    if response.get('isBase64Encoded'):
        return base64.b64decode(body)
    return body.encode('utf-8') if isinstance(body, str) else bytes(body)
