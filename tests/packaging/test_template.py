"""The deploy path (design.md §1, §3.1 `make package`; docs/deploy.md "Deploy"): the template and zip that
`make package` builds from Chalice's output and infra/template.yml, checked against the code they deploy.

The package is built once per session, as an operator builds it: `make package` with no AWS
credential (only the region the Makefile exports), into a temporary folder.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml

from chalicelib.store.models import TableItem
from tests.conftest import BASIC, ROOT, TEST_ENV, LoopbackServer, QuietHandler

# Chalice's logical ids for the functions of app.py, and the handler each one must run.
FUNCTIONS = {'APIHandler': 'app.http_handler', 'DeliverCallbacks': 'app.deliver_callbacks',
             'SweepCallbacks': 'app.sweep_callbacks', 'ExtendRecurrences': 'app.extend_recurrences',
             'AnonymizePastBookings': 'app.anonymize_past_bookings', 'RefreshClosures': 'app.refresh_closures',
             'SendReminders': 'app.send_reminders'}
# What only tests, the local stack and the packaging tools may bring (tests/api/test_packaging.py).
FORBIDDEN_TOP_LEVEL = {'moto', 'boto3', 'local', 'tests', 'pytest', '_pytest', 'hypothesis', 'responses',
                       'werkzeug', 'flask', 'cfnlint', 'requests', 'pip', 'setuptools', 'click', 'inquirer'}
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)  # a Friday, 09:00 in Paris


# ---- the package, built once ---------------------------------------------------------------------

@pytest.fixture(scope='session')
def package(tmp_path_factory) -> dict[str, Any]:
    """`make package` into a temporary folder, without AWS credentials; its time is printed."""
    out = tmp_path_factory.mktemp('package') / 'build'
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTEST'))}
    env['HOME'] = str(tmp_path_factory.mktemp('home'))  # no ~/.aws either
    started = time.monotonic()
    result = subprocess.run(['make', '-s', 'package', f'PACKAGE_DIR={out}'], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    print(f'\nmake package: {time.monotonic() - started:.1f} s')
    text = (out / 'sam.yaml').read_text() if result.returncode == 0 else ''
    return {'result': result, 'dir': out, 'text': text, 'template': yaml.safe_load(text) if text else {}}


@pytest.fixture(scope='session')
def template(package) -> dict[str, Any]:
    assert package['result'].returncode == 0, package['result'].stdout + package['result'].stderr
    return package['template']


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template['Resources'].items() if r['Type'] == kind}


def test_make_package_needs_no_aws_account_and_cfn_lint_reports_nothing(package):
    result = package['result']
    assert result.returncode == 0, result.stdout + result.stderr
    # Only Chalice's progress lines: no dependency it could not package, and not one cfn-lint finding.
    assert set(result.stdout.splitlines()) <= {'Creating deployment package.', 'Reusing existing deployment package.'}
    assert result.stderr == ''
    assert sorted(p.name for p in package['dir'].iterdir()) == ['deployment.zip', 'sam.yaml']


def test_the_template_holds_no_yaml_alias(package):
    """CloudFormation refuses YAML aliases, which PyYAML writes for an object used twice."""
    events = list(yaml.parse(package['text']))
    assert events and [e for e in events if isinstance(e, yaml.AliasEvent) or getattr(e, 'anchor', None)] == []


# ---- served at the root, by app.http_handler ------------------------------------------------------

def test_each_function_runs_its_handler_and_the_api_gets_the_http_api_adapter(template):
    import app
    functions = resources(template, 'AWS::Serverless::Function')
    assert {name: f['Properties']['Handler'] for name, f in functions.items()} == FUNCTIONS
    for handler in FUNCTIONS.values():
        assert callable(getattr(app, handler.split('.', 1)[1]))


def test_the_http_api_sends_every_path_at_the_root_to_the_function_in_payload_2(template):
    r = template['Resources']
    assert r['HttpApi']['Properties']['ProtocolType'] == 'HTTP'
    assert r['HttpApiIntegration']['Properties'] == {
        'ApiId': {'Ref': 'HttpApi'}, 'IntegrationType': 'AWS_PROXY',
        'IntegrationUri': {'Fn::GetAtt': ['APIHandler', 'Arn']}, 'PayloadFormatVersion': '2.0',
        'TimeoutInMillis': 30000}
    assert r['HttpApiRoute']['Properties'] == {
        'ApiId': {'Ref': 'HttpApi'}, 'RouteKey': '$default',
        'Target': {'Fn::Sub': 'integrations/${HttpApiIntegration}'}}
    assert r['HttpApiStage']['Properties'] == {'ApiId': {'Ref': 'HttpApi'}, 'StageName': '$default', 'AutoDeploy': True}
    assert r['HttpApiInvokePermission']['Properties']['FunctionName'] == {'Fn::GetAtt': ['APIHandler', 'Arn']}
    assert r['HttpApiInvokePermission']['Properties']['SourceArn'] == {'Fn::Sub': (
        'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/$default')}
    # The API's own URL, and a custom domain mapped without any path (Lingo keeps only scheme and host).
    assert template['Outputs']['EndpointURL'] == {'Value': {'Fn::Sub': '${HttpApi.ApiEndpoint}/'}}
    assert r['HttpApiMapping']['Properties'] == {
        'ApiId': {'Ref': 'HttpApi'}, 'DomainName': {'Ref': 'HttpApiDomain'}, 'Stage': '$default'}
    assert r['HttpApiMapping']['Condition'] == r['HttpApiDomain']['Condition'] == 'WithCustomDomain'


def test_chalices_rest_api_under_its_stage_prefix_is_left_out_unless_asked_for(template):
    r = template['Resources']
    assert r['RestAPI']['Properties']['StageName'] == 'api'  # what would make /api/api/agenda/...
    assert sorted(name for name, res in r.items() if res.get('Condition') == 'WithRestApi') == [
        'APIHandlerInvokePermission', 'RestAPI']
    assert template['Conditions']['WithRestApi'] == {'Fn::Equals': [{'Ref': 'EnableRestApi'}, 'true']}
    assert template['Parameters']['EnableRestApi']['Default'] == 'false'
    assert template['Outputs']['RestAPIId']['Condition'] == 'WithRestApi'


def http_api_event(method: str, path: str, query: str = '', body: str | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An event as the HTTP API's $default route and stage hand it over (payload format 2.0)."""
    return {
        'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': query,
        'headers': {'host': 'agendas.example.org', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443',
                    'user-agent': 'Python-urllib/3.11', **(headers or {})},
        'requestContext': {
            'accountId': '123456789012', 'apiId': 'abc123', 'domainName': 'agendas.example.org',
            'domainPrefix': 'agendas', 'requestId': 'req-1', 'routeKey': '$default', 'stage': '$default',
            'time': '01/Mar/2030:08:00:00 +0000', 'timeEpoch': 1898582400000,
            'http': {'method': method, 'path': path, 'protocol': 'HTTP/1.1', 'sourceIp': '192.0.2.1',
                     'userAgent': 'Python-urllib/3.11'}},
        'body': body, 'isBase64Encoded': False}


