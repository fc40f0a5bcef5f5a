"""The edge role's HTTPS: certificates in its three modes, the Mozilla profile, headers, the redirect.

Each test gets its own edge (see test_edge_role.Edge) with TLS on, on free
ports of 127.0.0.1, and a fake app replica behind it. The ACME test runs
Pebble (Debian's package) on a free port, validating HTTP-01 against the edge.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from playbook_runs import ROOT, run_playbook
from test_edge_role import NGINX_IMAGE, NODE_IMAGE, Edge, docker, exists, failure_text, free_port

SSLYZE = os.path.join(ROOT, '.venv-sslyze', 'bin', 'sslyze')
MANAGED_HEADERS = {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
}


class TlsEdge(Edge):
    def __init__(self):
        super().__init__()
        self.https_port = free_port()
        self.tls_dir = self.base_dir + '/tls'
        self.vars.update(
            edge_tls_mode='selfsigned',
            edge_https_port=self.https_port,
            edge_tls_server_names=['localhost'],
        )

    def live(self, name):
        return os.path.join(self.tls_dir, 'live', name)


class Reply:
    def __init__(self, response):
        self.status = response.status
        self.headers = [(name.lower(), value) for name, value in response.getheaders()]
        self.body = response.read().decode()

    def header(self, name):
        values = [value for key, value in self.headers if key == name]
        assert len(values) <= 1, 'header %s sent %d times: %s' % (name, len(values), values)
        return values[0] if values else None


def https(port, path='/', cafile=None, context=None, host='localhost'):
    if context is None:
        context = ssl.create_default_context(cafile=cafile)
    for attempt in range(20):
        conn = http.client.HTTPSConnection(host, port, context=context, timeout=5)
        try:
            conn.request('GET', path)
            return Reply(conn.getresponse())
        except ConnectionError:
            if attempt == 19:
                raise
            time.sleep(0.5)
        finally:
            conn.close()
    raise AssertionError('unreachable')


def plain_http(port, path):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        conn.request('GET', path)
        return Reply(conn.getresponse())
    finally:
        conn.close()


def served_certificate(port, server_name='localhost'):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(('127.0.0.1', port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def https_status_as(port, server_name, path, cafile):
    """GET path from 127.0.0.1 as server_name (SNI, Host, certificate check): the status code."""
    context = ssl.create_default_context(cafile=cafile)
    request = 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % (path, server_name)
    with (
        socket.create_connection(('127.0.0.1', port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        tls.sendall(request.encode())
        data = b''
        while chunk := tls.recv(65536):
            data += chunk
    return int(data.split(b' ', 2)[1])


def running_as(edge):
    """{(uid, gid)} of the edge's processes, from the host; the master must be among them."""
    top = [line.split(None, 3)[1:] for line in docker('top', edge.id, '-o', 'pid,uid,gid,args').stdout.splitlines()[1:]]
    assert any(args.startswith('nginx: master process') for _uid, _gid, args in top), top
    return {(int(uid), int(gid)) for uid, gid, _args in top}


def changed(task):
    return task['hosts'].get('localhost', {}).get('changed')


def changed_tasks(run):
    tasks = [task for play in run.data['plays'] for task in play['tasks']]
    return {task['task']['name'].split(' : ')[-1] for task in tasks if changed(task)}


@pytest.fixture
def tls_edge():
    if not exists('image', NGINX_IMAGE) or not exists('image', NODE_IMAGE):
        pytest.skip('build the offline images first (make images)')
    edge = TlsEdge()
    edge.start_backend('a')
    edge.write_deploy_upstream('a')
    yield edge
    edge.remove()


# -- selfsigned ----------------------------------------------------------------


