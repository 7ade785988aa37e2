"""Real servers on 127.0.0.1 for the tests of remote datasets.

- :func:`start_s3`: moto's S3 (``python -m moto.server``) in a process of its
  own, with signature checking on (an IAM user made at start; a wrong secret
  key gets ``SignatureDoesNotMatch``), behind a :class:`CountingProxy`.
- :func:`start_azurite`: Azurite's blob service (``scripts/install-servers``
  installs it into ``.servers/``) with the well-known development account,
  behind a :class:`CountingProxy`.
- :func:`start_file_server`: an HTTP file server over a folder
  (``http_files.FileServer``: ``Range`` requests, ``HEAD``, an optional
  required ``Authorization`` header).

Every server binds port 0 (the system picks a free port, so pytest-xdist's
processes never collide), is waited for until it answers (at most
:data:`START_TIMEOUT` seconds; :class:`ServerStartError` carries the end of
its log otherwise) and counts the requests and the body bytes it sent per
request path (:class:`http_files.Traffic`), so a test can check that reading
two columns of a Parquet file fetched fewer bytes than the file. A server
process gets ``SIGKILL`` when the process that started it dies.

A missing program or package raises :class:`ServerUnavailable`; the fixtures
in ``tests/conftest.py`` turn it into a skip, or a failure under ``CI=true``
(:func:`unavailable`).
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from http_files import CountingProxy, FileServer, Traffic

ROOT = Path(__file__).resolve().parents[1]
AZURITE_BLOB = ROOT / ".servers" / "node_modules" / ".bin" / "azurite-blob"
"""Azurite's blob service, as ``scripts/install-servers`` installs it."""
START_TIMEOUT = 30.0
"""Seconds a server may take to answer after it was started."""
STOP_TIMEOUT = 10.0
"""Seconds a server may take to exit after ``SIGTERM``, before ``SIGKILL``."""

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's development account and its published key (Azurite's README)."""
S3_REGION = "us-east-1"
S3_SETUP_ACTIONS = 3
"""Requests moto answers without checking signatures (``INITIAL_NO_AUTH_ACTION_COUNT``):
the IAM calls that make the test user and its access key (:func:`_make_s3_user`)."""

_names = itertools.count(1)


class ServerUnavailable(Exception):
    """A server's program or client package is not installed; the message says which."""


class ServerStartError(RuntimeError):
    """A server did not start or did not answer in time; the message ends with its log's tail."""


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``; under ``CI=true``, fail it: CI must prove the server tests."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the server tests cannot run: {reason}")
    pytest.skip(reason)


def unique_name(prefix: str) -> str:
    """A bucket or container name no other test of any process uses: ``prefix``,
    this process's id and a counter (lower case, digits and dashes)."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def require_modules(*modules: str, hint: str) -> None:
    """Raise :class:`ServerUnavailable` naming the first of ``modules`` that is
    not importable; ``hint`` says how to install it."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise ServerUnavailable(f"the Python package {module!r} is missing ({hint})")


# ------------------------------------------------------------------ processes