def test_a_signed_query_reaches_the_signature_check_as_it_was_sent(client, monkeypatch):
    """Through the HTTP API the MAC is checked on the raw bytes: a query whose repeated key has
    another key between its values verifies, although no rebuild from decoded parameters can."""
    import app
    from chalicelib.web import api as http
    from chalicelib.signature import sign_query
    monkeypatch.setattr(http, 'utcnow', lambda: NOW)
    created = app.http_handler(http_api_event('POST', '/api/agenda/', body=json.dumps({'label': 'Piscine'}), headers={
        'authorization': BASIC['Authorization'], 'content-type': 'application/json'}), None)
    assert created['statusCode'] == 200
    assert json.loads(created['body'])['data']['api']['datetimes_url'] == (
        'https://agendas.example.org/api/agenda/piscine/datetimes/')

    key = json.loads(TEST_ENV['CHRONO_SIGNATURE_KEYS'])['wcs.example.org']
    signed = sign_query('q=pisc&slots=b&user_external_id=user:1&slots=a,c&label=un+deux%20trois&orig=wcs.example.org',
                        key, now=NOW, nonce='n-raw-1')
    # REST hands over decoded, grouped parameters: this URL cannot be verified (and its nonce stays unused).
    assert client.http.get(f'/api/agenda/?{signed}').status_code == 401
    answer = app.http_handler(http_api_event('GET', '/api/agenda/', signed), None)
    assert answer['statusCode'] == 200
    assert [a['slug'] for a in json.loads(answer['body'])['data']] == ['piscine']
    tampered = signed.replace('slots=a,c', 'slots=a,d')
    refused = app.http_handler(http_api_event('GET', '/api/agenda/', tampered), None)
    assert refused['statusCode'] == 401
    assert set(json.loads(refused['body'])) == {'err', 'err_class', 'err_desc'}


