"""The HTTP API (payload 2.0) adapter: how the deployed service gets the raw query string."""
import base64
import json

from chalicelib.web.gateway import match_route, to_rest_event

ROUTES = {'/api/agenda': {}, '/api/agenda/{agenda}': {}, '/api/agenda/{agenda}/event/{event}': {},
          '/api/agenda/{agenda}/event': {}, '/api/import': {}}


def v2_event(path, query='', method='GET', body=None, headers=None):
    return {'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': query,
            'headers': headers or {'host': 'agendas.example.org'}, 'body': body, 'isBase64Encoded': False,
            'requestContext': {'http': {'method': method, 'path': path, 'sourceIp': '127.0.0.1'},
                               'requestId': 'r1'}}


def test_match_route_ignores_trailing_slash_and_prefers_fixed_segments():
    assert match_route('/api/agenda/', ROUTES) == ('/api/agenda', {})
    assert match_route('/api/agenda/piscine/event/', ROUTES) == ('/api/agenda/{agenda}/event', {'agenda': 'piscine'})
    assert match_route('/api/agenda/p%40x/event/e%3A1', ROUTES) == (
        '/api/agenda/{agenda}/event/{event}', {'agenda': 'p%40x', 'event': 'e%3A1'})
    assert match_route('/api/unknown', ROUTES) is None
    assert match_route('/api/agenda//event', ROUTES) is None


def test_rest_event_keeps_the_raw_query_and_the_order_of_values():
    query = 'slots=b&q=un+agenda&slots=a&user_external_id=user:1&orig=wcs.example.org'
    event = to_rest_event(v2_event('/api/agenda/', query), ROUTES)
    assert event['requestContext']['rawQueryString'] == query
    assert event['requestContext']['resourcePath'] == '/api/agenda'
    assert event['multiValueQueryStringParameters'] == {
        'slots': ['b', 'a'], 'q': ['un agenda'], 'user_external_id': ['user:1'], 'orig': ['wcs.example.org']}
    assert event['headers'] == {'host': 'agendas.example.org'}


def test_deployed_handler_verifies_a_signature_on_the_raw_query(client):
    """Through the adapter, a query with mixed encodings verifies on its exact bytes."""
    import app
    from chalicelib.signature import sign_query
    query = sign_query('q=piscine%20municipale&user_external_id=user:1&slots=a,b&orig=wcs.example.org', '12345')
    response = app.http_handler(v2_event('/api/agenda/', query), None)
    assert response['statusCode'] == 200
    assert json.loads(response['body']) == {'err': 0, 'data': []}
    replay = app.http_handler(v2_event('/api/agenda/', query), None)
    assert replay['statusCode'] == 401
    assert json.loads(replay['body'])['err'] == 1


def test_deployed_handler_answers_unknown_paths_in_chrono_shape(client):
    import app
    response = app.http_handler(v2_event('/api/nothing-here/'), None)
    assert response['statusCode'] == 404
    assert json.loads(response['body']) == {'err': 1, 'err_class': 'not found', 'err_desc': 'unknown path'}


def test_deployed_handler_reads_base64_bodies(client):
    import app
    auth = 'Basic ' + base64.b64encode(b'demo:demo').decode()
    body = base64.b64encode(json.dumps({'label': 'Piscine', 'kind': 'events'}).encode()).decode()
    event = v2_event('/api/agenda', method='POST', body=body,
                     headers={'host': 'agendas.example.org', 'authorization': auth,
                              'content-type': 'application/json'})
    event['isBase64Encoded'] = True
    response = app.http_handler(event, None)
    assert response['statusCode'] == 200
    data = json.loads(response['body'])['data']
    assert (data['slug'], data['api']['datetimes_url']) == (
        'piscine', 'http://agendas.example.org/api/agenda/piscine/datetimes/')