def _death_signal() -> Any:
    """A ``preexec_fn`` that has the kernel send ``SIGKILL`` to the child when
    this thread ends (``prctl(PR_SET_PDEATHSIG)``), or None off Linux or off
    the main thread (the signal follows the starting *thread*)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)

    return preexec


class ServerProcess:
    """A server program in a process of its own, its output in a log file.

    :param name: what error messages call it.
    :param argv: the command line.
    :param log: the file its standard output and error go to.
    :param ready: a pattern with a ``port`` group, matched against the log:
        the line the server prints once it listens.
    :param env: extra environment variables.
    """

    def __init__(self, name: str, argv: list[str], log: Path, ready: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.ready = re.compile(ready)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.startup_seconds = 0.0

    def start(self, timeout: float = START_TIMEOUT) -> int:
        """Start the program and wait until it prints its port and accepts a
        connection there; returns the port. :raises ServerStartError: when it
        exits or does not answer within ``timeout`` seconds (then it is stopped)."""
        started = time.monotonic()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, preexec_fn=_death_signal())
        deadline = started + timeout
        try:
            self.port = self._wait_for_port(deadline, timeout)
            wait_until_listening(self.port, deadline, self.process, self.name)
        except ServerStartError as error:
            self.stop()
            raise ServerStartError(f"{error}\n{self.tail()}") from None
        self.startup_seconds = time.monotonic() - started
        return self.port

    def _wait_for_port(self, deadline: float, timeout: float) -> int:
        assert self.process is not None
        while True:
            match = self.ready.search(self.log.read_text(errors="replace"))
            if match:
                return int(match.group("port"))
            if self.process.poll() is not None:
                raise ServerStartError(f"{self.name} exited with code {self.process.returncode} before listening")
            if time.monotonic() > deadline:
                raise ServerStartError(f"{self.name} did not say it listens within {timeout:g} s")
            time.sleep(0.02)

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server's log, for error messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        last = text.splitlines()[-lines:]
        return f"last lines of {self.log}:\n" + "\n".join(f"    {line}" for line in last)

    def stop(self) -> None:
        """``SIGTERM``, then ``SIGKILL`` after :data:`STOP_TIMEOUT` seconds; waits for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until_listening(port: int, deadline: float, process: subprocess.Popen[bytes] | None = None,
                         name: str = "server") -> None:
    """Wait until 127.0.0.1:``port`` accepts a connection.

    :raises ServerStartError: when ``process`` exits first or ``deadline``
        (``time.monotonic()``) passes.
    """
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise ServerStartError(f"{name} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"{name} does not accept connections on 127.0.0.1:{port}")
        time.sleep(0.02)


# ------------------------------------------------------------------------- S3


@dataclass
class S3Server:
    """moto's S3 behind a counting proxy.

    ``endpoint_url`` is the proxy's (what readers use: its :attr:`traffic` counts
    per ``/bucket/key``); uploads through :meth:`put` go to moto directly and are
    not counted. ``key`` and ``secret`` are a real access key of moto's IAM:
    requests signed with another secret are refused.
    """

    process: ServerProcess
    proxy: CountingProxy
    key: str
    secret: str
    region: str = S3_REGION

    @property
    def endpoint_url(self) -> str:
        return self.proxy.url

    @property
    def direct_url(self) -> str:
        """moto itself, bypassing the proxy (nothing counted)."""
        return f"http://127.0.0.1:{self.process.port}"

    @property
    def traffic(self) -> Traffic:
        return self.proxy.traffic

    def storage_options(self, secret: str | None = None) -> dict[str, Any]:
        """``s3fs.S3FileSystem`` keyword arguments for this server (``secret``
        replaces the right secret key, to test a refusal)."""
        return {"key": self.key, "secret": self.secret if secret is None else secret,
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region}}

    def client(self) -> Any:
        """A boto3 S3 client talking to moto directly."""
        import boto3

        return boto3.client("s3", endpoint_url=self.direct_url, region_name=self.region,
                            aws_access_key_id=self.key, aws_secret_access_key=self.secret)

    def new_bucket(self, prefix: str = "data") -> str:
        """Create a bucket no other test uses; returns its name."""
        name = unique_name(prefix)
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes | Path) -> None:
        """Store ``data`` (bytes, or a file's contents) as ``s3://bucket/key``."""
        body = data.read_bytes() if isinstance(data, Path) else data
        self.client().put_object(Bucket=bucket, Key=key, Body=body)

    def put_folder(self, bucket: str, prefix: str, folder: Path) -> list[str]:
        """Store every file under ``folder`` as ``prefix/<relative path>``; returns the keys, sorted."""
        keys = []
        for path, relative in _files(folder):
            key = f"{prefix.rstrip('/')}/{relative}" if prefix else relative
            self.put(bucket, key, path)
            keys.append(key)
        return sorted(keys)

    def bytes_sent(self, bucket: str, key: str) -> int:
        """Body bytes the proxy sent for ``s3://bucket/key`` so far."""
        return self.traffic.bytes_sent(f"/{bucket}/{key}")

    def requests(self, bucket: str, key: str) -> int:
        """Requests the proxy forwarded for ``s3://bucket/key`` so far."""
        return self.traffic.requests(f"/{bucket}/{key}")

    def stop(self) -> None:
        self.proxy.stop()
        self.process.stop()


def start_s3(workdir: Path) -> S3Server:
    """Start moto's S3 server (log in ``workdir``) with signature checking on,
    and a counting proxy in front of it.

    :raises ServerUnavailable: moto's server or boto3 is not installed.
    :raises ServerStartError: it did not answer within :data:`START_TIMEOUT` s.
    """
    require_modules("moto", "flask", "flask_cors", "boto3", hint="pip install -e '.[test]'")
    process = ServerProcess(
        "moto's S3 server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        workdir / "moto.log", r"Running on http://127\.0\.0\.1:(?P<port>\d+)",
        env={"INITIAL_NO_AUTH_ACTION_COUNT": str(S3_SETUP_ACTIONS), "MOTO_PORT": "0"})
    process.start()
    try:
        key, secret = _make_s3_user(f"http://127.0.0.1:{process.port}")
    except Exception as error:
        process.stop()
        raise ServerStartError(f"moto's IAM did not make the test user: {error}\n{process.tail()}") from error
    return S3Server(process, CountingProxy(process.port), key, secret)


