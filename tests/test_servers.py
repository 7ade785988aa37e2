"""The test servers of tests/servers.py, for real, through the client libraries
remote datasets are read with (fsspec's s3fs, adlfs and HTTP filesystems):
moto's S3 and Azurite list and serve Parquet files that read back equal to
the local ones, and refuse a wrong secret; the HTTP file server answers byte
ranges, and with a required ``Authorization`` header refuses requests without
it; the counting proxies and the file server count the bytes each object
sent, so reading two columns is seen to fetch fewer bytes than the file.

The byte ranges are checked against Python's slicing of the file, the counts
against the column chunk sizes in the Parquet footer.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from http_files import parse_range
from servers import ServerProcess, ServerStartError, start_s3

pytestmark = pytest.mark.servers

COLUMNS = ["carrier", "dep_delay"]
"""The two columns read on their own (of the flights data's 19)."""


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The flights example's monthly Parquet files (12, about 0.5 MB each)."""
    from monitor.example import prepare_flights

    return prepare_flights(tmp_path_factory.mktemp("flights"))


def column_bytes(path: Path, columns: list[str]) -> int:
    """Compressed bytes of ``columns``' chunks in every row group of the Parquet file at ``path``."""
    meta = pq.ParquetFile(path).metadata
    total = 0
    for group in range(meta.num_row_groups):
        for index in range(meta.num_columns):
            chunk = meta.row_group(group).column(index)
            if chunk.path_in_schema in columns:
                total += chunk.total_compressed_size
    return total


def assert_fetched_only_columns(fetched: int, path: Path) -> None:
    """``fetched`` bytes cover the columns' chunks and are less than half the file."""
    size = path.stat().st_size
    needed = column_bytes(path, COLUMNS)
    assert needed <= fetched < size / 2, (needed, fetched, size)


# ------------------------------------------------------------------------- S3


def test_s3fs_lists_and_reads_parquet_from_moto(s3_server, flights):
    import s3fs

    bucket = s3_server.new_bucket()
    keys = s3_server.put_folder(bucket, "flights", flights[0].parent)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    assert sorted(fs.ls(f"{bucket}/flights")) == [f"{bucket}/{key}" for key in keys]
    assert [p.name for p in flights] == [key.split("/")[-1] for key in keys]
    assert fs.info(f"{bucket}/{keys[0]}")["size"] == flights[0].stat().st_size
    with fs.open(f"{bucket}/{keys[6]}", "rb") as file:
        table = pq.read_table(file)
    assert table.equals(pq.read_table(flights[6]))
    assert s3_server.bytes_sent(bucket, keys[6]) >= flights[6].stat().st_size


def test_s3_reading_two_columns_fetches_only_their_bytes(s3_server, flights):
    import s3fs

    bucket = s3_server.new_bucket()
    s3_server.put(bucket, "month.parquet", flights[0])
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    with fs.open(f"{bucket}/month.parquet", "rb", cache_type="none") as file:
        table = pq.ParquetFile(file).read(columns=COLUMNS)
    assert table.equals(pq.read_table(flights[0], columns=COLUMNS))
    assert_fetched_only_columns(s3_server.bytes_sent(bucket, "month.parquet"), flights[0])


def test_s3_writes_through_the_proxy_keep_their_signature(s3_server):
    import s3fs

    bucket = s3_server.new_bucket()
    data = np.random.default_rng(1).bytes(3 * 1024 * 1024)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    fs.pipe(f"{bucket}/up/data.bin", data)
    assert s3_server.client().get_object(Bucket=bucket, Key="up/data.bin")["Body"].read() == data
    assert s3_server.requests(bucket, "up/data.bin") >= 1


def test_s3_refuses_a_wrong_secret_key(s3_server):
    import s3fs

    bucket = s3_server.new_bucket()
    s3_server.put(bucket, "a.bin", b"secret data")
    wrong = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options(secret="not-the-secret"))
    with pytest.raises(PermissionError, match="signature we calculated does not match"):
        wrong.ls(bucket)
    with pytest.raises(PermissionError):
        wrong.cat(f"{bucket}/a.bin")
    unknown = s3fs.S3FileSystem(skip_instance_cache=True, **{**s3_server.storage_options(), "key": "AKIANOSUCHKEY"})
    with pytest.raises(PermissionError, match="Access Key Id you provided does not exist"):
        unknown.ls(bucket)
    right = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    assert right.cat(f"{bucket}/a.bin") == b"secret data"


def test_s3_missing_bucket_is_file_not_found(s3_server):
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options())
    with pytest.raises(FileNotFoundError, match="bucket does not exist"):
        fs.ls("no-such-bucket-here")


