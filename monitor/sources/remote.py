"""Objects of a datastore: S3-compatible buckets, Azure Blob containers, HTTP(S).

Every object store is reached through an ``fsspec`` filesystem (``s3fs``,
``adlfs``, fsspec's HTTP filesystem), made from a datastore's configuration
(:mod:`monitor.config.datastores`) or, for a bare URL, from the standard
environment configuration (the AWS variables, ``AWS_ENDPOINT_URL`` included;
``AZURE_STORAGE_CONNECTION_STRING``). An object listed from it is a
:class:`RemoteFile`: what the file readers of :mod:`monitor.sources.files` read
in place of a local path (Parquet with ranged reads of the footer and of the
column chunks asked for; CSV and JSON Lines as a stream).

Errors are :class:`~monitor.errors.SourceError`\\ s naming the datastore and the
object or pattern, with the client's first line of error; secret values of the
configuration are masked out of that line, and the client's exception is not
chained (its text and its request may carry a signed URL).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from monitor.errors import ConfigError, SourceError
from monitor.sources.inputs import InputStat

__all__ = ["ObjectStore", "RemoteFile", "is_url", "object_store", "read_secret"]

SCHEMES = {"s3": "s3", "s3a": "s3", "az": "azure_blob", "abfs": "azure_blob", "abfss": "azure_blob",
           "http": "http", "https": "http"}
"""URL scheme -> the datastore kind that reads it."""
_INSTALL = {"s3": "s3", "azure_blob": "azure", "http": "http"}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SIGNATURE = re.compile(r"((?:sig|signature|X-Amz-Signature|X-Amz-Credential|AccountKey|SharedAccessSignature)=)"
                        r"[^&;\s'\"]+", re.IGNORECASE)
CLIENT_LOGGERS = ("botocore", "aiobotocore", "s3fs", "fsspec", "azure", "adlfs", "aiohttp", "urllib3",
                  "sqlalchemy.engine")
"""Loggers of the storage clients, kept at WARNING: their INFO and DEBUG lines
carry request URLs (signed ones included) and headers."""
for _name in CLIENT_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)

SEQUENTIAL_BLOCK = 16 << 20
"""Bytes fetched per request when a text file is streamed."""


def is_url(path: str) -> bool:
    """True for ``scheme://...``, not a local path."""
    return _URL.match(path) is not None


@dataclass(frozen=True)
class RemoteFile:
    """One object of an object store, read in place of a local file.

    :ivar fs: the fsspec filesystem it is read with (picklable: worker processes
        open it themselves).
    :ivar key: its path in ``fs`` (``bucket/key``, ``container/blob`` or the URL).
    :ivar url: its URL (``s3://bucket/key``), shown in messages.
    :ivar size: bytes.
    :ivar version: ETag or last-modified time, as the store reports it ("" if none).
    :ivar datastore: the datastore's name (None for a URL read with the environment's configuration).
    """

    key: str
    url: str
    size: int
    version: str
    datastore: str | None = None
    fs: Any = field(default=None, compare=False, repr=False)
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"datastore {self.datastore!r}: {self.url}" if self.datastore else self.url

    def __lt__(self, other: RemoteFile) -> bool:
        return self.url < other.url

    @property
    def name(self) -> str:
        """The last part of the key."""
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        """The key's last extension (``.gz``)."""
        return PurePosixPath(self.key).suffix

    @property
    def suffixes(self) -> list[str]:
        """The key's extensions (``['.csv', '.gz']``)."""
        return PurePosixPath(self.key).suffixes

    def resolve(self) -> RemoteFile:
        """Itself (a remote object has one name)."""
        return self

    def stat(self) -> InputStat:
        """``st_size`` (bytes) and ``st_mtime_ns`` (0: the version stands for it)."""
        return InputStat(self.size)

    def fingerprint_line(self) -> str:
        """What the ``metadata`` fingerprint hashes of the object: URL, size, version."""
        return f"{self.url}\0{self.size}\0{self.version}\n"

    def open(self, *, sequential: bool = False) -> Any:
        """A binary file object over the object: for ``sequential`` reading
        (text formats, hashing) with read-ahead blocks of
        :data:`SEQUENTIAL_BLOCK`; else with no cache, so each read fetches
        only the bytes asked for (a Parquet footer, then column chunks).

        :raises SourceError: naming the object when it cannot be opened.
        """
        kwargs: dict[str, Any] = ({"block_size": SEQUENTIAL_BLOCK, "cache_type": "readahead"} if sequential
                                  else {"cache_type": "none"})
        if self.size > 0 and type(self.fs).__name__ in ("S3FileSystem", "HTTPFileSystem"):
            kwargs["size"] = self.size  # known from the listing: no HEAD request per open
        try:
            return _Guarded(self.fs.open(self.key, "rb", **kwargs), self)
        except Exception as exc:  # noqa: BLE001 - every client error becomes a SourceError
            raise self.error("cannot open", exc) from None

    def error(self, doing: str, exc: BaseException) -> SourceError:
        """A SourceError ``"<datastore>: <url>: <doing>: <first line of exc>"``, secrets masked."""
        return SourceError(f"{self}: {doing}: {clean_message(exc, self.secrets)}")


