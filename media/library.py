"""The library service: ingest a file, describe it, list and edit the catalogue.

It knows nothing of HTTP or terminals; the API and the CLI both call it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from jobs.queue import JobQueue, JobRow, PermanentJobError, ProgressReporter
from media.analysis import Analysis, ProgressFn, analyse, analysis_timeout_s, check_tail
from media.artwork import IMAGE_TYPES, Picture, check_image, extract_artwork, picture_of
from media.binaries import Tools
from media.errors import (
    EmptyFile,
    FileTooLarge,
    MediaError,
    NotFound,
    PackagingError,
    StaleVersion,
    TooLong,
    UnusableMedia,
)
from media.ladder import DEFAULT_PACKAGING, PackagingOptions
from media.models import (
    FAILED,
    KINDS,
    PACKAGE_FAILED,
    PACKAGE_QUEUED,
    PACKAGE_READY,
    PACKAGING,
    PENDING,
    READY,
    MediaItem,
    MediaRow,
    SubtitleRow,
    search_text,
)
from media.names import check_file_name, language_code, media_suffix, title_from_name
from media.packaged import Published, asset_prefix
from media.packaging import package_asset, remove_prefix
from media.peaks import Peaks, measure_peaks
from media.probe import ProbeResult, probe
from media.publications import RETIRE_JOB, Publications
from media.storage import Storage, original_key
from station.clock import Clock
from station.db import Database, Page

log = logging.getLogger(__name__)

ANALYSE_JOB = "media.analyse"
PACKAGE_JOB = "media.package"
JINGLE_MAX_MS = 30_000
EDITOR_ARTWORK = "artwork/editor/"  # artwork an editor gave, kept when analysis runs again
SPEECH_GENRES = {"speech", "spoken", "talk", "news", "podcast", "audiobook"}


@dataclass(frozen=True, slots=True)
class IngestResult:
    item: MediaItem
    created: bool
    job_id: int | None


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What an editor may say about a file at ingest; anything unset is read from the file."""

    kind: str | None = None
    title: str | None = None
    titles: Mapping[str, str] | None = None
    artist: str | None = None
    languages: tuple[str, ...] | None = None
    subtitles: Mapping[str, Path] | None = None  # lang -> WebVTT file


def sha256_of(path: Path, chunk: int = 1024 * 1024) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def guess_kind(p: ProbeResult, tags: Mapping[str, str]) -> str:
    if p.is_video:
        return "programme"
    if tags.get("genre", "").casefold() in SPEECH_GENRES:
        return "speech"
    if p.duration_ms is not None and p.duration_ms < JINGLE_MAX_MS:
        return "jingle"
    return "music"


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise MediaError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def check_duration(duration_ms: int | None, max_ms: int) -> None:
    if duration_ms is not None and duration_ms > max_ms:
        raise TooLong(
            f"it lasts {hours(duration_ms)}; the library takes files of at most {hours(max_ms)}"
        )


def hours(ms: int) -> str:
    minutes = round(ms / 60_000)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes % 60 else f"{minutes // 60} h"


def check_webvtt(path: Path) -> None:
    head = path.read_bytes()[:16].lstrip(b"\xef\xbb\xbf")
    if not head.startswith(b"WEBVTT"):
        raise MediaError(f"{path.name} is not a WebVTT file (it must start with 'WEBVTT')")


EDITABLE = (
    "title",
    "titles",
    "artist",
    "album",
    "kind",
    "languages",
    "cue_in_ms",
    "cue_out_ms",
    "descriptions",
    "tags",
)
DICTS = ("titles", "descriptions", "tags")  # edited as a whole: the new dict replaces the old


