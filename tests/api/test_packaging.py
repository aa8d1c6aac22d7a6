"""What the Lambda package carries: `import app` pulls in no test or local-stack code (style notes §7.4)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

# Top-level packages that only tests and the local stack may import.
FORBIDDEN_PACKAGES = ('moto', 'local', 'tests', 'pytest', '_pytest', 'hypothesis', 'responses', 'werkzeug',
                      'flask', 'boto3', 'mypy_boto3_dynamodb', 'cfnlint')
# boto3's and botocore's test stubs, and Chalice's own test client and dev server.
FORBIDDEN_MODULES = ('botocore.stub', 'boto3.testing', 'chalice.test', 'chalice.local', 'chalice.cli')

PROBE = '''
import json, sys
import app
assert app.app.app_name == "chrono"
print(json.dumps(sorted(sys.modules)))
'''


def imported_by_app(extra_env=None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTEST'))}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE='1', **(extra_env or {}))
    result = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules
            if m.split('.')[0] in FORBIDDEN_PACKAGES or any(m == f or m.startswith(f + '.') for f in FORBIDDEN_MODULES)]


def test_importing_app_loads_no_test_or_local_code():
    modules = imported_by_app()
    assert 'app' in modules and 'chalicelib.web.api' in modules and 'pynamodb.models' in modules
    assert forbidden(modules) == []


def test_importing_app_reads_no_configuration_and_needs_no_aws():
    """A cold start with no variables at all: importing must not fail (settings are read per call)."""
    modules = imported_by_app({'AWS_DEFAULT_REGION': 'eu-west-3', 'CHRONO_API_CLIENTS': 'not json'})
    assert forbidden(modules) == []


def test_requirements_of_the_lambda_hold_no_test_tool():
    lines = [line.split('#')[0].strip() for line in (ROOT / 'requirements.txt').read_text().splitlines()]
    names = {line.split('==')[0].split('[')[0].lower() for line in lines if line}
    # chalice too: `chalice package` adds its runtime itself; listed, its CLI would be vendored.
    assert names & {'moto', 'pytest', 'hypothesis', 'boto3', 'cfn-lint', 'flask', 'responses', 'chalice'} == set()
    assert 'pynamodb' in names