def test_selfsigned_https_meets_mozilla_intermediate_with_headers_on_every_response(tls_edge):
    edge = tls_edge
    checked = edge.run(check=True)
    assert checked.rc == 0, failure_text(checked)
    assert checked.stats['changed'] > 0
    assert not os.path.exists(edge.tls_dir) and not exists('container', edge.id)
    first = edge.run()
    assert first.rc == 0, failure_text(first)
    again = edge.run()
    assert again.rc == 0 and again.stats['changed'] == 0

    ca = os.path.join(edge.tls_dir, 'ca.crt')
    leaf = served_certificate(edge.https_port)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= datetime.timedelta(days=366)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ['localhost']
    # nginx, master included, runs as the role's host account, which alone (with root) reads the key.
    account = pwd.getpwnam('auraspeak-edge')
    for path, mode in ((edge.live(''), 0o750), (edge.live('privkey.pem'), 0o640)):
        info = os.stat(path)
        assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (mode, 0, account.pw_gid), path
    assert running_as(edge) == {(account.pw_uid, account.pw_gid)}
    assert not os.path.exists(edge.live('ca.key'))

    scan = subprocess.run(
        [
            SSLYZE,
            '--mozilla_config=intermediate',
            '--certinfo_ca_file=' + ca,
            'localhost:%d{127.0.0.1}' % edge.https_port,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert scan.returncode == 0, scan.stdout[-4000:] + scan.stderr[-2000:]
    assert 'OK - Compliant' in scan.stdout

    for path, status in (('/hello', 200), ('/missing', 404)):
        reply = https(edge.https_port, path, cafile=ca)
        assert reply.status == status
        assert json.loads(reply.body)['path'] == path
        for name, value in MANAGED_HEADERS.items():
            assert reply.header(name) == value, name
        assert reply.header('permissions-policy').startswith('accelerometer=()')
        assert reply.header('strict-transport-security') == 'max-age=63072000'
        assert reply.header('x-powered-by') is None
        assert reply.header('server') == 'nginx'

    redirect = plain_http(edge.port, '/hello?x=1')
    assert redirect.status == 308
    assert redirect.header('location') == 'https://127.0.0.1:%d/hello?x=1' % edge.https_port
    assert redirect.header('x-content-type-options') == 'nosniff'
    # The ACME challenge path is answered over HTTP, not redirected.
    assert plain_http(edge.port, '/.well-known/acme-challenge/none').status == 404


def test_check_mode_plans_a_new_account_then_the_edge_moves_to_it(tls_edge):
    # Also what the upgrade from a root nginx does: the account, the key's group and the container change.
    assert tls_edge.run().rc == 0
    before = running_as(tls_edge)
    other = 'itest-' + tls_edge.id[-8:]
    # A configuration change too, so that check mode validates it before the account exists.
    moved = {'edge_run_as': other, 'edge_keepalive_timeout': '30s'}
    try:
        checked = tls_edge.run(check=True, **moved)
        assert checked.rc == 0, failure_text(checked)
        # The key's new group cannot be named before the group exists; the apply below changes it.
        assert {'account | Create the user nginx runs as', 'container | Run the edge container'} <= changed_tasks(
            checked
        )
        with pytest.raises(KeyError):
            pwd.getpwnam(other)
        assert running_as(tls_edge) == before

        assert tls_edge.run(**moved).rc == 0
        account = pwd.getpwnam(other)
        assert running_as(tls_edge) == {(account.pw_uid, account.pw_gid)}
        assert os.stat(tls_edge.live('privkey.pem')).st_gid == account.pw_gid
        assert https(tls_edge.https_port, '/hello', cafile=os.path.join(tls_edge.tls_dir, 'ca.crt')).status == 200
        assert tls_edge.run(**moved).stats['changed'] == 0
    finally:
        subprocess.run(['userdel', other], capture_output=True, check=False)
        subprocess.run(['groupdel', other], capture_output=True, check=False)


def test_modern_profile_and_header_overrides(tls_edge):
    edge = tls_edge
    run = edge.run(
        edge_tls_profile='modern',
        edge_security_header_overrides={'X-Frame-Options': None, 'Content-Security-Policy': "default-src 'self'"},
        edge_hsts_include_subdomains=True,
        edge_hsts_preload=True,
    )
    assert run.rc == 0, failure_text(run)
    ca = os.path.join(edge.tls_dir, 'ca.crt')

    tls12 = ssl.create_default_context(cafile=ca)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        https(edge.https_port, '/', context=tls12)

    reply = https(edge.https_port, '/hello', cafile=ca)
    assert reply.status == 200
    assert reply.header('content-security-policy') == "default-src 'self'"
    # Removed from the edge's set: the app's own value passes through.
    assert reply.header('x-frame-options') == 'SAMEORIGIN'
    assert reply.header('strict-transport-security') == 'max-age=63072000; includeSubDomains; preload'


# -- provided ------------------------------------------------------------------


class Pki:
    """A root, an intermediate and leaves, made here for the provided mode."""

    def __init__(self):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self.issue('itest root', self.root_key, None, None, ca=True)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self.issue('itest intermediate', self.intermediate_key, self.root, self.root_key, ca=True)

    @staticmethod
    def issue(name, key, issuer, issuer_key, ca=False, sans=(), days=(-1, 90)):
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
            )
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256())

    def leaf(self, sans=('app.example.test', '*.example.test'), days=(-1, 90)):
        key = ec.generate_private_key(ec.SECP256R1())
        return self.issue(sans[0], key, self.intermediate, self.intermediate_key, sans=sans, days=days), key