# ---- the table is the models' table ----------------------------------------------------------------

def pairs(items: list[dict[str, str]], *keys: str) -> list[tuple[str, ...]]:
    return [tuple(item[k] for k in keys) for item in items]


def test_the_table_is_the_one_the_pynamodb_models_declare(template):
    table = template['Resources']['ChronoTable']
    props = table['Properties']
    schema = TableItem._get_schema()
    declared = set(pairs(schema['attribute_definitions'], 'AttributeName', 'AttributeType'))
    for index in schema['global_secondary_indexes']:
        declared |= set(pairs(index['attribute_definitions'], 'AttributeName', 'AttributeType'))
    assert set(pairs(props['AttributeDefinitions'], 'AttributeName', 'AttributeType')) == declared
    assert len(props['AttributeDefinitions']) == len(declared)
    assert pairs(props['KeySchema'], 'AttributeName', 'KeyType') == pairs(
        schema['key_schema'], 'AttributeName', 'KeyType')
    # pynamodb lists an index's keys by attribute name; AWS wants the HASH key first.
    assert {i['IndexName']: (dict(pairs(i['KeySchema'], 'AttributeName', 'KeyType')), i['Projection'])
            for i in props['GlobalSecondaryIndexes']} == {
        i['index_name']: (dict(pairs(i['key_schema'], 'AttributeName', 'KeyType')), i['projection'])
        for i in schema['global_secondary_indexes']}
    assert {i['KeySchema'][0]['KeyType'] for i in props['GlobalSecondaryIndexes']} == {'HASH'}
    assert schema['local_secondary_indexes'] == [] and 'LocalSecondaryIndexes' not in props
    assert props['TimeToLiveSpecification'] == {'AttributeName': TableItem._ttl_attribute().attr_name, 'Enabled': True}
    assert props['BillingMode'] == TableItem.Meta.billing_mode == 'PAY_PER_REQUEST'
    assert props['PointInTimeRecoverySpecification'] == {'PointInTimeRecoveryEnabled': True}
    assert (table['DeletionPolicy'], table['UpdateReplacePolicy']) == ('Retain', 'Retain')


# ---- callbacks: queue, dead letters, alarm, schedule ------------------------------------------------

def test_the_callback_queue_feeds_the_worker_with_partial_batch_failures(template):
    r = template['Resources']
    worker = r['DeliverCallbacks']['Properties']
    assert worker['Events'] == {'DeliverCallbacksSqsEventSource': {'Type': 'SQS', 'Properties': {
        'Queue': {'Fn::Sub': '${CallbackQueue.Arn}'}, 'BatchSize': 1, 'MaximumBatchingWindowInSeconds': 0,
        'FunctionResponseTypes': ['ReportBatchItemFailures']}}}
    queue = r['CallbackQueue']['Properties']
    assert queue['VisibilityTimeout'] >= 6 * worker['Timeout'] and worker['Timeout'] == 28
    assert queue['RedrivePolicy'] == {'deadLetterTargetArn': {'Fn::GetAtt': ['CallbackDeadLetterQueue', 'Arn']},
                                      'maxReceiveCount': 5}
    assert r['CallbackDeadLetterQueue']['Properties']['MessageRetentionPeriod'] == 14 * 24 * 3600
    assert r['SweepCallbacks']['Properties']['Events'] == {
        'SweepCallbacksEvent': {'Type': 'Schedule', 'Properties': {'Schedule': 'rate(1 minute)'}}}
    assert r['ExtendRecurrences']['Properties']['Events'] == {
        'ExtendRecurrencesEvent': {'Type': 'Schedule', 'Properties': {'Schedule': 'rate(1 day)'}}}
    assert r['AnonymizePastBookings']['Properties']['Events'] == {
        'AnonymizePastBookingsEvent': {'Type': 'Schedule', 'Properties': {'Schedule': 'rate(1 hour)'}}}
    # The remote ICS sources, daily; its fetches take up to SCHEDULE_SECONDS, within its timeout.
    from chalicelib.services.ics_sources import SCHEDULE_SECONDS
    refresh = r['RefreshClosures']['Properties']
    assert refresh['Events'] == {
        'RefreshClosuresEvent': {'Type': 'Schedule', 'Properties': {'Schedule': 'rate(1 day)'}}}
    assert refresh['Timeout'] == 300 > SCHEDULE_SECONDS + 30
    assert r['SendReminders']['Properties']['Events'] == {
        'SendRemindersEvent': {'Type': 'Schedule', 'Properties': {'Schedule': 'rate(1 minute)'}}}