# -------------------------------------------------------------------- Azurite


def test_adlfs_lists_and_reads_parquet_from_azurite(azurite, flights):
    import adlfs

    container = azurite.new_container()
    names = azurite.put_folder(container, "flights", flights[0].parent)
    fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True, **azurite.storage_options())
    assert sorted(fs.ls(f"{container}/flights")) == [f"{container}/{name}" for name in names]
    assert fs.info(f"{container}/{names[3]}")["size"] == flights[3].stat().st_size
    with fs.open(f"{container}/{names[3]}", "rb") as file:
        table = pq.read_table(file)
    assert table.equals(pq.read_table(flights[3]))


def test_azure_reading_two_columns_fetches_only_their_bytes(azurite, flights):
    import adlfs

    container = azurite.new_container()
    azurite.put(container, "month.parquet", flights[1])
    fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True, **azurite.storage_options())
    with fs.open(f"{container}/month.parquet", "rb", cache_type="none") as file:
        table = pq.ParquetFile(file).read(columns=COLUMNS)
    assert table.equals(pq.read_table(flights[1], columns=COLUMNS))
    assert_fetched_only_columns(azurite.bytes_sent(container, "month.parquet"), flights[1])


def test_azurite_refuses_a_wrong_account_key(azurite):
    import adlfs
    from azure.core.exceptions import HttpResponseError

    container = azurite.new_container()
    azurite.put(container, "a.bin", b"secret data")
    wrong_key = "d3Jvbmcga2V5IG9mIHRoZSByaWdodCBsZW5ndGggZm9yIGEgdGVzdCBvZiBhenVyaXRlIQ=="
    fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True, **azurite.storage_options(account_key=wrong_key))
    with pytest.raises(HttpResponseError) as refused:
        fs.ls(container)
    assert refused.value.status_code == 403
    assert "AuthorizationFailure" in str(refused.value)
    right = adlfs.AzureBlobFileSystem(skip_instance_cache=True, **azurite.storage_options())
    assert right.cat(f"{container}/a.bin") == b"secret data"


# ----------------------------------------------------------------------- HTTP


def test_fsspec_http_reads_a_served_parquet_file(http_files, flights):
    import fsspec

    url = http_files.put("flights/2013-05.parquet", flights[4])
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    assert fs.info(url)["size"] == flights[4].stat().st_size
    with fs.open(url, "rb") as file:
        assert pq.read_table(file).equals(pq.read_table(flights[4]))
    assert fs.cat_file(url, start=100, end=150) == flights[4].read_bytes()[100:150]


def test_http_reading_two_columns_fetches_only_their_bytes(http_files, flights):
    import fsspec

    url = http_files.put("month.parquet", flights[2])
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with fs.open(url, "rb", cache_type="none") as file:
        table = pq.ParquetFile(file).read(columns=COLUMNS)
    assert table.equals(pq.read_table(flights[2], columns=COLUMNS))
    assert_fetched_only_columns(http_files.bytes_sent("month.parquet"), flights[2])