class _Guarded(io.RawIOBase):
    """A remote file whose client errors surface as ``OSError`` with secrets masked."""

    def __init__(self, raw: Any, remote: RemoteFile) -> None:
        super().__init__()
        self._raw, self._remote = raw, remote

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._call(self._raw.seek, offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def size(self) -> int:
        return self._remote.size

    def readinto(self, buffer: Any) -> int:
        data = self._call(self._raw.read, len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        return bytes(self._call(self._raw.read, size))

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - surfaced as OSError, secrets masked
            raise OSError(f"{self._remote}: {clean_message(exc, self._remote.secrets)}") from None

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def clean_message(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The first line of an exception's text, with each of ``secrets`` and any
    signature-like query parameter replaced by ``***``."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", text)


@dataclass(frozen=True)
class ObjectStore:
    """An object store to list and read: a filesystem and where keys start.

    :ivar name: the datastore's name (None: a URL's store from the environment).
    :ivar kind: ``s3``, ``azure_blob`` or ``http``.
    :ivar root: what a dataset's relative path is joined to (``bucket``,
        ``container`` or the base URL); "" for URLs.
    """

    name: str | None
    kind: str
    root: str
    fs: Any = field(compare=False, repr=False)
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"datastore {self.name!r} ({self.kind})" if self.name else f"{self.kind} (from the environment)"

    def key_of(self, path: str) -> str:
        """The filesystem path of a dataset path: a URL as it is (scheme left
        out for buckets and containers), else joined to :attr:`root`.

        :raises SourceError: for a URL of another bucket, container or scheme.
        """
        match = _URL.match(path)
        if match is None:
            rel = path.lstrip("/")
            return f"{self.root.rstrip('/')}/{rel}" if self.root else rel
        if SCHEMES.get(match.group(1).lower()) != self.kind:
            raise SourceError(f"{self}: {path} is not a {self.kind} URL")
        if self.kind == "http":
            return path
        key = path[match.end():]
        if self.root and key.split("/", 1)[0] != self.root:
            raise SourceError(f"{self}: {path} is outside {self.root!r}")
        return key

    def url_of(self, key: str) -> str:
        """The URL of a filesystem path."""
        if self.kind == "http" or is_url(key):
            return key
        return f"{'s3' if self.kind == 's3' else 'az'}://{key}"

    def files(self, patterns: Sequence[str], fmt: str | None, has_format: Any) -> list[RemoteFile]:
        """Expand keys, prefixes ("folders", recursively: objects of the format
        only) and globs into objects, sorted by URL, without duplicates.

        :param has_format: ``(name, fmt) -> bool``, whether an object found under
            a prefix is data of the format.
        :raises SourceError: naming the datastore and each pattern that matches
            nothing, or the client's error (unreachable store, bad credential,
            missing bucket).
        """
        found: dict[str, RemoteFile] = {}
        for pattern in patterns:
            key = self.key_of(pattern)
            matches = self._expand(pattern, key, fmt, has_format)
            if not matches:
                what = "pattern matches no object" if _has_magic(key) else "object not found"
                root = key.split("/", 1)[0]
                if self.kind != "http" and self._info(root) is None:
                    what = f"{'bucket' if self.kind == 's3' else 'container'} {root!r} not found"
                raise SourceError(f"{self}: {self.url_of(key)}: {what}")
            for remote in matches:
                found.setdefault(remote.url, remote)
        return [found[k] for k in sorted(found)]

    def _expand(self, pattern: str, key: str, fmt: str | None, has_format: Any) -> list[RemoteFile]:
        try:
            if _has_magic(key) and self.kind != "http":
                infos = self.fs.glob(key, detail=True)
                return [self._remote(k, i) for k, i in sorted(infos.items()) if i.get("type") != "directory"]
            info = self._info(key)
            if info is None:
                return []
            if info.get("type") == "directory" and self.kind != "http":
                infos = self.fs.find(key, detail=True)
                return [self._remote(k, i) for k, i in sorted(infos.items())
                        if not PurePosixPath(k).name.startswith(".") and has_format(k, fmt)]
            return [self._remote(key, info)]
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - every client error becomes a SourceError
            raise SourceError(f"{self}: cannot list {self.url_of(key)}: {clean_message(exc, self.secrets)}") from None

    def _info(self, key: str) -> dict[str, Any] | None:
        """The object's or prefix's info; None when it does not exist.

        :raises SourceError: when the store cannot be reached (fsspec's HTTP
            filesystem reports a refused connection as a missing file: its cause tells).
        """
        try:
            info: dict[str, Any] = self.fs.info(key)
        except FileNotFoundError as exc:
            cause = _failure_cause(exc)
            if cause is not None:
                raise SourceError(f"{self}: cannot reach {self.url_of(key)}: "
                                  f"{clean_message(cause, self.secrets)}") from None
            return None
        return info

    def _remote(self, key: str, info: dict[str, Any]) -> RemoteFile:
        key = info.get("name", key) if self.kind != "http" else key
        version = next((str(info[k]) for k in ("ETag", "etag", "LastModified", "last_modified", "mtime")
                        if info.get(k)), "")
        return RemoteFile(key, self.url_of(key), int(info.get("size") or 0), version.strip('"'),
                          self.name, self.fs, self.secrets)

    def check(self) -> None:
        """Reach the store: list the bucket, container or base URL.

        :raises SourceError: naming the datastore and the client's error.
        """
        try:
            if self.kind == "http":
                self._info(self.root)  # a base URL without an index page is fine; a refused connection is not
            else:
                self.fs.ls(self.root, detail=False)
        except SourceError:
            raise
        except FileNotFoundError:
            raise SourceError(f"{self}: {self.url_of(self.root)}: bucket or container not found") from None
        except Exception as exc:  # noqa: BLE001 - every client error becomes a SourceError
            raise SourceError(f"{self}: cannot reach {self.url_of(self.root)}: "
                              f"{clean_message(exc, self.secrets)}") from None


def _failure_cause(exc: BaseException) -> BaseException | None:
    """The error under a ``FileNotFoundError`` that is not "not found": a
    refused or timed-out connection, or an HTTP status other than 404 (401,
    403, 5xx); None when it means what it says."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        status = getattr(seen, "status", None)
        if isinstance(status, int):
            return None if status in (404, 410) else seen
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in (
                "ClientConnectorError", "ServerDisconnectedError", "ServerTimeoutError", "ClientOSError"):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _has_magic(key: str) -> bool:
    return any(c in key for c in "*?[")


def object_store(name: str | None, config: Any = None, url: str | None = None) -> ObjectStore:
    """The :class:`ObjectStore` of a datastore configuration, or of a URL's
    scheme with the environment's configuration when ``config`` is None.

    :raises SourceError: when the client package is not installed
        (``pip install 'drift-monitor[s3]'``) or the URL's scheme is not an object store's.
    :raises ConfigError: when a ``*_file`` secret cannot be read.
    """
    if config is None:
        match = _URL.match(url or "")
        kind = SCHEMES.get(match.group(1).lower()) if match else None
        if match is None or kind is None:
            raise SourceError(f"{url}: not an s3://, az:// or http(s):// URL")
        return ObjectStore(None, kind, "", _environment_fs(kind, match.group(1).lower()))
    where = f"datastore {name!r}"
    if config.kind == "s3":
        fs, secrets = _s3(config, where)
        return ObjectStore(name, "s3", config.bucket, fs, secrets)
    if config.kind == "azure_blob":
        fs, secrets = _azure(config, where)
        return ObjectStore(name, "azure_blob", config.container, fs, secrets)
    if config.kind == "http":
        fs, secrets = _http(config, where)
        return ObjectStore(name, "http", config.base_url.rstrip("/") + "/", fs, secrets)
    raise SourceError(f"{where} is {getattr(config, 'kind', '?')}: it holds no files (give a query)")


def read_secret(value: Any, file: str | None, where: str) -> str | None:
    """A secret of a datastore's configuration: its value (a
    ``pydantic.SecretStr``), or the content of its ``*_file`` (trailing newline
    stripped), or None when neither is set.

    :param where: what the secret is, for the error (``"datastore 'lake' secret_access_key_file"``).
    :raises ConfigError: when the file cannot be read (its path named, never its content).
    """
    if value is not None:
        return str(value.get_secret_value())
    if file is None:
        return None
    try:
        with open(file, encoding="utf-8") as fh:
            return fh.read().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read {file}: {exc.strerror or type(exc).__name__}"]) from None


def _import(kind: str, module: str, where: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SourceError(f"{where} ({kind}) needs the package {module}: "
                          f"pip install 'drift-monitor[{_INSTALL[kind]}]'") from None


def _s3(config: Any, where: str) -> tuple[Any, tuple[str, ...]]:
    s3fs = _import("s3", "s3fs", where)
    secret = read_secret(config.secret_access_key, config.secret_access_key_file, f"{where} secret_access_key_file")
    token = read_secret(config.session_token, config.session_token_file, f"{where} session_token_file")
    kwargs: dict[str, Any] = {"anon": config.anonymous, "skip_instance_cache": True}
    if config.endpoint_url:
        kwargs["endpoint_url"] = config.endpoint_url
    if config.region:
        kwargs["client_kwargs"] = {"region_name": config.region}
    if config.access_key_id:
        kwargs.update(key=config.access_key_id, secret=secret, token=token)
    if config.profile:
        kwargs["profile"] = config.profile
    kwargs["config_kwargs"] = {"retries": {"max_attempts": 2}, "connect_timeout": 10, "read_timeout": 60}
    return s3fs.S3FileSystem(**kwargs), tuple(s for s in (secret, token) if s)


def _azure(config: Any, where: str) -> tuple[Any, tuple[str, ...]]:
    adlfs = _import("azure_blob", "adlfs", where)
    conn = read_secret(config.connection_string, config.connection_string_file, f"{where} connection_string_file")
    key = read_secret(config.account_key, config.account_key_file, f"{where} account_key_file")
    sas = read_secret(config.sas_token, config.sas_token_file, f"{where} sas_token_file")
    kwargs: dict[str, Any] = {"skip_instance_cache": True, "connection_timeout": 10}
    if conn is None and config.account_url:
        # an endpoint of its own (a custom domain, the emulator's http://host:port/account): a
        # connection string carries it, with the key or the signature, whatever its scheme
        account = config.account_name or _account_of(config.account_url)
        conn = f"BlobEndpoint={config.account_url.rstrip('/')};AccountName={account};" + (
            f"AccountKey={key};" if key else f"SharedAccessSignature={sas.lstrip('?')};" if sas else "")
    if conn:
        kwargs["connection_string"] = conn
    else:
        kwargs.update(account_name=config.account_name, account_key=key, sas_token=sas)
    secrets = [s for s in (conn, key, sas) if s]
    if conn:
        secrets += [m.group(1) for m in re.finditer(r"AccountKey=([^;]+)", conn)]
    return adlfs.AzureBlobFileSystem(**kwargs), tuple(secrets)


def _account_of(url: str) -> str:
    host = re.sub(r"^https?://", "", url).split("/", 1)
    if len(host) > 1 and host[1].strip("/"):
        return host[1].strip("/").split("/")[0]  # emulator style: http://127.0.0.1:10000/ACCOUNT
    return host[0].split(".", 1)[0]


def _http(config: Any, where: str) -> tuple[Any, tuple[str, ...]]:
    fsspec = _import("http", "fsspec", where)
    _import("http", "aiohttp", where)
    headers = {k: v.get_secret_value() for k, v in config.headers.items()}
    for header, file in config.headers_file.items():
        headers[header] = read_secret(None, file, f"{where} headers_file.{header}") or ""
    import aiohttp

    fs = fsspec.filesystem("http", skip_instance_cache=True, client_kwargs={
        "headers": headers, "timeout": aiohttp.ClientTimeout(total=config.timeout)})
    return fs, tuple(v for v in headers.values() if v)


def _environment_fs(kind: str, scheme: str) -> Any:
    where = f"{scheme}:// URL"
    if kind == "s3":
        return _import("s3", "s3fs", where).S3FileSystem(skip_instance_cache=True)
    if kind == "azure_blob":
        import os

        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        adlfs = _import("azure_blob", "adlfs", where)
        if conn:
            return adlfs.AzureBlobFileSystem(connection_string=conn, skip_instance_cache=True)
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise ConfigError([f"{where}: set AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT_NAME), "
                               "or name a datastore"])
        return adlfs.AzureBlobFileSystem(account_name=account, skip_instance_cache=True)
    _import("http", "aiohttp", where)
    return _import("http", "fsspec", where).filesystem("http", skip_instance_cache=True)