def _make_s3_user(endpoint: str) -> tuple[str, str]:
    """In :data:`S3_SETUP_ACTIONS` IAM requests: a user allowed everything and
    its access key. Returns ``(key id, secret key)``."""
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name=S3_REGION,
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="tests")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="tests", PolicyName="everything", PolicyDocument=json.dumps(policy))
    access = iam.create_access_key(UserName="tests")["AccessKey"]
    return str(access["AccessKeyId"]), str(access["SecretAccessKey"])


# --------------------------------------------------------------------- Azurite


@dataclass
class Azurite:
    """Azurite's blob service behind a counting proxy, with the development
    account :data:`AZURITE_ACCOUNT`.

    :attr:`connection_string` points at the proxy (its :attr:`traffic` counts
    per ``/devstoreaccount1/container/blob``); uploads through :meth:`put` go
    to Azurite directly and are not counted.
    """

    process: ServerProcess
    proxy: CountingProxy
    account: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    @property
    def blob_endpoint(self) -> str:
        return f"{self.proxy.url}/{self.account}"

    @property
    def traffic(self) -> Traffic:
        return self.proxy.traffic

    def connection_string(self, account_key: str | None = None, *, direct: bool = False) -> str:
        """The connection string of the account (``account_key`` replaces the
        right key, to test a refusal; ``direct`` bypasses the proxy)."""
        endpoint = f"http://127.0.0.1:{self.process.port}/{self.account}" if direct else self.blob_endpoint
        key = self.account_key if account_key is None else account_key
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={key};"
                f"BlobEndpoint={endpoint};")

    def storage_options(self, account_key: str | None = None) -> dict[str, Any]:
        """``adlfs.AzureBlobFileSystem`` keyword arguments for this server."""
        return {"connection_string": self.connection_string(account_key)}

    def service(self) -> Any:
        """An ``azure.storage.blob.BlobServiceClient`` talking to Azurite directly."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string(direct=True))

    def new_container(self, prefix: str = "data") -> str:
        """Create a container no other test uses; returns its name."""
        name = unique_name(prefix)
        self.service().create_container(name)
        return name

    def put(self, container: str, name: str, data: bytes | Path) -> None:
        """Store ``data`` (bytes, or a file's contents) as blob ``name`` of ``container``."""
        body = data.read_bytes() if isinstance(data, Path) else data
        self.service().get_blob_client(container, name).upload_blob(body, overwrite=True)

    def put_folder(self, container: str, prefix: str, folder: Path) -> list[str]:
        """Store every file under ``folder`` as ``prefix/<relative path>``; returns the blob names, sorted."""
        names = []
        for path, relative in _files(folder):
            name = f"{prefix.rstrip('/')}/{relative}" if prefix else relative
            self.put(container, name, path)
            names.append(name)
        return sorted(names)

    def bytes_sent(self, container: str, name: str) -> int:
        """Body bytes the proxy sent for blob ``name`` of ``container`` so far."""
        return self.traffic.bytes_sent(f"/{self.account}/{container}/{name}")

    def requests(self, container: str, name: str) -> int:
        """Requests the proxy forwarded for blob ``name`` of ``container`` so far."""
        return self.traffic.requests(f"/{self.account}/{container}/{name}")

    def stop(self) -> None:
        self.proxy.stop()
        self.process.stop()


def start_azurite(workdir: Path) -> Azurite:
    """Start Azurite's blob service on a free port, its data and log in
    ``workdir``, and a counting proxy in front of it.

    :raises ServerUnavailable: Azurite (``scripts/install-servers``) or
        azure-storage-blob is not installed.
    :raises ServerStartError: it did not answer within :data:`START_TIMEOUT` s.
    """
    if not os.access(AZURITE_BLOB, os.X_OK):
        raise ServerUnavailable(f"{AZURITE_BLOB.relative_to(ROOT)} is missing (scripts/install-servers installs Azurite)")
    require_modules("azure.storage.blob", hint="pip install -e '.[test]'")
    location = workdir / "azurite"
    location.mkdir(parents=True, exist_ok=True)
    process = ServerProcess(
        "Azurite", [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location),
                    "--silent", "--skipApiVersionCheck", "--loose"],
        workdir / "azurite.log", r"successfully listens on http://127\.0\.0\.1:(?P<port>\d+)")
    process.start()
    return Azurite(process, CountingProxy(process.port))


# ------------------------------------------------------------------------ HTTP


def start_file_server(root: Path, authorization: str | None = None) -> FileServer:
    """An HTTP file server over ``root`` on a free port (a thread of this process).

    :param authorization: when given, the ``Authorization`` header every
        request must carry (others get 401).
    """
    server = FileServer(root, authorization=authorization)
    wait_until_listening(server.port, time.monotonic() + START_TIMEOUT, name="the file server")
    return server


def _files(folder: Path) -> Iterable[tuple[Path, str]]:
    """The files under ``folder`` with their paths relative to it (``/``-separated), sorted."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.relative_to(folder).as_posix()
