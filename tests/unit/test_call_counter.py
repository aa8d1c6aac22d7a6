"""The DynamoDB call counter that the cost tests and `make bench` share (tests/dynamodb_calls.py).

A real botocore client answered by botocore's Stubber: the counter's wrapper and hooks run on
the path every call takes, and no request leaves the process.
"""
from __future__ import annotations

import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.dynamodb_calls import DynamoDBCalls, ask_for_capacity

TABLE = 'chrono-unit'
KEY = {'pk': {'S': 'AGENDA#a'}, 'sk': {'S': 'cfg#agenda'}}
PUT = {'Put': {'TableName': TABLE, 'Item': KEY}}
CAPACITY_HOOK = {'before-parameter-build.dynamodb': ask_for_capacity}


def counted(monkeypatch, hooks=None) -> DynamoDBCalls:
    calls = DynamoDBCalls(hooks)
    monkeypatch.setattr(BaseClient, '_make_api_call', calls.wrap(BaseClient._make_api_call))
    return calls


@pytest.fixture
def dynamodb():
    client = botocore.session.get_session().create_client(
        'dynamodb', region_name='eu-west-3', aws_access_key_id='unit', aws_secret_access_key='unit')
    with Stubber(client) as stubber:
        yield client, stubber


def test_calls_are_counted_by_operation_with_the_capacity_they_report(dynamodb, monkeypatch):
    client, stubber = dynamodb
    stubber.add_response('get_item', {'ConsumedCapacity': {'TableName': TABLE, 'CapacityUnits': 1.0}})
    stubber.add_response('batch_get_item', {'Responses': {}, 'ConsumedCapacity': [
        {'TableName': TABLE, 'CapacityUnits': 0.5}, {'TableName': 'other', 'CapacityUnits': 1.5}]})
    stubber.add_response('transact_write_items', {'ConsumedCapacity': [{'TableName': TABLE, 'CapacityUnits': 6.0}]})
    stubber.add_response('describe_table', {'Table': {'TableName': TABLE}})
    calls = counted(monkeypatch)
    client.get_item(TableName=TABLE, Key=KEY)
    client.batch_get_item(RequestItems={TABLE: {'Keys': [KEY]}})
    client.transact_write_items(TransactItems=[PUT])
    client.describe_table(TableName=TABLE)
    assert dict(calls) == {'GetItem': 1, 'BatchGetItem': 1, 'TransactWriteItems': 1, 'DescribeTable': 1}
    assert (calls.read_units, calls.write_units) == (3.0, 6.0)
    assert calls.last['TransactWriteItems']['TransactItems'] == [PUT]
    calls.clear()
    assert (dict(calls), calls.read_units, calls.write_units) == ({}, 0.0, 0.0)


def test_install_counts_until_its_undo(dynamodb):
    client, stubber = dynamodb
    original = BaseClient._make_api_call
    stubber.add_response('get_item', {})
    stubber.add_response('get_item', {})
    calls = DynamoDBCalls()
    undo = calls.install()
    try:
        client.get_item(TableName=TABLE, Key=KEY)
    finally:
        undo()
    client.get_item(TableName=TABLE, Key=KEY)
    assert (dict(calls), BaseClient._make_api_call) == ({'GetItem': 1}, original)


def test_the_capacity_hook_asks_every_call_that_can_report_it(dynamodb, monkeypatch):
    """botocore serializes the parameters the hooks leave (`last` holds that very dict): the hook
    asked GetItem for the indexes' capacity too, and left DescribeTable, which cannot report it."""
    client, stubber = dynamodb
    stubber.add_response('get_item', {})
    stubber.add_response('describe_table', {'Table': {'TableName': TABLE}})
    calls = counted(monkeypatch, CAPACITY_HOOK)
    client.get_item(TableName=TABLE, Key=KEY, ReturnConsumedCapacity='TOTAL')
    client.describe_table(TableName=TABLE)
    assert calls.last == {'GetItem': {'TableName': TABLE, 'Key': KEY, 'ReturnConsumedCapacity': 'INDEXES'},
                          'DescribeTable': {'TableName': TABLE}}


def test_hooks_are_registered_once_per_client(dynamodb, monkeypatch):
    client, stubber = dynamodb
    seen = []
    for _ in range(3):
        stubber.add_response('get_item', {})
    counted(monkeypatch, {'before-parameter-build.dynamodb': lambda model, **_: seen.append(model.name)})
    for _ in range(3):
        client.get_item(TableName=TABLE, Key=KEY)
    assert seen == ['GetItem'] * 3


def test_injected_conflicts_cancel_the_next_transactions_only(dynamodb, monkeypatch):
    client, stubber = dynamodb
    calls = counted(monkeypatch)
    stubber.add_response('transact_write_items', {})
    calls.inject(2)
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            client.transact_write_items(TransactItems=[PUT, PUT])
        assert raised.value.response['Error']['Code'] == 'TransactionCanceledException'
        assert [r['Code'] for r in raised.value.response['CancellationReasons']] == ['TransactionConflict', 'None']
    assert client.transact_write_items(TransactItems=[PUT, PUT]) == {}
    assert dict(calls) == {'TransactWriteItems': 3}
