"""The datastores section: where data lives outside the local disk, and how to reach it.

A datastore is connection information kept once (Azure ML's datastore model):
an S3-compatible bucket, an Azure Blob container, an HTTP(S) base URL or an SQL
database. Datasets name it (``datasets.NAME.datastore``) with a ``path`` inside
it (objects, files) or a ``query`` (SQL).

Secrets never have to be written in the file: every secret field takes
``${ENV}`` (interpolated when the file is read) or a ``*_file`` variant naming a
file that holds it (Docker and Kubernetes secrets), read when the datastore is
connected, so a rotated secret is used at the next snapshot. Secret values are
:class:`pydantic.SecretStr`: a dump or ``repr`` of the configuration shows
``**********``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, TypeAdapter, model_validator

from monitor.config.datasets import _Model

__all__ = [
    "AzureBlobDatastore", "DatastoreConfig", "HttpDatastore", "QdrantDatastore", "S3Datastore", "SECRET_FIELDS", "SqlDatastore",
    "datastore_from_json", "datastore_to_json",
]

SECRET_FIELDS = ("secret_access_key", "session_token", "connection_string", "account_key", "sas_token", "password",
                 "url", "api_key")
"""Fields that may hold a secret, each with a ``<field>_file`` variant."""


def _one_of(model: _Model, *fields: str) -> None:
    """Refuse a model that sets both ``field`` and ``field_file``."""
    for name in fields:
        if getattr(model, name) is not None and getattr(model, f"{name}_file") is not None:
            raise ValueError(f"set {name} or {name}_file, not both")


class _Datastore(_Model):
    def resolved(self, base: Path) -> _Datastore:
        """A copy whose relative ``*_file`` paths are resolved against ``base``."""
        update = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("_file") and isinstance(value, str):
                path = Path(os.path.expanduser(value))
                update[name] = os.path.normpath(path if path.is_absolute() else base / path)
        return self.model_copy(update=update)


class S3Datastore(_Datastore):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, moto ...), read with ``s3fs``.

    Without keys, the standard AWS chain applies: ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the
    shared files, instance roles; ``AWS_ENDPOINT_URL`` when ``endpoint_url`` is unset.
    """

    kind: Literal["s3"] = Field(description="s3: an S3-compatible bucket")
    bucket: str = Field(min_length=1, description="the bucket; dataset paths are keys (globs, prefixes) inside it")
    endpoint_url: str | None = Field(default=None, description="the endpoint of an S3-compatible service")
    region: str | None = Field(default=None, description="the bucket's region")
    access_key_id: str | None = Field(default=None, description="access key id (else the AWS chain)")
    secret_access_key: SecretStr | None = Field(default=None, description="secret access key, e.g. ${AWS_SECRET}")
    secret_access_key_file: str | None = Field(default=None, description="a file holding the secret access key")
    session_token: SecretStr | None = Field(default=None, description="session token of temporary credentials")
    session_token_file: str | None = Field(default=None, description="a file holding the session token")
    profile: str | None = Field(default=None, description="a profile of the AWS shared configuration files")
    anonymous: bool = Field(default=False, description="unsigned requests (public buckets)")

    @model_validator(mode="after")
    def _check(self) -> S3Datastore:
        _one_of(self, "secret_access_key", "session_token")
        if (self.access_key_id is None) != (self.secret_access_key is None and self.secret_access_key_file is None):
            raise ValueError("access_key_id and secret_access_key (or secret_access_key_file) go together")
        return self


class AzureBlobDatastore(_Datastore):
    """An Azure Blob Storage container (or the Azurite emulator), read with ``adlfs``.

    Credentials: ``connection_string``, or ``account_name`` with ``account_key``
    or ``sas_token``; with none, ``AZURE_STORAGE_CONNECTION_STRING`` from the
    environment, else Azure's default credential chain.
    """

    kind: Literal["azure_blob"] = Field(description="azure_blob: an Azure Blob container")
    container: str = Field(min_length=1, description="the container; dataset paths are blob names (globs, prefixes)")
    account_name: str | None = Field(default=None, description="the storage account")
    account_url: str | None = Field(
        default=None, description="the blob endpoint, e.g. https://ACCOUNT.blob.core.windows.net")
    connection_string: SecretStr | None = Field(default=None, description="a connection string, e.g. ${AZ_CONN}")
    connection_string_file: str | None = Field(default=None, description="a file holding the connection string")
    account_key: SecretStr | None = Field(default=None, description="the account key")
    account_key_file: str | None = Field(default=None, description="a file holding the account key")
    sas_token: SecretStr | None = Field(default=None, description="a shared access signature")
    sas_token_file: str | None = Field(default=None, description="a file holding the shared access signature")

    @model_validator(mode="after")
    def _check(self) -> AzureBlobDatastore:
        _one_of(self, "connection_string", "account_key", "sas_token")
        has_conn = self.connection_string is not None or self.connection_string_file is not None
        has_key = any(getattr(self, f) is not None for f in
                      ("account_key", "account_key_file", "sas_token", "sas_token_file"))
        if has_key and self.account_name is None and self.account_url is None:
            raise ValueError("an account_key or sas_token needs account_name or account_url")
        if has_conn and (has_key or self.account_url is not None):
            raise ValueError("a connection_string already names the account and its key: leave the others out")
        return self