def test_a_message_in_the_dead_letter_queue_raises_the_alarm_and_tells_the_topic_if_given(template):
    alarm = template['Resources']['CallbackDeadLetterAlarm']['Properties']
    notify = {'Fn::If': ['WithAlarmTopic', [{'Ref': 'AlarmTopicArn'}], {'Ref': 'AWS::NoValue'}]}
    assert {k: v for k, v in alarm.items() if k != 'AlarmDescription'} == {
        'Namespace': 'AWS/SQS', 'MetricName': 'ApproximateNumberOfMessagesVisible',
        'Dimensions': [{'Name': 'QueueName', 'Value': {'Fn::GetAtt': ['CallbackDeadLetterQueue', 'QueueName']}}],
        'Statistic': 'Maximum', 'Period': 300, 'EvaluationPeriods': 1, 'Threshold': 0,
        'ComparisonOperator': 'GreaterThanThreshold', 'TreatMissingData': 'notBreaching',
        'AlarmActions': notify, 'OKActions': notify}
    assert template['Conditions']['WithAlarmTopic'] == {'Fn::Not': [{'Fn::Equals': [{'Ref': 'AlarmTopicArn'}, '']}]}
    assert template['Parameters']['AlarmTopicArn']['Default'] == ''


# ---- configuration -----------------------------------------------------------------------------------

def variables_the_code_reads() -> set[str]:
    sources = [ROOT / 'app.py', *sorted((ROOT / 'chalicelib').rglob('*.py'))]
    return {name for path in sources for name in re.findall(r"""['"](CHRONO_[A-Z_]+)['"]""", path.read_text())}


EXPECTED_VARIABLES = {
    'CHRONO_TABLE': {'Ref': 'ChronoTable'},
    'CHRONO_CALLBACK_QUEUE': {'Fn::GetAtt': ['CallbackQueue', 'QueueName']},
    'CHRONO_API_CLIENTS': {'Ref': 'ApiClients'},
    'CHRONO_SIGNATURE_KEYS': {'Ref': 'SignatureKeys'},
    'CHRONO_TIME_ZONE': {'Ref': 'TimeZone'},
    'CHRONO_BASE_URL': {'Ref': 'BaseUrl'},
    'CHRONO_CALLBACK_HOSTS': {'Ref': 'CallbackHosts'},
    'CHRONO_ORIG': {'Ref': 'Orig'},
    'CHRONO_CALLBACK_RETRY_DELAYS': {'Ref': 'CallbackRetryDelays'},
    'CHRONO_CALLBACK_OWNERS': {'Ref': 'CallbackOwners'},
    'CHRONO_ICS_HOSTS': {'Ref': 'IcsHosts'},
    'CHRONO_REMINDER_FROM': {'Ref': 'ReminderFrom'},
    'CHRONO_SMS_URL': {'Ref': 'SmsUrl'},
    'CHRONO_SMS_FROM': {'Ref': 'SmsFrom'},
    'CHRONO_LOG_LEVEL': {'Ref': 'LogLevel'},
    'CHRONO_HOLD_SECONDS': {'Ref': 'HoldSeconds'},
    'CHRONO_DECISION_CACHE_SECONDS': {'Ref': 'DecisionCacheSeconds'},
}


def test_every_function_gets_every_variable_the_code_reads_from_the_stack(template):
    assert set(EXPECTED_VARIABLES) == variables_the_code_reads()
    for name, function in resources(template, 'AWS::Serverless::Function').items():
        assert function['Properties']['Environment'] == {'Variables': EXPECTED_VARIABLES}, name
    parameters = template['Parameters']
    # Secrets: masked, and never a default value in the template.
    for secret in ('ApiClients', 'SignatureKeys'):
        assert parameters[secret]['NoEcho'] is True and 'Default' not in parameters[secret]
    assert parameters['TimeZone']['Default'] == 'Europe/Paris'
    optional = ('BaseUrl', 'CallbackHosts', 'Orig', 'CallbackRetryDelays', 'CallbackOwners', 'IcsHosts', 'HoldSeconds',
                'DecisionCacheSeconds', 'ReminderFrom', 'SmsUrl', 'SmsFrom')
    assert {p: parameters[p]['Default'] for p in optional} == dict.fromkeys(optional, '')  # nothing set: no message
    assert (parameters['LogLevel']['Default'], parameters['LogLevel']['AllowedValues']) == (
        'INFO', ['DEBUG', 'INFO', 'WARNING', 'ERROR'])


