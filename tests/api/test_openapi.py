"""The OpenAPI description (chalicelib/openapi.py): exactly app.py's routes, valid OpenAPI 3.1, served
authenticated at `GET /api/openapi.json` with the server the caller reached, never loaded at a cold start."""
from __future__ import annotations

import json

from openapi_spec_validator import validate

from chalicelib.web import openapi
from tests.api.conftest import ERROR_KEYS, GENERIC_401
from tests.api.test_packaging import imported_by_app
from tests.conftest import BASIC

METHODS = {'get', 'post', 'put', 'patch', 'delete', 'head', 'options'}


def app_routes() -> set[tuple[str, str]]:
    import app
    return {(path, method) for path, entries in app.app.routes.items() for method in entries}


def described_routes(document: dict) -> set[tuple[str, str]]:
    """(path as app.py declares it, METHOD) of every operation of the document."""
    return {(path.rstrip('/'), method.upper()) for path, item in document['paths'].items()
            for method in item if method in METHODS}


def test_every_route_of_the_app_is_described_and_nothing_else():
    document = openapi.document()
    assert described_routes(document) == app_routes()
    assert {(op.path, op.method) for op in openapi.OPERATIONS} == app_routes()
    assert len(openapi.OPERATIONS) == len(app_routes())  # none described twice


def test_paths_are_written_with_chronos_trailing_slash():
    paths = set(openapi.document()['paths'])
    assert '/api/agenda/{agenda}/fillslot/{slot}/' in paths and '/api/booking/{booking_id}/' in paths
    assert [p for p in paths if not p.endswith('/')] == ['/api/openapi.json']


def test_the_document_is_valid_openapi_31():
    document = openapi.document('https://agendas.example.org')
    validate(document)
    assert document['openapi'] == '3.1.0'
    assert document['servers'] == [{'url': 'https://agendas.example.org'}]


def test_path_parameters_match_the_path_and_operation_ids_are_unique():
    document = openapi.document()
    ids = []
    for path, item in document['paths'].items():
        for method, operation in item.items():
            ids.append(operation['operationId'])
            in_path = sorted(p['name'] for p in operation['parameters'] if p['in'] == 'path')
            assert in_path == sorted(openapi.PARAM_RE.findall(path)), (method, path)
    assert len(ids) == len(set(ids)) == len(openapi.OPERATIONS)


def test_lenient_inputs_and_chronos_error_shape_are_described():
    document = openapi.document()
    schemas = document['components']['schemas']
    fillslot = schemas['Fillslot']
    assert fillslot['properties']['count'] == {'$ref': '#/components/schemas/Integer'}
    assert fillslot['additionalProperties'] is True  # other keys go to extra_data
    integer_forms = [form.get('type') for form in schemas['Integer']['anyOf']]
    assert integer_forms == ['integer', 'string', 'null', None]  # None: the form {"const": ""}
    assert schemas['List']['anyOf'][1] == {'type': 'string'}  # "a,b"
    assert schemas['Error']['required'] == ['err', 'err_class', 'err_desc']
    assert set(schemas['Error']['properties']) == {'err', 'err_class', 'err_desc', 'errors'}
    fillslot_op = document['paths']['/api/agenda/{agenda}/fillslot/{slot}/']['post']
    assert set(fillslot_op['requestBody']['content']) == {'application/json', 'application/x-www-form-urlencoded'}
    assert set(fillslot_op['responses']) == {'200', '400', '401', '404', 'default'}


def test_both_authentications_are_described():
    document = openapi.document()
    schemes = document['components']['securitySchemes']
    assert schemes['basic'] == {'type': 'http', 'scheme': 'basic', 'description': schemes['basic']['description']}
    signed = {name: scheme['name'] for name, scheme in schemes.items() if scheme['type'] == 'apiKey'}
    assert sorted(signed.values()) == ['algo', 'nonce', 'orig', 'signature', 'timestamp']
    assert all(schemes[name]['in'] == 'query' for name in signed)
    assert document['security'] == [{'basic': []}, {name: [] for name in signed}]


def test_served_authenticated_with_and_without_the_slash(client):
    for path in ('/api/openapi.json', '/api/openapi.json/'):
        response = client.http.get(path, headers={**BASIC, 'Host': 'agendas.example.org'})
        assert response.status_code == 200
        assert response.headers['Content-Type'] == 'application/json'
        served = json.loads(response.body)
        assert served == openapi.document('http://agendas.example.org')
    refused = client.http.get('/api/openapi.json')
    body = json.loads(refused.body)
    assert refused.status_code == 401 and set(body) == ERROR_KEYS and body['err_desc'] == GENERIC_401


def test_a_cold_start_does_not_load_the_description():
    assert 'chalicelib.web.openapi' not in imported_by_app()