class HttpDatastore(_Datastore):
    """Files served over HTTP(S), read with fsspec's HTTP filesystem (ranged
    requests when the server answers them)."""

    kind: Literal["http"] = Field(description="http: files over HTTP(S)")
    base_url: str = Field(pattern=r"^https?://[^/\s]+", description="dataset paths are relative to this URL")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="headers of every request, e.g. {Authorization: 'Bearer ${TOKEN}'}")
    headers_file: dict[str, str] = Field(
        default_factory=dict, description="header name -> a file holding its value")
    timeout: float = Field(default=60.0, gt=0, description="seconds to wait for a response")

    @model_validator(mode="after")
    def _check(self) -> HttpDatastore:
        both = sorted(set(self.headers) & set(self.headers_file))
        if both:
            raise ValueError(f"header {both[0]!r} is in both headers and headers_file")
        return self

    def resolved(self, base: Path) -> HttpDatastore:
        """A copy whose relative ``headers_file`` paths are resolved against ``base``."""
        files = {k: os.path.normpath(p if Path(p).is_absolute() else base / os.path.expanduser(p))
                 for k, p in self.headers_file.items()}
        return self.model_copy(update={"headers_file": files})


class SqlDatastore(_Datastore):
    """An SQL database reached through an SQLAlchemy URL
    (``postgresql+psycopg://user@host:5432/db``, ``sqlite:///path.db``, any
    dialect whose driver is installed). Only SELECT queries are run, in a
    read-only transaction."""

    kind: Literal["sql"] = Field(description="sql: an SQL database")
    url: SecretStr | None = Field(default=None, description="an SQLAlchemy URL; may hold ${ENV} parts")
    url_file: str | None = Field(default=None, description="a file holding the SQLAlchemy URL")
    password: SecretStr | None = Field(default=None, description="the password, put into the URL")
    password_file: str | None = Field(default=None, description="a file holding the password")

    @model_validator(mode="after")
    def _check(self) -> SqlDatastore:
        _one_of(self, "url", "password")
        if self.url is None and self.url_file is None:
            raise ValueError("set url (an SQLAlchemy URL) or url_file")
        return self


class QdrantDatastore(_Datastore):
    """A Qdrant vector database, read with ``qdrant-client``: a server at
    ``url`` (with an ``api_key``), or a local-mode folder at ``path``
    (``qdrant_client.QdrantClient(path=...)``; one process at a time may open
    it). Datasets name a ``collection`` of it."""

    kind: Literal["qdrant"] = Field(description="qdrant: a Qdrant vector database")
    url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+",
                            description="the server, e.g. http://localhost:6333")
    path: str | None = Field(default=None, min_length=1,
                             description="a local-mode folder (relative to the configuration file)")
    api_key: SecretStr | None = Field(default=None, description="the API key, e.g. ${QDRANT_API_KEY}")
    api_key_file: str | None = Field(default=None, description="a file holding the API key")
    timeout: float = Field(default=60.0, gt=0, description="seconds a request may take")

    @model_validator(mode="after")
    def _check(self) -> QdrantDatastore:
        _one_of(self, "api_key")
        if (self.url is None) == (self.path is None):
            raise ValueError("set url (a Qdrant server) or path (a local-mode folder), one of them")
        if self.path is not None and (self.api_key is not None or self.api_key_file is not None):
            raise ValueError("an api_key is for a server (url), not a local-mode path")
        return self

    def resolved(self, base: Path) -> QdrantDatastore:
        """A copy whose relative ``api_key_file`` and ``path`` are resolved against ``base``."""
        copy = super().resolved(base)
        assert isinstance(copy, QdrantDatastore)
        if self.path is None or self.path == ":memory:":
            return copy
        path = Path(os.path.expanduser(self.path))
        return copy.model_copy(update={"path": os.path.normpath(path if path.is_absolute() else base / path)})


DatastoreConfig = Annotated[
    S3Datastore | AzureBlobDatastore | HttpDatastore | SqlDatastore | QdrantDatastore, Field(discriminator="kind")
]
"""One datastore, told apart by ``kind``: ``s3``, ``azure_blob``, ``http``, ``sql`` or ``qdrant``."""


def datastore_to_json(store: Any) -> dict[str, Any]:
    """A datastore as JSON with its secret values in clear, for handing it to a
    process of our own over a pipe (never to be written to a file or a log)."""
    data = store.model_dump(mode="python")
    return {k: _clear(v) for k, v in data.items()}


def _clear(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _clear(v) for k, v in value.items()}
    return value


def datastore_from_json(data: dict[str, Any]) -> Any:
    """The datastore of :func:`datastore_to_json`'s output.

    :raises pydantic.ValidationError: when it is not a datastore of this release.
    """
    return TypeAdapter(DatastoreConfig).validate_python(data)
