"""The one Settings object, read from the environment (prefix DIASPOR_) and an optional TOML file.

It is built once at start-up and handed down; nothing imports a global instance.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

MIN_SECRET = 16  # characters
MIN_JWT_SECRET = 32  # bytes of an HS256 key
# Passwords shipped in examples, earlier versions of docker-compose.yml and icecast2 itself.
KNOWN_DEFAULTS = frozenset(
    {
        "hackme",
        "changeme",
        "change-me",
        "password",
        "secret",
        "admin",
        "source",
        "letmein",
        "diaspor",
        "diaspor-local-only",
        "diaspor-app-local-only",
        "diaspor-root-local-only",
        "diaspor-source-local",
        "diaspor-relay-local",
        "diaspor-admin-local",
    }
)


COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
# An HTTP header's name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class RadioRelay(BaseModel):
    """An icecast2 relay of one region, pulling every mount from the master: listeners reach
    its mounts at `url` + the mount's path (`https://eu.diaspor.fm/listen/diaspor-fm.mp3`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    region: str = Field(min_length=1, max_length=200)
    url: str
    # ISO 3166-1 alpha-2 codes of the countries it is nearest to.
    countries: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        u = urlsplit(value.strip())
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(
                f"{value!r} is not an http(s) URL: give the base listeners reach the relay's "
                "mounts under, such as https://eu.diaspor.fm/listen"
            )
        return value.strip().rstrip("/")

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not COUNTRY_CODE.fullmatch(c)]
        if bad:
            raise ValueError(
                f"{', '.join(repr(c) for c in bad)}: a country is its ISO 3166-1 alpha-2 code, "
                "two letters (DE, TR, US)"
            )
        return tuple(c.upper() for c in value)