def pem(*objects):
    out = b''
    for item in objects:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            out += item.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
    return out.decode()


@pytest.fixture(scope='module')
def pki():
    return Pki()


def provided_vars(chain, key, names=('app.example.test', 'api.example.test')):
    return {
        'edge_tls_mode': 'provided',
        'edge_tls_certificate': chain,
        'edge_tls_private_key': key,
        'edge_tls_server_names': list(names),
        'edge_sites': [{'name': 'app', 'server_names': list(names), 'upstream': 'itest_app'}],
    }


def mismatches(pki):
    leaf, key = pki.leaf()
    expired, expired_key = pki.leaf(days=(-30, -1))
    other_key = ec.generate_private_key(ec.SECP256R1())
    return {
        'not-a-certificate': (
            provided_vars('not a certificate', pem(key)),
            'edge_tls_certificate holds no PEM certificate',
        ),
        'key-of-another-certificate': (
            provided_vars(pem(leaf, pki.intermediate), pem(other_key)),
            'edge_tls_private_key does not match the first certificate of edge_tls_certificate',
        ),
        'chain-out-of-order': (
            provided_vars(pem(pki.intermediate, leaf), pem(key)),
            'edge_tls_certificate is not in chain order: certificate 1 (itest intermediate) was issued by itest root',
        ),
        'expired': (
            provided_vars(pem(expired, pki.intermediate), pem(expired_key)),
            'edge_tls_certificate: app.example.test expired on',
        ),
        'names-not-covered': (
            provided_vars(pem(leaf, pki.intermediate), pem(key), names=('app.example.test', 'app.other.test')),
            'edge_tls_certificate does not cover DNS:app.other.test of edge_tls_server_names',
        ),
    }


@pytest.mark.parametrize(
    'case', ['not-a-certificate', 'key-of-another-certificate', 'chain-out-of-order', 'expired', 'names-not-covered']
)
def test_provided_certificate_mismatch_is_refused_before_any_change(tls_edge, pki, case):
    extra, message = mismatches(pki)[case]
    run = tls_edge.run(**extra)
    assert run.rc != 0
    assert message in failure_text(run)
    assert run.stats['changed'] == 0
    assert not os.path.exists(tls_edge.tls_dir)
    assert not exists('container', tls_edge.id)


def test_provided_certificate_is_served_and_its_key_never_printed(tls_edge, pki):
    leaf, key = pki.leaf()
    extra = provided_vars(pem(leaf, pki.intermediate), pem(key))
    run = run_playbook('tests/integration/playbooks/edge_role.yml', dict(tls_edge.vars, **extra), diff=True)
    assert run.rc == 0, failure_text(run)
    key_body = pem(key).splitlines()[1]
    assert key_body not in run.stdout + run.stderr
    again = tls_edge.run(**extra)
    assert again.rc == 0 and again.stats['changed'] == 0

    root_file = os.path.join(tls_edge.base_dir, 'root.pem')
    with open(root_file, 'w', encoding='utf-8') as handle:
        handle.write(pem(pki.root))
    # Verified against the root alone: the intermediate is sent along, and the
    # wildcard covers api.example.test.
    for name in ('app.example.test', 'api.example.test'):
        assert https_status_as(tls_edge.https_port, name, '/hello', root_file) == 200
    assert served_certificate(tls_edge.https_port, 'app.example.test').serial_number == leaf.serial_number


