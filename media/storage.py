"""Where files live: one interface, a local folder or an S3-compatible bucket behind it.

Writes are atomic. Locally a file is written under a temporary name in the destination folder
and renamed; on S3 an object only appears when its (multipart) upload completes. A reader never
sees half a file.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Protocol

from media.containers import SUFFIXES
from media.errors import NotFound, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from station.settings import Settings


# Types players need that not every system's mime table knows.
mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("audio/aac", ".aac")


READ_URL_S = 7 * 24 * 3600  # the longest a SigV4 pre-signed URL may live


def content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def check_key(key: str) -> str:
    """Keys are relative POSIX paths without `..`: storage never escapes its root."""
    p = PurePosixPath(key)
    if not key or p.is_absolute() or ".." in p.parts or "\\" in key or "\x00" in key:
        raise StorageError(f"invalid storage key {key!r}")
    return p.as_posix()


def original_key(sha256: str, suffix: str) -> str:
    """Content-addressed: the same bytes always land on the same key, so they are stored once.
    The suffix is kept only if it is one of an accepted container's, lower-cased."""
    suffix = suffix.lower() if suffix.lower() in SUFFIXES else ""
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


class Storage(Protocol):
    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        """Store a local file under key; with move=True the source may be consumed."""
        ...

    def put_bytes(
        self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
    ) -> None:
        """Store bytes under key, all or nothing for readers. durable=False leaves flushing
        to disk to the system: for files rewritten every few seconds (live playlists, the
        on-air status), where a forced flush per write is most of the cost."""
        ...

    def copy(self, src: str, dest: str) -> None:
        """Store a copy of the file at src under dest, all or nothing for readers (a package
        moved to a new prefix: the bytes stay in storage)."""
        ...

    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def open(self, key: str) -> IO[bytes]: ...
    def local_path(self, key: str) -> contextlib.AbstractContextManager[Path]: ...
    def keys(self, prefix: str = "") -> Iterator[str]: ...
    def describe(self) -> str: ...
    def close(self) -> None: ...
    def read_url(self, key: str, expires_s: int = READ_URL_S) -> str:
        """Where ffmpeg can read a stored file without copying it first: a path, or a
        pre-signed URL valid for expires_s."""
        ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _temp_beside(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest.parent / f".{dest.name}.{uuid.uuid4().hex}.part"

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        dest = self.path(key)
        tmp = self._temp_beside(dest)
        try:
            if move and src.is_file():  # never rename a folder into storage
                try:
                    os.replace(src, dest)  # same filesystem: one atomic rename
                    return
                except OSError:
                    pass
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(
        self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
    ) -> None:
        dest = self.path(key)
        tmp = self._temp_beside(dest)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def copy(self, src: str, dest: str) -> None:
        source, target = self.path(src), self.path(dest)
        if not source.is_file():
            raise NotFound(f"no stored file {src}")
        tmp = self._temp_beside(target)
        try:
            try:  # a second name for the same bytes: instant, and stored files never change
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"no stored file {key}") from exc

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no stored file {key}") from exc

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        p = self.path(key)
        if not p.is_file():
            raise NotFound(f"no stored file {key}")
        yield p

    def keys(self, prefix: str = "") -> Iterator[str]:
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and not p.name.endswith(".part"):
                rel = p.relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    yield rel

    def describe(self) -> str:
        return f"local folder {self.root}"

    def read_url(self, key: str, expires_s: int = 0) -> str:
        return str(self.path(key))

    def close(self) -> None:
        pass


def missing(exc: Exception) -> bool:
    """An S3 answer that means "there is no such key" (and nothing else does)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Storage:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        part_size: int = 16 * 1024 * 1024,
        scratch: Path | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.scratch = scratch

    def _k(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _transfer(self) -> object:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.part_size, multipart_chunksize=self.part_size, use_threads=True
        )

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.upload_file(
                str(src),
                self.bucket,
                self._k(key),
                ExtraArgs={"ContentType": content_type(key)},
                Config=self._transfer(),  # type: ignore[arg-type]
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"upload of {key} to s3://{self.bucket} failed: {exc}") from exc
        if move:
            src.unlink(missing_ok=True)

    def put_bytes(
        self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ContentType": mime or content_type(key)}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, **extra)  # type: ignore[arg-type]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"write of {key} to s3://{self.bucket} failed: {exc}") from exc

    def copy(self, src: str, dest: str) -> None:
        """Inside the bucket (no download); the content type goes with the object."""
        with self._answers(src, f"copy of {src} in"):
            self.client.copy(
                {"Bucket": self.bucket, "Key": self._k(src)},
                self.bucket,
                self._k(dest),
                Config=self._transfer(),  # type: ignore[arg-type]
            )

    @contextlib.contextmanager
    def _answers(self, key: str, what: str) -> Iterator[None]:
        """Only "no such key" is NotFound: a refusal, a server error or a timeout is a
        StorageError (a reader that took it for "missing" would start afresh)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            if missing(exc):
                raise NotFound(f"no stored file {key}") from exc
            raise StorageError(f"{what} s3://{self.bucket} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{what} s3://{self.bucket} failed: {exc}") from exc

    def _head(self, key: str) -> dict[str, object] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._k(key)))
        except ClientError as exc:
            if missing(exc):
                return None
            raise StorageError(f"s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket}/{key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise NotFound(f"no stored file {key}")
        length = head["ContentLength"]
        assert isinstance(length, int)
        return length

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._k(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"delete of {key} in s3://{self.bucket} failed: {exc}") from exc

    def open(self, key: str) -> IO[bytes]:
        with self._answers(key, f"read of {key} from"):
            obj = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        return obj["Body"]  # type: ignore[return-value]

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        if self.scratch:
            self.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix="s3-", suffix=PurePosixPath(key).suffix, dir=self.scratch
        )
        os.close(fd)
        tmp = Path(name)
        try:
            with self.open(key) as body, open(tmp, "wb") as fh:
                shutil.copyfileobj(body, fh, 1024 * 1024)
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        full = self._k(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        if prefix.endswith("/"):  # check_key drops it; "hls/" must not match "hls-old/"
            full += "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def read_url(self, key: str, expires_s: int = 0) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._k(key)},
            ExpiresIn=expires_s or READ_URL_S,
        )
        return url

    def close(self) -> None:
        self.client.close()


def public_file_url(settings: Settings, key: str | None) -> str | None:
    """Where a player fetches a stored file: the CDN/nginx base if set, else the API's /files/."""
    if not key:
        return None
    base = settings.public_storage_url.rstrip("/") or f"{settings.base_url}/files"
    return f"{base}/{key}"


def build_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        import boto3

        secret = settings.s3_secret_access_key
        from botocore.config import Config

        client = boto3.client(
            "s3",
            # A storage that is away is noticed in seconds, not minutes: the callers retry.
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
            ),
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
        )
        return S3Storage(
            client,
            settings.s3_bucket,
            settings.s3_prefix,
            part_size=settings.s3_part_size_mb * 1024 * 1024,
            scratch=settings.staging_dir,
        )
    assert settings.storage_dir is not None
    return LocalStorage(settings.storage_dir)