# ---- least privilege ------------------------------------------------------------------------------

def role_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template['Resources'][function]['Properties']['Role']['Fn::GetAtt'][0]
    policies = template['Resources'][role]['Properties']['Policies']
    return [s for p in policies for s in p['PolicyDocument']['Statement']]


def resource_name(resource: Any, template: dict[str, Any]) -> str:
    """A policy resource as the test names it: table, index/<name>, queue, log-group:<function>."""
    if resource == {'Fn::GetAtt': ['ChronoTable', 'Arn']}:
        return 'table'
    if resource == {'Fn::GetAtt': ['CallbackQueue', 'Arn']}:
        return 'queue'
    identity = 'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/'
    if resource == {'Fn::Sub': f'{identity}${{ReminderFrom}}'}:
        return 'ses-identity:address'
    if resource == {'Fn::Sub': [f'{identity}${{Domain}}', {'Domain': {'Fn::Select': [1, {'Fn::Split': [
            '@', {'Fn::Sub': '${ReminderFrom}@'}]}]}}]}:
        return 'ses-identity:domain'
    if isinstance(resource, dict) and 'Fn::Sub' in resource:
        match = re.fullmatch(r'\$\{ChronoTable\.Arn\}/index/(\w+)', resource['Fn::Sub'])
        if match:
            return f'index/{match.group(1)}'
    if isinstance(resource, dict) and list(resource) == ['Fn::GetAtt'] and resource['Fn::GetAtt'][1] == 'Arn':
        group = template['Resources'][resource['Fn::GetAtt'][0]]
        if group['Type'] == 'AWS::Logs::LogGroup':
            return f"log-group:{group['Properties']['LogGroupName']['Fn::Sub']}"
    raise AssertionError(f'unexpected policy resource {resource!r}')


def granted(template: dict[str, Any], function: str) -> set[tuple[str, str]]:
    found = set()
    for statement in role_statements(template, function):
        assert statement['Effect'] == 'Allow' and set(statement) <= {'Sid', 'Effect', 'Action', 'Resource'}
        actions = statement['Action'] if isinstance(statement['Action'], list) else [statement['Action']]
        targets = statement['Resource'] if isinstance(statement['Resource'], list) else [statement['Resource']]
        found |= {(action, resource_name(target, template)) for action in actions for target in targets}
    return found


def test_no_role_grants_a_wildcard_action_or_resource(template):
    roles = resources(template, 'AWS::IAM::Role')
    assert sorted(roles) == ['AnonymizePastBookingsRole', 'ApiHandlerRole', 'DeliverCallbacksRole', 'ExtendRecurrencesRole',
                             'RefreshClosuresRole', 'SendRemindersRole', 'SweepCallbacksRole']
    assert '*' not in json.dumps([role['Properties']['Policies'] for role in roles.values()])
    for name, role in roles.items():
        assert role['Properties']['AssumeRolePolicyDocument']['Statement'] == [
            {'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'}, 'Action': 'sts:AssumeRole'}], name


TRANSACTION_ACTIONS = {'Put': 'PutItem', 'Update': 'UpdateItem', 'Delete': 'DeleteItem',
                       'ConditionCheck': 'ConditionCheckItem'}


def iam_needs(service: str, operation: str, params: dict[str, Any]) -> set[tuple[str, str]]:
    """The IAM actions (and the resources) one AWS call needs; a transaction needs each item's."""
    if service == 'dynamodb':
        if operation == 'TransactWriteItems':
            assert {next(iter(item.values()))['TableName'] for item in params['TransactItems']} == {'chrono-test'}
            return {(f'dynamodb:{TRANSACTION_ACTIONS[kind]}', 'table')
                    for item in params['TransactItems'] for kind in item}
        if operation == 'TransactGetItems':  # each item needs GetItem
            assert {item['Get']['TableName'] for item in params['TransactItems']} == {'chrono-test'}
            return {('dynamodb:GetItem', 'table')}
        if operation == 'BatchGetItem':
            assert set(params['RequestItems']) == {'chrono-test'}
            return {('dynamodb:BatchGetItem', 'table')}
        assert params['TableName'] == 'chrono-test'
        index = params.get('IndexName')
        return {(f'dynamodb:{operation}', f'index/{index}' if index else 'table')}
    if service == 'sesv2':
        # SES authorises a send on the From address's identity: the address, or its domain when that is the one
        # verified; the role names both (the sender chooses which to verify).
        assert (operation, params['FromEmailAddress']) == ('SendEmail', 'rappels@agendas.example.org')
        return {('ses:SendEmail', 'ses-identity:address'), ('ses:SendEmail', 'ses-identity:domain')}
    assert service == 'sqs', (service, operation)
    action = 'SendMessage' if operation == 'SendMessageBatch' else operation
    return {(f'sqs:{action}', 'queue')}