def test_http_requires_the_configured_authorization(http_files):
    import aiohttp
    import fsspec

    url = http_files.put("a.bin", b"secret data")
    http_files.authorization = "Bearer s3cret"
    anonymous = fsspec.filesystem("http", skip_instance_cache=True)
    with pytest.raises(aiohttp.ClientResponseError) as refused:
        anonymous.cat_file(url)
    assert refused.value.status == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer other"}))
    assert wrong.value.code == 401
    allowed = fsspec.filesystem("http", skip_instance_cache=True, headers={"Authorization": "Bearer s3cret"})
    assert allowed.cat_file(url) == b"secret data"
    assert http_files.bytes_sent("a.bin") == len(b"secret data") + 2 * len(b"authorization required\n")


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of one request, errors included."""
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_http_ranges_answer_the_bytes_python_slices(http_files):
    data = np.random.default_rng(7).bytes(1000)
    url = http_files.put("blob.bin", data)
    cases = [("bytes=0-0", data[0:1], "bytes 0-0/1000"), ("bytes=10-19", data[10:20], "bytes 10-19/1000"),
             ("bytes=990-", data[990:], "bytes 990-999/1000"), ("bytes=-25", data[-25:], "bytes 975-999/1000"),
             ("bytes=900-5000", data[900:], "bytes 900-999/1000"), ("bytes=-5000", data, "bytes 0-999/1000")]
    for header, expected, content_range in cases:
        status, headers, body = fetch(url, Range=header)
        assert (status, body, headers["Content-Range"]) == (206, expected, content_range), header
        assert headers["Content-Length"] == str(len(expected))
    status, headers, body = fetch(url, Range="bytes=1000-")
    assert (status, body, headers["Content-Range"]) == (416, b"", "bytes */1000")
    for ignored in ["bytes=5-1", "bytes=0-1,5-6", "lines=1-2"]:  # not one valid byte range: the whole file
        status, headers, body = fetch(url, Range=ignored)
        assert (status, body, "Content-Range" in headers) == (200, data, False), ignored
    status, headers, body = fetch(url, method="HEAD")
    assert (status, headers["Content-Length"], headers["Accept-Ranges"], body) == (200, "1000", "bytes", b"")
    assert http_files.requests("blob.bin") == len(cases) + 5
    assert http_files.bytes_sent("blob.bin") == sum(len(expected) for _, expected, _ in cases) + 3 * len(data)


def test_parse_range_agrees_with_slicing():
    rng = np.random.default_rng(3)
    for size in [1, 2, 17, 1000]:
        data = (bytes(range(256)) * 4)[:size]
        for _ in range(200):
            first, last = sorted(int(v) for v in rng.integers(0, size + 5, 2))
            header = f"bytes={first}-{last}"
            if first >= size:
                with pytest.raises(ValueError, match="past the end"):
                    parse_range(header, size)
            else:
                start, end = parse_range(header, size)
                assert data[start:end + 1] == data[first:last + 1], header
            suffix = int(rng.integers(1, size + 5))
            start, end = parse_range(f"bytes=-{suffix}", size)
            assert data[start:end + 1] == data[-suffix:], suffix
    with pytest.raises(ValueError, match="empty"):
        parse_range("bytes=-0", 10)


def test_http_paths_outside_the_folder_are_not_found(http_files, tmp_path):
    (tmp_path / "outside.txt").write_text("not served")
    http_files.put("sub/inside.txt", b"served")
    assert fetch(http_files.url + "/sub/inside.txt")[::2] == (200, b"served")
    assert fetch(http_files.url + "/../outside.txt")[0] == 404
    assert fetch(http_files.url + "/sub/..%2F..%2Foutside.txt")[0] == 404
    assert fetch(http_files.url + "/missing.txt")[0] == 404


def test_fsspec_http_lists_a_folder(http_files):
    import fsspec

    for name in ["a.parquet", "b.parquet", "sub/c.parquet"]:
        http_files.put(f"data/{name}", b"x")
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    listed = fs.ls(http_files.url_of("data/"), detail=False)
    assert sorted(listed) == [http_files.url_of("data/a.parquet"), http_files.url_of("data/b.parquet"),
                              http_files.url_of("data/sub/")]


# -------------------------------------------------------------------- processes


def test_a_server_that_exits_reports_its_log(tmp_path):
    process = ServerProcess("the failing server", [sys.executable, "-c", "print('cannot bind: boom'); exit(3)"],
                            tmp_path / "failing.log", r"listening on (?P<port>\d+)")
    with pytest.raises(ServerStartError, match=r"(?s)exited with code 3.*cannot bind: boom"):
        process.start()


def test_a_server_that_never_listens_is_stopped_after_the_timeout(tmp_path):
    process = ServerProcess("the silent server", [sys.executable, "-c", "print('starting'); import time; time.sleep(60)"],
                            tmp_path / "silent.log", r"listening on (?P<port>\d+)")
    with pytest.raises(ServerStartError, match=r"(?s)did not say it listens within 0.5 s.*starting"):
        process.start(timeout=0.5)
    assert process.process is not None and process.process.poll() is not None


def test_a_stopped_s3_server_leaves_no_process(tmp_path):
    server = start_s3(tmp_path)
    port, proxy_port = server.process.port, server.proxy.port
    assert server.process.process is not None and server.process.process.poll() is None
    server.stop()
    assert server.process.process.poll() is not None
    for closed in (port, proxy_port):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{closed}/", timeout=2)


def test_http_reading_one_column_of_a_generated_table(http_files, tmp_path):
    """A Parquet file of a generated table, each column its own size: fetching
    one column costs about that column's share of the file."""
    import fsspec

    rng = np.random.default_rng(11)
    table = pa.table({"small": rng.integers(0, 3, 200_000), "big": rng.normal(size=200_000)})
    path = tmp_path / "generated.parquet"
    pq.write_table(table, path, compression="none")

    url = http_files.put("generated.parquet", path)
    with fsspec.filesystem("http", skip_instance_cache=True).open(url, "rb", cache_type="none") as file:
        assert pq.ParquetFile(file).read(columns=["small"]).equals(table.select(["small"]))
    fetched = http_files.bytes_sent("generated.parquet")
    assert column_bytes(path, ["small"]) <= fetched < column_bytes(path, ["big"])