# -- acme (Pebble) ---------------------------------------------------------------


@pytest.fixture
def pebble(tls_edge, tmp_path):
    """Pebble with a TLS certificate of a test CA, validating HTTP-01 on the edge's HTTP port."""
    if shutil.which('pebble') is None:
        pytest.skip('pebble is not installed (make setup)')
    pki = Pki()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue('localhost', key, pki.intermediate, pki.intermediate_key, sans=('localhost',))
    (tmp_path / 'pebble.pem').write_text(pem(cert, pki.intermediate))
    (tmp_path / 'pebble.key').write_text(pem(key))
    (tmp_path / 'ca.pem').write_text(pem(pki.root))
    port = free_port()
    config = {
        'pebble': {
            'listenAddress': '127.0.0.1:%d' % port,
            'managementListenAddress': '127.0.0.1:%d' % free_port(),
            'certificate': str(tmp_path / 'pebble.pem'),
            'privateKey': str(tmp_path / 'pebble.key'),
            'httpPort': tls_edge.port,
            'tlsPort': tls_edge.https_port,
            'ocspResponderURL': '',
            'externalAccountBindingRequired': False,
        }
    }
    (tmp_path / 'pebble.json').write_text(json.dumps(config))
    log = open(tmp_path / 'pebble.log', 'wb')  # noqa: SIM115 - open for the life of the process
    process = subprocess.Popen(
        ['pebble', '-config', str(tmp_path / 'pebble.json')],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PEBBLE_VA_NOSLEEP='1', PEBBLE_WFE_NONCEREJECT='0'),
    )
    for _attempt in range(50):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield {
        'edge_tls_mode': 'acme',
        'edge_acme_directory': 'https://localhost:%d/dir' % port,
        'edge_acme_terms_agreed': True,
        'edge_acme_email': 'ops@example.test',
        'edge_acme_ca_bundle': str(tmp_path / 'ca.pem'),
        'edge_acme_renew_cron_file': str(tmp_path / 'cron'),
        'edge_acme_renew_ansible_playbook': os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
    }
    process.terminate()
    process.wait(timeout=10)
    log.close()


def test_acme_http01_through_the_edge_then_no_renewal_until_due(tls_edge, pebble):
    first = tls_edge.run(**pebble)
    assert first.rc == 0, failure_text(first)
    issued = served_certificate(tls_edge.https_port)
    assert issued.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.startswith('Pebble Intermediate CA')

    again = tls_edge.run(**pebble)
    assert again.rc == 0 and again.stats['changed'] == 0
    assert served_certificate(tls_edge.https_port).serial_number == issued.serial_number

    # The schedule on the host runs the renewal playbook the role left there.
    with open(pebble['edge_acme_renew_cron_file'], encoding='utf-8') as handle:
        line = handle.read().strip().splitlines()[-1]
    renew_playbook = os.path.join(tls_edge.tls_dir, 'acme', 'renew.yml')
    assert line.startswith('17 3 * * * root ') and renew_playbook in line

    not_due = run_playbook(renew_playbook)
    assert not_due.rc == 0, failure_text(not_due)
    assert not_due.stats['changed'] == 0
    # Pebble's certificates last five years: asking for ten makes the renewal due.
    due = run_playbook(renew_playbook, {'edge_tls_renew_days': 3650})
    assert due.rc == 0, failure_text(due)
    assert due.stats['changed'] > 0
    renewed = served_certificate(tls_edge.https_port)
    assert renewed.serial_number != issued.serial_number