class Library:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        tools: Tools,
        queue: JobQueue,
        clock: Clock,
        *,
        max_upload_bytes: int,
        staging_dir: Path,
        silence_db: float = -50.0,
        silence_min_ms: int = 100,
        packaging: PackagingOptions = DEFAULT_PACKAGING,
        max_duration_ms: int = 6 * 3600 * 1000,
        analysis_timeout_base_s: float = 60.0,
        analysis_timeout_factor: float = 0.5,
        package_retire_s: float = 300.0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.tools = tools
        self.queue = queue
        self.clock = clock
        self.max_upload_bytes = max_upload_bytes
        self.staging_dir = staging_dir
        self.silence_db = silence_db
        self.silence_min_ms = silence_min_ms
        self.packaging = packaging  # the TV ladder every video item is packaged into
        self.max_duration_ms = max_duration_ms
        self.analysis_timeout_base_s = analysis_timeout_base_s
        self.analysis_timeout_factor = analysis_timeout_factor
        self.publications = Publications(db, storage, queue, clock, retire_after_s=package_retire_s)

    # --- ingest -------------------------------------------------------------------------

    def staging_path(self, suffix: str = "") -> Path:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        return self.staging_dir / f"{uuid.uuid4().hex}{suffix}.part"

    def find_by_sha(self, sha: str) -> MediaItem | None:
        with self.db.session() as s:
            row = s.scalars(
                select(MediaRow)
                .options(selectinload(MediaRow.subtitles))
                .where(MediaRow.sha256 == sha)
            ).first()
            return MediaItem.of(row) if row else None

    async def ingest(
        self,
        path: Path,
        *,
        original_name: str | None = None,
        options: IngestOptions | None = None,
        sha256: str | None = None,
        move: bool = False,
        analyse_now: bool = False,
    ) -> IngestResult:
        """Check, store and register one file; measure it now, or queue its analysis.

        Everything that can be refused is refused before anything is written: a file that
        fails here leaves no trace in storage or the database.

        `analyse_now` (the CLI, which waits for the figures anyway): one decode of the whole
        file measures it and gives the tail check's verdict too, so a file that does not
        decode is refused, not stored, and the item is registered ready, with its artwork.
        Otherwise (an upload, answered while the editor waits) only the last seconds are
        decoded here, and a job measures the file later.
        """
        opts = options or IngestOptions()
        name = check_file_name(original_name or path.name)
        suffix = media_suffix(name)
        if opts.kind is not None:
            check_kind(opts.kind)
        size = path.stat().st_size
        if size == 0:
            raise EmptyFile(f"{name} is empty (0 bytes)")
        if size > self.max_upload_bytes:
            raise FileTooLarge(
                f"{name} is {size / 2**20:.0f} MiB; the limit is "
                f"{self.max_upload_bytes / 2**20:.0f} MiB"
            )
        for sub in (opts.subtitles or {}).values():
            check_webvtt(sub)
        sha: str = sha256 if sha256 else await asyncio.to_thread(sha256_of, path)
        existing = await asyncio.to_thread(self.find_by_sha, sha)
        if existing is not None:
            log.info("file already in the library", extra={"file": name, "media": existing.id})
            if move:
                path.unlink(missing_ok=True)
            return IngestResult(existing, created=False, job_id=None)

        measured: Analysis | None = None
        try:
            p = await probe(self.tools, path)
            check_duration(p.duration_ms, self.max_duration_ms)
            if analyse_now:
                measured = await self._measure(
                    path, has_audio=bool(p.audio), probed_ms=p.duration_ms, tail_check=True
                )
            else:
                await check_tail(self.tools, path, p.duration_ms)
        except MediaError as exc:
            exc.message = f"{name}: {exc.message}"
            exc.args = (exc.message,)
            raise
        key = original_key(sha, suffix)
        picture = picture_of(p) if measured is not None else None
        # Taken before the original is stored: a move takes `path` away.
        art = self.staging_path(".jpg") if picture else None
        stored: list[str] = []  # what this call put in storage, removed again if it fails
        sub_keys: list[tuple[str, str]] = []
        try:
            if (
                art
                and measured
                and picture
                and not await extract_artwork(self.tools, path, art, picture, measured.duration_ms)
            ):
                art = None  # a warning says why; no artwork, as from the job
            if not await asyncio.to_thread(self.storage.exists, key):
                await asyncio.to_thread(self.storage.put_file, key, path, move=move)
                stored.append(key)
            elif move:
                path.unlink(missing_ok=True)
            for lang, sub in (opts.subtitles or {}).items():
                skey = f"subtitles/{sha}/{lang}.vtt"
                await asyncio.to_thread(self.storage.put_file, skey, sub)
                stored.append(skey)
                sub_keys.append((lang, skey))
            artwork_key = None
            if art:
                artwork_key = await asyncio.to_thread(self._put_artwork, sha, art)
                stored.append(artwork_key)
            return await asyncio.to_thread(
                self._register, name, sha, key, size, p, opts, sub_keys, measured, artwork_key
            )
        except IntegrityError:
            # The same file arrived twice at once: the other upload won; both stored the same
            # bytes under the same keys, so nothing is to be removed.
            again = await asyncio.to_thread(self.find_by_sha, sha)
            if again is None:
                raise
            return IngestResult(again, created=False, job_id=None)
        except BaseException:
            for k in stored:
                await asyncio.to_thread(self.storage.delete, k)
            raise
        finally:
            if art:
                art.unlink(missing_ok=True)

    def _register(
        self,
        name: str,
        sha: str,
        key: str,
        size: int,
        p: ProbeResult,
        opts: IngestOptions,
        sub_keys: list[tuple[str, str]],
        measured: Analysis | None,
        artwork_key: str | None,
    ) -> IngestResult:
        """The row, and in the same transaction its analysis job, or (measured already) the
        analysis itself and, for a video, its packaging job."""
        now = self.clock.now()
        tags = dict(p.tags)
        title = opts.title or tags.get("title") or title_from_name(name)
        lang = language_code(p.language)
        languages = list(opts.languages) if opts.languages else ([lang] if lang else [])
        audio = p.audio[0] if p.audio else None
        video = p.main_video
        titles = dict(opts.titles or {})
        artist = opts.artist if opts.artist is not None else tags.get("artist", "")
        album = tags.get("album", "")
        row = MediaRow(
            sha256=sha,
            kind=opts.kind or guess_kind(p, tags),
            status=PENDING,
            title=title,
            titles=titles,
            artist=artist,
            album=album,
            languages=languages,
            tags=tags,
            search_text=search_text(title, artist, album, *titles.values()),
            original_name=name,
            storage_key=key,
            size_bytes=size,
            container=p.container,
            audio_codec=audio.codec if audio else None,
            video_codec=video.codec if video else None,
            duration_ms=p.duration_ms,
            channels=audio.channels if audio else None,
            sample_rate=audio.sample_rate if audio else None,
            width=video.width if video else None,
            height=video.height if video else None,
            frame_rate=video.frame_rate if video else None,
            bit_rate=p.bit_rate,
            version=1,
            created_at=now,
            updated_at=now,
        )
        row.subtitles = [SubtitleRow(lang=lg, storage_key=k) for lg, k in sub_keys]
        with self.db.session() as s:
            s.add(row)
            s.flush()
            job: JobRow | None
            if measured is None:
                payload = {"media_id": row.id, "picture": picture_of(p)}
                job = self.queue.enqueue(s, ANALYSE_JOB, payload)
            else:
                job = self._apply_analysis(s, row, measured, artwork_key)
            s.flush()
            item = MediaItem.of(row)
            job_id = job.id if job else None
        if job_id is not None:
            self.queue.notify()
        log.info(
            "file added to the library",
            extra={"media": item.id, "file": name, "kind": item.kind, "job": job_id},
        )
        if measured is not None:
            log_analysed(item.id, measured)
        return IngestResult(item, created=True, job_id=job_id)

    async def _measure(
        self,
        path: Path,
        *,
        has_audio: bool,
        probed_ms: int | None,
        on_progress: ProgressFn | None = None,
        tail_check: bool = False,
    ) -> Analysis:
        return await analyse(
            self.tools,
            path,
            has_audio=has_audio,
            probed_ms=probed_ms,
            silence_db=self.silence_db,
            silence_min_ms=self.silence_min_ms,
            on_progress=on_progress,
            timeout_s=analysis_timeout_s(
                # A file that did not say how long it is gets the longest allowed time.
                probed_ms or self.max_duration_ms,
                base_s=self.analysis_timeout_base_s,
                factor=self.analysis_timeout_factor,
            ),
            tail_check=tail_check,
        )

    # --- analysis (a job) ---------------------------------------------------------------

    async def _job_item(self, media_id: int) -> MediaItem:
        """The item a job is for; one deleted since the job was queued ends the job."""
        try:
            return await asyncio.to_thread(self.get, media_id)
        except NotFound as exc:
            raise PermanentJobError(f"media item {media_id} was deleted") from exc

    async def analyse_job(self, payload: dict[str, Any], progress: ProgressReporter) -> None:
        media_id = int(payload["media_id"])
        item = await self._job_item(media_id)
        try:
            with self.storage.local_path(item.storage_key) as path:
                result = await self._measure(
                    path,
                    has_audio=item.audio_codec is not None,
                    probed_ms=item.duration_ms,
                    on_progress=progress,
                )
                await self._keep_peaks(item, path)
                picture = payload.get("picture")
                artwork_key = None
                if picture in ("video", "cover"):
                    await progress(0.95, "extracting artwork")
                    artwork_key = await self._artwork(item, path, picture, result.duration_ms)
        except UnusableMedia as exc:
            await asyncio.to_thread(self._reject, media_id, exc.message)
            raise PermanentJobError(f"{item.original_name}: {exc.message}") from exc
        except Exception as exc:
            # A storage that blinks, a killed ffmpeg: nothing is known about the file. The
            # queue retries with back-off; the row says why it is still pending.
            reason = exc.message if isinstance(exc, MediaError) else f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(self._note_retry, media_id, reason)
            raise
        await asyncio.to_thread(self._store_analysis, media_id, result, artwork_key)
        self.queue.notify()  # a video's packaging job may be waiting
        log_analysed(media_id, result)

    async def _keep_peaks(self, item: MediaItem, path: Path) -> Peaks | None:
        """Measure and store the waveform peaks; a failure costs only the waveform (it is
        measured again when first asked for), never the analysis."""
        try:
            peaks = await measure_peaks(self.tools, path)
            await asyncio.to_thread(self.storage.put_bytes, peaks_key(item.sha256), peaks.to_json())
        except (MediaError, OSError) as exc:
            log.warning(
                "waveform peaks not measured",
                extra={"media": item.id, "reason": str(exc)},
            )
            return None
        return peaks

    async def peaks(self, media_id: int) -> Peaks:
        """An item's waveform peaks: stored at analysis, or (an item analysed before peaks
        were) measured now and stored."""
        item = await asyncio.to_thread(self.get, media_id)
        key = peaks_key(item.sha256)
        if await asyncio.to_thread(self.storage.exists, key):
            return Peaks.from_json(await asyncio.to_thread(self._read_bytes, key))
        original = self.storage.local_path(item.storage_key)
        path = await asyncio.to_thread(original.__enter__)
        try:
            peaks = await measure_peaks(self.tools, path)
        finally:
            await asyncio.shield(asyncio.to_thread(original.__exit__, None, None, None))
        await asyncio.to_thread(self.storage.put_bytes, key, peaks.to_json())
        return peaks

    def _read_bytes(self, key: str) -> bytes:
        with self.storage.open(key) as fh:
            return fh.read()

    async def _artwork(
        self, item: MediaItem, path: Path, picture: Picture, duration_ms: int
    ) -> str | None:
        dest = self.staging_path(".jpg")
        try:
            if not await extract_artwork(self.tools, path, dest, picture, duration_ms):
                return None
            return await asyncio.to_thread(self._put_artwork, item.sha256, dest)
        finally:
            dest.unlink(missing_ok=True)

    def _put_artwork(self, sha: str, jpeg: Path) -> str:
        key = f"artwork/{sha}.jpg"
        self.storage.put_file(key, jpeg, move=True)
        return key

    def _store_analysis(self, media_id: int, a: Analysis, artwork_key: str | None) -> None:
        with self.db.session() as s:
            row = s.get(MediaRow, media_id)
            if row is None:
                return  # deleted while we worked
            self._apply_analysis(s, row, a, artwork_key)
            row.version += 1

    def _apply_analysis(
        self, s: Session, row: MediaRow, a: Analysis, artwork_key: str | None
    ) -> JobRow | None:
        """Write what the decode measured on the row (cue points an editor set are kept) and
        make it ready; a video gets its packaging job in the same transaction, so an analysed
        video always has one. Returns that job."""
        row.duration_ms = a.duration_ms
        row.loudness_lufs = a.loudness_lufs
        row.loudness_range_lu = a.loudness_range_lu
        row.true_peak_dbtp = a.true_peak_dbtp
        if row.cue_in_ms is None:
            row.cue_in_ms = a.cue_in_ms
        if row.cue_out_ms is None:
            row.cue_out_ms = a.cue_out_ms
        if not (row.artwork_key or "").startswith(EDITOR_ARTWORK):
            row.artwork_key = artwork_key  # an editor's choice outlives the file's own
        row.status = READY
        row.error = None
        row.updated_at = self.clock.now()
        if row.video_codec is None:
            return None
        job = self.queue.enqueue(s, PACKAGE_JOB, {"media_id": row.id})
        row.package_status = PACKAGE_QUEUED
        row.package_error = None
        return job

    def _note_retry(self, media_id: int, reason: str) -> None:
        with self.db.session() as s:
            row = s.get(MediaRow, media_id)
            if row is None:
                return
            row.error = f"analysis will be tried again: {reason}"
            row.updated_at = self.clock.now()
        log.warning("analysis failed; to be retried", extra={"media": media_id, "reason": reason})

    def _reject(self, media_id: int, reason: str) -> None:
        """A file the decode found broken: the record says failed and why. Its bytes stay in
        storage, unpublished: an upload may be the only copy there is, so removing it is an
        editor's decision, never an automatic one."""
        with self.db.session() as s:
            row = s.get(MediaRow, media_id)
            if row is None:
                return
            row.status = FAILED
            row.error = reason
            row.version += 1
            row.updated_at = self.clock.now()
        log.warning("file failed analysis", extra={"media": media_id, "reason": reason})

    # --- HLS packaging (a job) ------------------------------------------------------------

    async def package_job(self, payload: dict[str, Any], progress: ProgressReporter) -> None:
        """Package an analysed video into the TV ladder and record the outcome on its row.

        A file ffmpeg cannot package, or whose output does not line up, fails for good (as in
        analysis, a broken file stays broken; `request_packaging` queues it again). Any other
        fault, a storage one above all, is retried by the queue; the row says `failed` with
        the reason until the retry starts. Either way nothing half-packaged is published, and
        the package published before stays live: the new one goes to a prefix of its own and
        the row is switched to it only once it is whole.
        """
        media_id = int(payload["media_id"])
        item = await self._job_item(media_id)
        if item.status != READY or item.video_codec is None or item.duration_ms is None:
            reason = f"media item {media_id} is not an analysed video"
            await asyncio.to_thread(self._set_package_status, media_id, PACKAGE_FAILED, reason)
            raise PermanentJobError(reason)
        await asyncio.to_thread(self._set_package_status, media_id, PACKAGING, None)
        try:
            subtitles = {
                s.lang: await asyncio.to_thread(self._read_text, s.storage_key)
                for s in item.subtitles
            }
            # On S3 the original is downloaded first: in a thread, not on the event loop.
            original = self.storage.local_path(item.storage_key)
            path = await asyncio.to_thread(original.__enter__)
            try:
                published = await package_asset(
                    self.tools,
                    self.storage,
                    path,
                    media_id=media_id,
                    duration_ms=item.duration_ms,
                    loudness_lufs=item.loudness_lufs,
                    true_peak_dbtp=item.true_peak_dbtp,
                    has_audio=item.audio_codec is not None,
                    subtitles=subtitles,
                    options=self.packaging,
                    staging_dir=self.staging_dir,
                    on_progress=progress,
                )
            finally:
                await asyncio.shield(asyncio.to_thread(original.__exit__, None, None, None))
            try:
                await asyncio.to_thread(self.publications.replace, media_id, published.prefix)
            except BaseException:
                await asyncio.shield(
                    asyncio.to_thread(remove_prefix, self.storage, published.prefix)
                )
                raise
        except PackagingError as exc:
            await asyncio.to_thread(self._set_package_status, media_id, PACKAGE_FAILED, exc.message)
            raise PermanentJobError(f"{item.original_name}: {exc.message}") from exc
        except asyncio.CancelledError:
            # The worker puts the job back in the queue; so does the row.
            await asyncio.shield(
                asyncio.to_thread(
                    self._set_package_status, media_id, PACKAGE_QUEUED, "interrupted by shutdown"
                )
            )
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(self._set_package_status, media_id, PACKAGE_FAILED, reason)
            raise
        await asyncio.to_thread(self._set_package_status, media_id, PACKAGE_READY, None)
        package = published.package
        log.info(
            "video packaged",
            extra={
                "media": media_id,
                "prefix": published.prefix,
                "segments": len(package.segments_ms),
                "renditions": [r.name for r in package.renditions],
            },
        )

    def _read_text(self, key: str) -> str:
        with self.storage.open(key) as fh:
            data = fh.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PackagingError(f"the subtitle file {key} is not UTF-8") from exc

    def _set_package_status(self, media_id: int, status: str, error: str | None) -> None:
        with self.db.session() as s:
            row = s.get(MediaRow, media_id)
            if row is None:
                return
            row.package_status = status
            row.package_error = error
            row.updated_at = self.clock.now()

    def request_packaging(self, media_id: int) -> int:
        """Queue (again) the packaging of an analysed video, e.g. after its subtitles changed
        or the ladder did; returns the job id."""
        with self.db.session() as s:
            row = s.get(MediaRow, media_id)
            if row is None:
                raise NotFound(f"there is no media item {media_id}")
            if row.status != READY or row.video_codec is None:
                raise MediaError(f"media item {media_id} is not an analysed video")
            job = self.queue.enqueue(s, PACKAGE_JOB, {"media_id": media_id})
            row.package_status = PACKAGE_QUEUED
            row.package_error = None
            s.flush()
            job_id = job.id
        self.queue.notify()
        return job_id

    def package_of(self, media_id: int) -> Published | None:
        """The live HLS publication of an item (its prefix and package.json), or None."""
        return self.publications.find(media_id)

    def set_subtitle(self, media_id: int, lang: str, vtt: Path) -> MediaItem:
        """Attach or replace the WebVTT subtitle of one language; the old file goes."""
        if not (lang.isalpha() and 2 <= len(lang) <= 3):
            raise MediaError(f"{lang!r} is not a language code like az, en or ru")
        check_webvtt(vtt)
        item = self.get(media_id)
        lang = lang.lower()
        key = f"subtitles/{item.sha256}/{lang}.vtt"
        self.storage.put_file(key, vtt)
        with self.db.session() as s:
            row = s.get(MediaRow, media_id, options=[selectinload(MediaRow.subtitles)])
            if row is None:
                raise NotFound(f"there is no media item {media_id}")
            if not any(sub.lang == lang for sub in row.subtitles):
                row.subtitles.append(SubtitleRow(lang=lang, storage_key=key))
            row.version += 1
            row.updated_at = self.clock.now()
            s.flush()
            return MediaItem.of(row)

    # --- artwork an editor gives ---------------------------------------------------------

    async def set_artwork(self, media_id: int, image: Path, mime: str) -> MediaItem:
        """Make an image (checked by decoding it) the item's artwork, in place of the one
        taken from the file or given before; analysis run again keeps it."""
        if mime not in IMAGE_TYPES:
            raise MediaError(f"artwork must be one of {', '.join(IMAGE_TYPES)}, not {mime}")
        item = await asyncio.to_thread(self.get, media_id)
        await check_image(self.tools, image, mime)
        sha = await asyncio.to_thread(sha256_of, image)
        key = f"{EDITOR_ARTWORK}{item.sha256}/{sha[:16]}{IMAGE_TYPES[mime][1]}"
        await asyncio.to_thread(self.storage.put_file, key, image)
        return await asyncio.to_thread(self._switch_artwork, media_id, key)

    def _switch_artwork(self, media_id: int, key: str) -> MediaItem:
        with self.db.session() as s:
            row = s.get(MediaRow, media_id, options=[selectinload(MediaRow.subtitles)])
            if row is None:
                self.storage.delete(key)
                raise NotFound(f"there is no media item {media_id}")
            old, row.artwork_key = row.artwork_key, key
            row.version += 1
            row.updated_at = self.clock.now()
            s.flush()
            item = MediaItem.of(row)
        if old and old != key and old.startswith(EDITOR_ARTWORK):
            self.storage.delete(old)  # an extracted one stays: analysis may give it again
        log.info("artwork set by an editor", extra={"media": media_id, "artwork": key})
        return item

    # --- removing -----------------------------------------------------------------------

    def remove_files(self, item: MediaItem) -> int:
        """Every stored file of an item whose row is gone (schedules/service.py
        `delete_media`): the original, its artwork, subtitles, waveform peaks and every HLS
        package of it with its encodes. Returns how many were removed."""
        keys = [item.storage_key, *(sub.storage_key for sub in item.subtitles)]
        keys += [k for k in (item.artwork_key, peaks_key(item.sha256)) if k]
        keys += list(self.storage.keys(asset_prefix(item.id) + "/"))
        keys += list(self.storage.keys(f"{EDITOR_ARTWORK}{item.sha256}/"))
        keys += [f"artwork/{item.sha256}.jpg"]  # taken from the file, if an editor's replaced it
        keys = list(dict.fromkeys(keys))
        for key in keys:
            self.storage.delete(key)
        log.info(
            "media item deleted; its stored files removed",
            extra={"media": item.id, "file": item.original_name, "files": len(keys)},
        )
        return len(keys)

    # --- reading and editing ------------------------------------------------------------

    def get(self, media_id: int) -> MediaItem:
        with self.db.session() as s:
            row = s.get(MediaRow, media_id, options=[selectinload(MediaRow.subtitles)])
            if row is None:
                raise NotFound(f"there is no media item {media_id}")
            return MediaItem.of(row)

    def list(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        q: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> Page[MediaItem]:
        """Newest first; `before_id` is the last id of the previous page."""
        stmt = (
            select(MediaRow).options(selectinload(MediaRow.subtitles)).order_by(MediaRow.id.desc())
        )
        if kind:
            stmt = stmt.where(MediaRow.kind == check_kind(kind))
        if status:
            stmt = stmt.where(MediaRow.status == status)
        if q:
            for word in q.casefold().split():
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                stmt = stmt.where(MediaRow.search_text.like(f"%{escaped}%", escape="\\"))
        if before_id is not None:
            stmt = stmt.where(MediaRow.id < before_id)
        with self.db.session() as s:
            rows = list(s.scalars(stmt.limit(limit + 1)))
            items = [MediaItem.of(r) for r in rows[:limit]]
        more = len(rows) > limit and items
        return Page(items, (items[-1].id,) if more else None)

    def update(self, media_id: int, expected_version: int, changes: Mapping[str, Any]) -> MediaItem:
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise MediaError(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
        with self.db.session() as s:
            row = s.get(MediaRow, media_id, options=[selectinload(MediaRow.subtitles)])
            if row is None:
                raise NotFound(f"there is no media item {media_id}")
            if row.version != expected_version:
                raise StaleVersion(
                    f"media item {media_id} changed since you read it (now version {row.version})"
                )
            if "kind" in changes:
                check_kind(changes["kind"])
            cue_in = changes.get("cue_in_ms", row.cue_in_ms) or 0
            cue_out = changes.get("cue_out_ms", row.cue_out_ms)
            if cue_out is not None and (cue_in < 0 or cue_out <= cue_in):
                raise MediaError("cue_out_ms must be after cue_in_ms, and cue_in_ms not negative")
            if row.duration_ms and cue_out is not None and cue_out > row.duration_ms:
                raise MediaError(f"cue_out_ms is past the end of the file ({row.duration_ms} ms)")
            for k, v in changes.items():
                setattr(row, k, dict(v) if k in DICTS else list(v) if k == "languages" else v)
            row.search_text = search_text(
                row.title,
                row.artist,
                row.album,
                *row.titles.values(),
                *(row.descriptions or {}).values(),
            )
            row.version += 1
            row.updated_at = self.clock.now()
            s.flush()
            return MediaItem.of(row)


def peaks_key(sha: str) -> str:
    """Where an item's waveform peaks are stored (JSON)."""
    return f"peaks/{sha}.json"


def log_analysed(media_id: int, a: Analysis) -> None:
    log.info(
        "file analysed",
        extra={
            "media": media_id,
            "duration_ms": a.duration_ms,
            "loudness_lufs": a.loudness_lufs,
            "true_peak_dbtp": a.true_peak_dbtp,
        },
    )


def library_handlers(
    lib: Library,
) -> dict[str, Callable[[dict[str, Any], ProgressReporter], Awaitable[None]]]:
    return {
        ANALYSE_JOB: lib.analyse_job,
        PACKAGE_JOB: lib.package_job,
        RETIRE_JOB: lib.publications.retire_job,
    }