class Recorder:
    """Every AWS call made while `function` runs, at botocore's door (pynamodb's calls too);
    `fail_transaction = n` makes the n-th next transaction fail as DynamoDB's own error would."""

    def __init__(self) -> None:
        self.function: str | None = None  # None: the test's own calls, not recorded
        self.needs: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.fail_transaction = 0

    def install(self, monkeypatch) -> None:
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError
        original = BaseClient._make_api_call
        recorder = self

        def recording(client, operation, params):
            if recorder.function is not None:
                recorder.needs[recorder.function] |= iam_needs(
                    client.meta.service_model.service_name, operation, params)
            if operation == 'TransactWriteItems' and recorder.fail_transaction:
                recorder.fail_transaction -= 1
                if recorder.fail_transaction == 0:
                    raise ClientError({'Error': {'Code': 'InternalServerError', 'Message': 'injected'}}, operation)
            return original(client, operation, params)
        monkeypatch.setattr(BaseClient, '_make_api_call', recording)


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def meetings_agenda(*types: tuple[str, int]) -> dict[str, Any]:
    return {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings',
            'meetingtypes': [{'slug': slug, 'label': slug, 'duration': minutes} for slug, minutes in types],
            'desks': [{'slug': desk, 'label': desk,
                       'timeperiods': [{'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}]}
                      for desk in ('g1', 'g2')]}


class IcsFiles(LoopbackServer):
    """A loopback server of ICS files (`files[path]`), for the remote sources the refresh fetches."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        files = self.files

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                body = files.get(self.path, '').encode()
                self.send_response(200 if body else 404)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


def holidays(*days: str) -> str:
    events = ''.join(f'BEGIN:VEVENT\r\nUID:{day}\r\nDTSTART;VALUE=DATE:{day}\r\nEND:VEVENT\r\n' for day in days)
    return f'BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n'


def run_every_kind_of_call(api, client, recorder: Recorder, monkeypatch, ics: IcsFiles) -> None:
    """Admin, listings, bookings of events and meetings (a grid change included), a signed call, an
    agent's cancel with its callback: one attempt (refused port: retried) and the sweeper; the daily
    job extending an open-ended recurring event, once failing half-way (its rollback) then whole; the
    daily refresh of remote ICS sources (a calendar's and a desk's), twice (closures put, then deleted)."""
    import boto3

    from chalicelib import config
    from chalicelib.web import api as http
    from chalicelib.signature import sign_query
    clock = {'now': NOW}
    monkeypatch.setattr(http, 'utcnow', lambda: clock['now'])
    sqs = boto3.client('sqs')
    queue_url = sqs.create_queue(QueueName=config.settings().callback_queue_name)['QueueUrl']

    def ok(answer):
        assert answer[0] == 200 and answer[1]['err'] == 0, answer
        return answer[1]

    boto3.client('sesv2').create_email_identity(EmailIdentity='agendas.example.org')

    recorder.function = 'APIHandler'
    ok(api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0}))
    for slug in ('lundi', 'mardi'):
        ok(api.post('/api/agenda/piscine/event/', {'slug': slug, 'start_datetime': '2030-03-04 10:00', 'places': 5}))
    ok(api.get('/api/agenda/'))
    ok(api.get('/api/agenda/piscine/'))
    ok(api.get('/api/agenda/piscine/datetimes/'))
    booking = ok(api.post('/api/agenda/piscine/fillslot/lundi/', {
        'user_external_id': 'u1', 'cancel_callback_url': f'http://127.0.0.1:{closed_loopback_port()}/hooks/'}))
    ok(api.patch(f"/api/booking/{booking['booking_id']}/", {'user_was_present': 'true'}))
    ok(api.get('/api/bookings/?user_external_id=u1'))
    ok(api.post(f"/api/booking/{booking['booking_id']}/agent-cancel/", {}))
    ok(api.delete('/api/agenda/piscine/event/mardi/'))
    key = json.loads(TEST_ENV['CHRONO_SIGNATURE_KEYS'])['wcs.example.org']
    assert client.http.get('/api/agenda/?' + sign_query('orig=wcs.example.org', key, now=NOW)).status_code == 200
    ics.files.update({'/feries.ics': holidays('20300311', '20300318'), '/g2.ics': holidays('20300325')})
    def with_closures(agenda: dict[str, Any]) -> dict[str, Any]:
        agenda['desks'][0]['unavailability_calendars'] = ['feries']
        agenda['desks'][1]['exceptions_sources'] = [{'ics_url': ics.url('/g2.ics')}]
        return agenda

    ok(api.post('/api/import/', {'agendas': [with_closures(meetings_agenda(('rdv', 30)))], 'unavailability_calendars': [
        {'slug': 'feries', 'label': 'Fériés', 'exceptions_sources': [{'ics_url': ics.url('/feries.ics')}]}]}))
    ok(api.post('/api/exceptions-sources/refresh/', {}))
    ok(api.get('/api/unavailability-calendar/feries/'))
    meeting = ok(api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-1000/', {}))
    ok(api.post('/api/import/', {'agendas': [with_closures(meetings_agenda(('rdv', 30), ('court', 10)))]}))  # new grid
    ok(api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1020/', {}))
    ok(api.post(f"/api/booking/{meeting['booking_id']}/cancel/", {}))
    ok(api.get('/api/callbacks/failed/'))
    ok(api.post('/api/agenda/', {'slug': 'passe', 'label': 'Passé', 'minimal_booking_delay': 0, 'anonymize_delay': 1}))
    ok(api.post('/api/agenda/passe/event/', {'slug': 'hier', 'start_datetime': '2030-03-02 10:00', 'places': 5}))
    ok(api.post('/api/agenda/passe/fillslot/hier/', {'user_external_id': 'u2', 'user_email': 'u2@example.org'}))
    # An e-mail reminder, due the day before at 09:00 (the sender runs below); the booking's cancel deletes another.
    ok(api.post('/api/agenda/', {'slug': 'rappels', 'label': 'Rappels', 'minimal_booking_delay': 0,
                                 'waiting_list_promotion': 'automatic',
                                 'reminder_settings': {'days_before_email': 1, 'notify_promotion': True}}))
    ok(api.post('/api/agenda/rappels/event/', {'slug': 'cours', 'start_datetime': '2030-03-04 10:00', 'places': 1,
                                               'waiting_list_places': 1}))
    reminded = ok(api.post('/api/agenda/rappels/fillslot/cours/', {'user_email': 'u3@example.org'}))
    ok(api.post('/api/agenda/rappels/fillslot/cours/', {'user_email': 'u4@example.org'}))  # waits
    ok(api.post(f"/api/booking/{reminded['booking_id']}/cancel/", {}))  # the one waiting moves up, is told
    ok(api.post('/api/agenda/', {'slug': 'bassin', 'label': 'Bassin'}))
    ok(api.post('/api/agenda/bassin/event/', {'slug': 'nage', 'start_datetime': '2030-03-04 17:00', 'places': 1,
                                              'recurrence_days': '0,3', 'recurrence_end_date': ''}))

    recorder.function = None
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)['Messages']
    assert [json.loads(m['Body']) for m in messages] == [{'callback': f"{booking['booking_id']}:cancel:0"}]
    recorder.function = 'DeliverCallbacks'
    event = client.events.generate_sqs_event([messages[0]['Body']], queue_name='chrono-test-callbacks')
    assert client.lambda_.invoke('deliver_callbacks', event).payload == {'batchItemFailures': []}
    recorder.function = 'SweepCallbacks'
    clock['now'] = NOW.replace(hour=9)  # the retry is due, and its delayed message counts as lost
    scheduled = client.events.generate_cw_event('aws.events', 'Scheduled Event', {}, ['arn:rule'])
    assert client.lambda_.invoke('sweep_callbacks', scheduled).payload == {'queued': 1}
    recorder.function = 'SendReminders'
    clock['now'] = NOW.replace(day=3)  # 09:00 in Paris, the day before the event: the reminder is due
    assert client.lambda_.invoke('send_reminders', scheduled).payload == {'sent': 2}  # the promotion notice and the reminder
    recorder.function = 'ExtendRecurrences'
    clock['now'] = NOW.replace(year=2031)  # a year on: another year of Mondays and Thursdays
    recorder.fail_transaction = 2
    # The second transaction fails: the first one's 100 are deleted again (the rollback), the failure is
    # logged and the job goes on with the other events (none here).
    assert client.lambda_.invoke('extend_recurrences', scheduled).payload == {'created': 0}
    assert client.lambda_.invoke('extend_recurrences', scheduled).payload == {'created': 103}
    recorder.function = 'RefreshClosures'
    ics.files.update({'/feries.ics': holidays('20310317'), '/g2.ics': holidays('20310324')})
    assert client.lambda_.invoke('refresh_closures', scheduled).payload == {
        'updated': 2, 'unchanged': 0, 'failed': 0, 'skipped': 0}
    assert client.lambda_.invoke('refresh_closures', scheduled).payload == {
        'updated': 0, 'unchanged': 2, 'failed': 0, 'skipped': 0}
    recorder.function = 'AnonymizePastBookings'  # a year on: the booking of 2 March 2030 is past its day of delay
    assert client.lambda_.invoke('anonymize_past_bookings', scheduled).payload == {
        'anonymized': 1, 'agendas': 1, 'unfinished': []}
    recorder.function = None


def test_each_role_grants_exactly_what_its_function_calls_and_the_lambda_service_needs(
        template, api, client, env, monkeypatch):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1', CHRONO_ORIG='chrono.example.org', CHRONO_SIGNATURE_KEYS=json.dumps(
        {**json.loads(TEST_ENV['CHRONO_SIGNATURE_KEYS']), '127.0.0.1': 'loopback-key'}),
        CHRONO_CALLBACK_OWNERS=json.dumps({'demo': ['127.0.0.1:*']}), CHRONO_ICS_HOSTS='127.0.0.1',
        CHRONO_REMINDER_FROM='rappels@agendas.example.org')
    recorder = Recorder()
    recorder.install(monkeypatch)
    ics = IcsFiles()
    try:
        run_every_kind_of_call(api, client, recorder, monkeypatch, ics)
    finally:
        ics.server.shutdown()
    for function, properties in ((n, f['Properties']) for n, f in resources(
            template, 'AWS::Serverless::Function').items()):
        needs = set(recorder.needs[function])
        # The Lambda service itself: writing the function's logs, and polling the queue of an SQS event.
        log_group = f"log-group:/aws/lambda/{properties['FunctionName']['Fn::Sub']}"
        needs |= {('logs:CreateLogStream', log_group), ('logs:PutLogEvents', log_group)}
        if any(event['Type'] == 'SQS' for event in properties.get('Events', {}).values()):
            needs |= {(f'sqs:{action}', 'queue') for action in (
                'ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes', 'ChangeMessageVisibility')}
        assert granted(template, function) == needs, function
    # What the scenario reached (a missing call here would make the comparison above weaker).
    assert {action for action, _ in recorder.needs['APIHandler']} == {
        'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem',
        'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'sqs:GetQueueUrl', 'sqs:SendMessage'}


# ---- the zip ---------------------------------------------------------------------------------------

PROBE = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import app
assert all(callable(getattr(app, name)) for name in ('http_handler', 'deliver_callbacks', 'sweep_callbacks',
                                                    'extend_recurrences', 'refresh_closures'))
print(json.dumps(sorted(name for name, module in sys.modules.items()
                        if getattr(module, '__file__', None) and module.__file__.startswith(sys.argv[1]))))
'''


def test_the_zip_runs_the_app_on_its_own_and_carries_no_test_or_local_code(package, tmp_path):
    archive = zipfile.ZipFile(package['dir'] / 'deployment.zip')
    names = archive.namelist()
    top_level = {name.split('/')[0].split('.')[0].split('-')[0] for name in names}
    assert top_level & FORBIDDEN_TOP_LEVEL == set()
    assert sorted(n for n in names if n.startswith('chalicelib/')) == sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / 'chalicelib').rglob('*.py'))
    archive.extractall(tmp_path)
    # -I -S: no site-packages and no environment, as a bare Lambda runtime: the zip alone must do.
    result = subprocess.run([sys.executable, '-I', '-S', '-c', PROBE, str(tmp_path)], cwd=tmp_path,
                            env={'AWS_DEFAULT_REGION': 'eu-west-3'}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = {name.split('.')[0] for name in json.loads(result.stdout)}
    assert {'app', 'chalice', 'chalicelib', 'pynamodb', 'botocore'} <= loaded
    assert loaded & FORBIDDEN_TOP_LEVEL == set()
