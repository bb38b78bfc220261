"""The `diaspor` command as an operator uses it: importing folders, settings files, tokens."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diaspor.compose import Station
from station.settings import Settings
from tests.conftest import AZ_TITLE, env_for
from tests.support import ebur128_integrated, tone

pytestmark = pytest.mark.runs(seconds=95)  # the file, as a whole: see conftest

DIASPOR = [sys.executable, "-m", "diaspor"]


def diaspor(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DIASPOR, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_importing_a_folder_finds_files_in_subfolders_with_their_subtitles(
    any_station: Station, media_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "gələn"
    (inbox / "musiqi" / "xalq").mkdir(parents=True)
    (inbox / "verilişlər").mkdir()
    shutil.copy(media_dir / "tone.mp3", inbox / "musiqi" / "xalq" / "tone.mp3")
    for name in ("episode.mp4", "episode.az.vtt", "episode.en.vtt"):
        shutil.copy(media_dir / name, inbox / "verilişlər" / name)
    (inbox / "oxu-məni.txt").write_text("qeyd", encoding="utf-8")  # not media: not picked up

    res = diaspor("media", "import", str(inbox), env=env_for(any_station.settings))
    assert res.returncode == 0, res.stderr + res.stdout
    assert "importing" in res.stderr and "analysing" in res.stderr  # the progress bars

    items = {m.original_name: m for m in any_station.library.list().items}
    assert set(items) == {"tone.mp3", "episode.mp4"}
    tone, episode = items["tone.mp3"], items["episode.mp4"]
    assert tone.status == episode.status == "ready"
    assert tone.title == AZ_TITLE
    assert tone.duration_ms == 10_500
    assert tone.loudness_lufs is not None
    assert (
        abs(
            tone.loudness_lufs
            - ebur128_integrated(any_station.tools.ffmpeg, media_dir / "tone.mp3")
        )
        <= 0.5
    )
    assert tone.cue_in_ms is not None and abs(tone.cue_in_ms - 1000) <= 50
    assert [s.lang for s in episode.subtitles] == ["az", "en"]
    assert episode.artwork_key and any_station.storage.exists(episode.artwork_key)


def test_a_refused_file_is_named_and_the_others_are_still_imported(
    station: Station, media_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(media_dir / "short.wav", inbox / "short.wav")
    (inbox / "saxta.mp3").write_bytes(b"ID3 but nothing else")
    res = diaspor("media", "import", str(inbox), env=env_for(station.settings))
    assert res.returncode == 1
    assert "saxta.mp3" in res.stdout and "refused" in res.stdout
    assert [m.original_name for m in station.library.list().items] == ["short.wav"]


def test_a_folder_is_analysed_several_files_at_once_and_a_broken_one_is_only_named(
    station: Station, tmp_path: Path
) -> None:
    """Files are worked on side by side (three at once here); the one that is cut short is
    refused on its own line, nothing of it is stored, and the others are measured."""
    ff = station.tools.ffmpeg
    inbox = tmp_path / "mahnılar"
    good = {
        f"{i} Mahnı {i}.mp3": tone(
            ff,
            inbox / f"{i} Mahnı {i}.mp3",
            seconds=3 + i,
            freq=300 + 50 * i,
            lead=0.5 * (i % 2),
            volume=0.2 + 0.1 * i,
            tags={"title": f"Mahnı {i} — ğışçöü"},
        )
        for i in range(1, 5)
    }
    whole = tone(ff, tmp_path / "yarımçıq.mp3", seconds=6, freq=700)
    (inbox / "yarımçıq.mp3").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    env = env_for(station.settings) | {"COLUMNS": "400"}  # the table's lines whole
    res = diaspor("media", "import", str(inbox), "--jobs", "3", env=env)
    assert res.returncode == 1, res.stderr + res.stdout  # one file was refused
    assert "importing and analysing" in res.stderr and "5/5" in res.stderr  # the progress
    assert "yarımçıq.mp3" in res.stdout and "truncated" in res.stdout

    items = {m.original_name: m for m in station.library.list().items}
    assert set(items) == set(good)
    for name, path in good.items():
        m = items[name]
        assert m.status == "ready" and m.loudness_lufs is not None, name
        assert abs(m.loudness_lufs - ebur128_integrated(ff, path)) <= 0.5
        assert m.true_peak_dbtp is not None and m.true_peak_dbtp < 0
        lead_ms = 500 * (int(name[0]) % 2)
        assert m.cue_in_ms is not None and abs(m.cue_in_ms - lead_ms) <= 50, name
        assert m.duration_ms == lead_ms + 1000 * (3 + int(name[0]))
    stored = list(station.storage.keys("originals/"))
    assert sorted(stored) == sorted(m.storage_key for m in items.values())


def test_a_missing_path_is_a_clear_error(station: Station, tmp_path: Path) -> None:
    res = diaspor("media", "import", str(tmp_path / "yoxdur"), env=env_for(station.settings))
    assert res.returncode == 2 and "Not found" in res.stderr


def test_settings_can_come_from_a_toml_file(tmp_path: Path) -> None:
    data = tmp_path / "from-toml"
    cfg = tmp_path / "diaspor.toml"
    cfg.write_text(f'data_dir = "{data}"\nlog_format = "json"\n', encoding="utf-8")
    env = env_for(Settings(data_dir=tmp_path / "unused"))
    for k in (
        "DIASPOR_DATA_DIR",
        "DIASPOR_DATABASE_URL",
        "DIASPOR_STORAGE_DIR",
        "DIASPOR_LOG_FORMAT",
    ):
        env.pop(k)
    res = diaspor(
        "--config", str(cfg), "token", "create", "--name", "BUTT", "--role", "presenter", env=env
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("dsp_")
    assert (data / "diaspor.db").is_file()  # the file's data_dir was used


def test_bad_settings_are_reported_not_traced(tmp_path: Path) -> None:
    env = env_for(Settings(data_dir=tmp_path))
    env["DIASPOR_STORAGE_BACKEND"] = "s3"
    env["DIASPOR_S3_BUCKET"] = ""
    res = diaspor("db", "upgrade", env=env)
    assert res.returncode == 2
    assert "DIASPOR_S3_BUCKET is required" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("role", ["dj"])
def test_an_unknown_role_is_refused(role: str, tmp_path: Path) -> None:
    res = diaspor(
        "token", "create", "--name", "x", "--role", role, env=env_for(Settings(data_dir=tmp_path))
    )
    assert res.returncode == 2 and "Unknown role" in res.stderr


def test_a_presenter_is_created_with_a_password_from_stdin_and_bad_input_is_explained(
    station: Station,
) -> None:
    env = env_for(station.settings)

    def user(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DIASPOR, "user", "create", *args, "--password-stdin"],
            env=env,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = user("aysel", "--name", "Aysel Məmmədova", password="bakı-küləyi-2026")
    assert made.returncode == 0, made.stderr
    assert "created presenter aysel (Aysel Məmmədova)" in made.stdout
    assert station.users.authenticate("aysel", "bakı-küləyi-2026") is not None
    assert "bakı-küləyi-2026" not in made.stdout + made.stderr
    for args, password, said in [
        (("aysel",), "another-long-one", "taken"),
        (("leyla", "--role", "boss"), "another-long-one", "unknown role"),
        (("leyla",), "short", "at least 10 characters"),
    ]:
        bad = user(*args, password=password)
        assert bad.returncode == 2 and said in bad.stderr + bad.stdout
    assert station.users.authenticate("leyla", "another-long-one") is None
    # Her stream key, printed once; a new one ends it; revoked, nothing opens.
    key = subprocess.run(
        [*DIASPOR, "user", "stream-key", "aysel"], env=env, capture_output=True, text=True
    )
    assert key.returncode == 0, key.stderr
    first = key.stdout.strip()
    assert station.stream_keys.verify("aysel", first) is not None
    second = subprocess.run(
        [*DIASPOR, "user", "stream-key", "aysel"], env=env, capture_output=True, text=True
    ).stdout.strip()
    assert station.stream_keys.verify("aysel", first) is None
    revoked = subprocess.run(
        [*DIASPOR, "user", "stream-key", "aysel", "--revoke"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert station.stream_keys.verify("aysel", second) is None
    nobody = subprocess.run(
        [*DIASPOR, "user", "stream-key", "nobody"], env=env, capture_output=True, text=True
    )
    assert nobody.returncode == 2 and "no user 'nobody'" in nobody.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["playout"]])
@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("DIASPOR_SOURCE_PASSWORD", "hackme", "known default"),
        ("DIASPOR_SOURCE_PASSWORD", "diaspor-source-local", "known default"),
        ("DIASPOR_ICECAST_ADMIN_PASSWORD", "CHANGE-ME-admin-password", "known default"),
        ("DIASPOR_ICECAST_AUTH_SECRET", "CHANGE-ME-icecast-auth-secret", "known default"),
        ("DIASPOR_JWT_SECRET", "only-twenty-characte", "at least 32"),
        ("DIASPOR_ADMIN_TOKEN", "short", "at least 16"),
        ("DIASPOR_DATABASE_URL", "postgresql://diaspor:diaspor-local-only@db/diaspor", "default"),
    ],
)
def test_a_process_refuses_to_start_with_a_default_or_short_secret(
    tmp_path: Path, command: list[str], name: str, value: str, said: str
) -> None:
    env = env_for(Settings(data_dir=tmp_path))
    env[name] = value
    res = diaspor(*command, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert name.removeprefix("the password in ") in res.stderr or "DATABASE_URL" in res.stderr
    assert said in res.stderr and "Traceback" not in res.stderr
    assert value not in res.stdout + res.stderr  # the secret itself is never said


def test_serve_refuses_to_start_on_a_short_signing_key_file(tmp_path: Path) -> None:
    """The signing key is checked at start, not at the first signed request (where a caller
    would only have been told that the station cannot answer)."""
    settings = Settings(data_dir=tmp_path)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "jwt_secret").write_text("short")
    res = diaspor("serve", env=env_for(settings))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "jwt_secret" in res.stderr and "Traceback" not in res.stderr