class Settings(BaseSettings):
    # validate_by_name: a field with other names in the environment (the database URL, the
    # metrics port) is still given by its own name in code and in the TOML file.
    model_config = SettingsConfigDict(env_prefix="DIASPOR_", extra="ignore", validate_by_name=True)

    # Where the embedded default keeps its database, storage and scratch files.
    data_dir: Path = Path("data")
    # SQLAlchemy URL. Empty means a SQLite file in data_dir. DATABASE_URL is accepted too,
    # as most hosting platforms set that name.
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DIASPOR_DATABASE_URL", "DATABASE_URL"),
    )

    # Storage of originals, artwork, HLS output: "local" (a folder) or "s3".
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None  # default: data_dir / "storage"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_part_size_mb: int = Field(default=16, ge=5)
    # Base URL at which storage objects are served (nginx/CDN in production). Empty means the
    # API serves them itself under /files/ (embedded default).
    public_storage_url: str = ""

    # ffmpeg: explicit paths win; else the system's; else the imageio-ffmpeg wheel's.
    ffmpeg_path: str | None = None
    ffprobe_path: str | None = None

    # Media library.
    max_upload_mb: int = Field(default=4096, gt=0)
    silence_threshold_db: float = -50.0
    silence_min_ms: int = Field(default=100, ge=10)
    # Longer files are refused at ingest: hours of silence fit in a few KiB and would hold a
    # worker for hours. Analysis is stopped (and retried later) after base + factor × the
    # file's duration.
    max_duration_s: int = Field(default=6 * 3600, gt=0)
    analysis_timeout_base_s: float = Field(default=60.0, ge=0)
    analysis_timeout_factor: float = Field(default=0.5, gt=0)
    # A resumable (tus) upload no byte has reached for this long is removed, with its part.
    upload_expiry_hours: float = Field(default=24, gt=0)

    # Job queue.
    job_max_attempts: int = Field(default=4, ge=1)
    job_retry_base_s: float = Field(default=5.0, gt=0)
    job_poll_s: float = Field(default=1.0, gt=0)

    # API and auth.
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how listeners reach the API; default http://host:port
    admin_token: SecretStr | None = None
    cors_origins: list[str] = ["*"]
    # Signing key of access JWTs, at least 32 bytes. Unset: a random one kept in
    # data_dir/jwt_secret (0600).
    jwt_secret: SecretStr | None = None
    access_token_ttl_s: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    # Sign-in attempts that may fail in the window from one client address, and for one
    # username from one address, before that address gets 429 (accounts/throttle.py).
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=300, ge=1)
    # Failures one username may collect from all addresses together in the window: high, so
    # strangers elsewhere cannot lock its owner out; bounded, so a guess spread over many
    # addresses stays slow.
    login_account_max_failures: int = Field(default=50, ge=1)
    # Addresses and usernames the sign-in throttle remembers at most (least recent forgotten).
    login_throttle_max_keys: int = Field(default=10_000, ge=100)
    # Who may tell the API the client's address (X-Forwarded-For) and scheme: the reverse
    # proxy's addresses or networks, comma-separated; empty trusts no one.
    trusted_proxies: str = "127.0.0.1,::1"

    # Radio on the built-in relay (embedded mode): where listeners and sources connect.
    relay_port: int = 8001
    relay_public_url: str = ""  # default http://host:relay_port
    source_password: SecretStr | None = None  # default: a new random one at each start
    radio_bitrate_kbps: int = Field(default=128, ge=32, le=320)
    # A second AAC mount (/<slug>-64.aac) and HLS rung at this rate, for phones on weak
    # networks; none when 0 or not below radio_bitrate_kbps.
    radio_low_bitrate_kbps: int = Field(default=64, ge=0, le=320)
    # The relay's listeners in all and from one address; past either, a 503 with Retry-After.
    relay_max_listeners: int = Field(default=10_000, ge=1)
    relay_max_listeners_per_address: int = Field(default=100, ge=1)
    # Where the radio goes: the built-in relay (embedded default) or an icecast2 server
    # (production; `diaspor playout` runs the engines and icecast2 serves listeners).
    radio_server: Literal["relay", "icecast"] = "relay"
    # The engine: ffmpeg + the station's mixer (default: sample-exact, live input, HLS), or
    # Liquidsoap (its request queue; no live input or HLS through it).
    radio_engine: Literal["ffmpeg", "liquidsoap"] = "ffmpeg"
    liquidsoap_path: str = "liquidsoap"
    icecast_url: str = "http://127.0.0.1:8000"  # how playout reaches icecast2
    icecast_public_url: str = ""  # how listeners reach it; default icecast_url
    icecast_admin_user: str = "admin"
    icecast_admin_password: SecretStr | None = None  # titles; else the source password
    # What icecast2 sends (HTTP Basic, user "icecast") when it asks the API whether a source
    # may use a live mount; unset, the API answers no such question (404).
    icecast_auth_secret: SecretStr | None = None
    # Live: presenters' credentials are good from this long before their slot to this long
    # after it; when their audio stops for live_grace_ms, the schedule resumes.
    live_margin_s: int = Field(default=300, ge=0)
    live_grace_ms: int = Field(default=3000, ge=0)
    hls_segment_s: int = Field(default=6, ge=1, le=30)
    # Regional icecast2 relays pulling every mount from the master, as JSON: a list of
    # {"name": "eu", "region": "Europe", "url": "https://eu.diaspor.fm/listen",
    # "countries": ["DE", "FR", "GB", "NL", "TR"]}; a mount is at url + its path. The API
    # lists them on each radio channel, those serving the listener's country (ISO 3166-1
    # alpha-2) first, then the others, each group in this order. Empty: none listed.
    radio_relays: list[RadioRelay] = []
    # A header the edge in front of the API (a CDN, nginx with GeoIP) sets to the client's
    # country, such as CF-IPCountry; believed only from DIASPOR_TRUSTED_PROXIES, so the edge
    # must set it on every request, replacing any the client sent. Empty: not read (only
    # ?country= orders the relays).
    country_header: str = ""
    # Across processes (`diaspor serve` beside `diaspor playout`): playout rewrites each
    # channel's status (streams, listeners) in storage this often; the API reads it and the
    # now-playing file this often (0: the API only knows what runs in its own process).
    onair_status_s: float = Field(default=5.0, gt=0)
    # The audience ledger: sessions are kept this many days after they end (then deleted
    # with everything about them); 0 keeps them for ever.
    audience_retention_days: int = Field(default=400, ge=0)
    # How often the background work rolls closed sessions up for the reports, ends those of
    # processes that died, and deletes what is past the retention (audience/upkeep.py).
    audience_upkeep_every_s: float = Field(default=60.0, gt=0)
    # `diaspor worker` receives nginx's reports of the /files/ requests it serves (HLS
    # players, downloads) over syslog on this UDP port (on `host`), for the audience ledger
    # (audience/edge_log.py; deploy/nginx.conf sends them); 0: not received.
    audience_syslog_port: int = Field(default=0, ge=0, le=65535)
    now_playing_follow_s: float = Field(default=1.0, ge=0)

    # TV: the HLS ladder every video asset is packaged into, once, at ingest. A rung is
    # "name:WIDTHxHEIGHT:video kbit/s"; every rung also carries AAC audio at tv_audio_kbps,
    # and an audio-only rendition is made too. Keyframes every tv_segment_s seconds in all
    # rungs, at tv_fps frames per second.
    tv_ladder: list[str] = ["720p:1280x720:2500", "480p:854x480:1200", "360p:640x360:700"]
    tv_audio_kbps: int = Field(default=128, ge=32, le=320)
    tv_segment_s: int = Field(default=6, ge=1, le=30)
    tv_fps: int = Field(default=25, ge=10, le=60)
    tv_window: int = Field(default=10, ge=3, le=100)  # segments in a live playlist
    tv_threads: int = Field(default=0, ge=0)  # ffmpeg threads when packaging; 0: all cores
    # A package replaced (re-packaged, or moved when an on-demand window closed) stays this
    # long: TV channels' live playlists may still list its segments (their window and lead,
    # (tv_window + 3) x tv_segment_s). The windows keeper looks for closed windows this often.
    package_retire_s: float = Field(default=300.0, ge=0)
    vod_windows_every_s: float = Field(default=60.0, gt=0)
    # TV live input: a studio's RTMP or SRT stream, transcoded live into the same ladder and
    # spliced into the channel (takeover: whenever it arrives; else only in "live" slots).
    tv_live_input: Literal["off", "rtmp", "srt"] = "off"
    tv_live_host: str = "0.0.0.0"  # a studio connects from elsewhere
    tv_live_port: int = Field(default=1935, ge=1, le=65535)  # the next channel: port + 1
    tv_live_secret: SecretStr | None = None  # stream key / passphrase; default random per start
    tv_live_gain_db: float = 0.0
    tv_live_grace_ms: int = Field(default=0, ge=0)  # 0: two target durations
    tv_live_takeover: bool = True
    tv_live_keep: int = Field(default=60, ge=3)  # live segments kept in storage
    tv_live_srt_latency_ms: int = Field(default=500, ge=20)

    # Supervision: a part that fails is started again after 0, 0.5, 1, 2 … restart_max_s
    # seconds; an essential one (a channel's engine or sequencer) that cannot be kept running
    # for give_up_s makes the process exit non-zero, for systemd or compose to restart it.
    # Long enough to ride out a database or storage outage of half a minute or more.
    restart_max_s: float = Field(default=8.0, gt=0)
    give_up_s: float = Field(default=120.0, gt=0)
    # The own HTTP port of `diaspor playout` and `diaspor worker` (on `host`): GET /health
    # (JSON; 503 once the process has given up) and GET /metrics (Prometheus); 0: none. The
    # API serves both on its own port. DIASPOR_PLAYOUT_HEALTH_PORT, its former name, is read.
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("DIASPOR_METRICS_PORT", "DIASPOR_PLAYOUT_HEALTH_PORT"),
    )

    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"DIASPOR_TRUSTED_PROXIES: {item!r} is not an IP address or network; list "
                    "the reverse proxy's addresses (trusting every address would let any "
                    "client choose the address the sign-in throttle sees)"
                ) from None
        return ",".join(items)

    @field_validator("radio_relays")
    @classmethod
    def _unique_relays(cls, value: list[RadioRelay]) -> list[RadioRelay]:
        names = [r.name for r in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"DIASPOR_RADIO_RELAYS: {', '.join(repr(n) for n in twice)} named more than "
                "once; each relay needs a name of its own"
            )
        return value

    @field_validator("country_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        value = value.strip()
        if value and not HEADER_NAME.fullmatch(value):
            raise ValueError(
                f"DIASPOR_COUNTRY_HEADER: {value!r} is not an HTTP header name (CF-IPCountry)"
            )
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.storage_dir is None:
            self.storage_dir = self.data_dir / "storage"
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'diaspor.db').as_posix()}"
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("DIASPOR_S3_BUCKET is required when DIASPOR_STORAGE_BACKEND=s3")
        return self

    def weak_secrets(self) -> list[str]:
        """Each secret that is set but is a known default or too short, said as the setting
        and why: outside the demo, `diaspor serve`, `worker` and `playout` refuse to start."""
        found = []
        secrets: dict[str, tuple[SecretStr | None, int]] = {
            "DIASPOR_SOURCE_PASSWORD": (self.source_password, MIN_SECRET),
            "DIASPOR_ICECAST_ADMIN_PASSWORD": (self.icecast_admin_password, MIN_SECRET),
            "DIASPOR_ICECAST_AUTH_SECRET": (self.icecast_auth_secret, MIN_SECRET),
            "DIASPOR_ADMIN_TOKEN": (self.admin_token, MIN_SECRET),
            "DIASPOR_JWT_SECRET": (self.jwt_secret, MIN_JWT_SECRET),
            "DIASPOR_S3_SECRET_ACCESS_KEY": (self.s3_secret_access_key, MIN_SECRET),
            "DIASPOR_TV_LIVE_SECRET": (self.tv_live_secret, MIN_SECRET),
        }
        url = make_url(self.database_url) if "://" in self.database_url else None
        if url is not None and url.password:
            secrets["the password in DIASPOR_DATABASE_URL"] = (SecretStr(url.password), MIN_SECRET)
        for name, (secret, least) in secrets.items():
            if secret is None:
                continue
            value = secret.get_secret_value()
            if value.casefold() in KNOWN_DEFAULTS or value.startswith("CHANGE-ME"):
                found.append(f"{name} is a known default password: set a secret of your own")
            elif len(value) < least:
                found.append(f"{name} is {len(value)} characters long: use at least {least}")
        return found

    @property
    def forwarded_allow_ips(self) -> list[str]:
        """trusted_proxies as uvicorn takes them."""
        return self.trusted_proxies.split(",") if self.trusted_proxies else []

    @property
    def staging_dir(self) -> Path:
        """Scratch space for uploads in flight and analysis; never served."""
        return self.data_dir / "staging"

    @property
    def partial_uploads_dir(self) -> Path:
        """Resumable uploads not yet finished (api/routes/uploads.py); never served."""
        return self.data_dir / "uploads"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def relay_url(self) -> str:
        return (self.relay_public_url or f"http://{self.host}:{self.relay_port}").rstrip("/")

    @property
    def radio_public_url(self) -> str:
        """The base of the radio's mount URLs as listeners see them."""
        if self.radio_server == "icecast":
            return (self.icecast_public_url or self.icecast_url).rstrip("/")
        return self.relay_url

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DIASPOR_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Environment, then the DIASPOR_CONFIG TOML file; explicit overrides win over both."""
    return Settings(**overrides)
