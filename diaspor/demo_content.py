"""The demo catalogue, made with ffmpeg's lavfi sources so a newcomer hears a real station.

Music-like tones, a speech-like clip, jingles, a filler bed and three short video episodes of
"Vətən uzaqda deyil" with az/en/ru titles and WebVTT subtitles. Generated once, on first start.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from media.binaries import Tools
from media.process import run_tool

SR = 48000


@dataclass(frozen=True, slots=True)
class DemoFile:
    name: str
    kind: str
    title: str
    artist: str
    args: tuple[str, ...]  # ffmpeg arguments between the binary and the output file
    titles: dict[str, str] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    subtitles: dict[str, str] = field(default_factory=dict)  # lang -> WebVTT text


def tune(base: float, step: int, seconds: int) -> str:
    """A stereo aevalsrc expression: a stepping melody over a soft chord, with tremolo."""
    note = f"{base}*pow(2,mod(floor(t*2)*{step},12)/12)"
    left = (
        f"0.22*sin(2*PI*{note}*t)*(0.75+0.25*sin(2*PI*3*t))"
        f"+0.10*sin(2*PI*{base / 2}*t)+0.07*sin(2*PI*{base * 0.75}*t)"
    )
    right = (
        f"0.22*sin(2*PI*{note}*t+0.3)*(0.75+0.25*sin(2*PI*3*t+1))"
        f"+0.10*sin(2*PI*{base / 2}*t)+0.07*sin(2*PI*{base * 1.5}*t)"
    )
    return f"aevalsrc=exprs='{left}|{right}':s={SR}:d={seconds}"


def _audio(
    src: str,
    tags: dict[str, str],
    *,
    lead_s: float = 0.5,
    tail_s: float = 1.0,
    seconds: float,
    codec: tuple[str, ...] = ("-c:a", "libmp3lame", "-b:a", "192k"),
) -> tuple[str, ...]:
    # Silence before and after, as real files have: the analysis turns it into cue points.
    fade = f"afade=t=in:d=1,afade=t=out:st={seconds - 1.5}:d=1.5"
    af = f"{fade},adelay={int(lead_s * 1000)}|{int(lead_s * 1000)},apad=pad_dur={tail_s}"
    meta: list[str] = []
    for k, v in tags.items():
        meta += ["-metadata", f"{k}={v}"]
    return ("-f", "lavfi", "-i", src, "-af", af, *meta, *codec)


def _vtt(cues: list[tuple[float, float, str]]) -> str:
    def ts(s: float) -> str:
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"

    return "WEBVTT\n\n" + "\n".join(f"{ts(a)} --> {ts(b)}\n{text}\n" for a, b, text in cues)


EPISODES = [
    {
        "az": "Vətən uzaqda deyil — Berlin icması",
        "en": "Homeland Is Not Far — the Berlin community",
        "ru": "Родина недалеко — община Берлина",
        "lines": {
            "az": ["Xoş gəlmisiniz!", "Bu gün Berlində yaşayan soydaşlarımızla görüşürük."],
            "en": ["Welcome!", "Today we meet compatriots living in Berlin."],
            "ru": ["Добро пожаловать!", "Сегодня мы встречаемся с соотечественниками в Берлине."],
        },
    },
    {
        "az": "Vətən uzaqda deyil — Tbilisi görüşləri",
        "en": "Homeland Is Not Far — meetings in Tbilisi",
        "ru": "Родина недалеко — встречи в Тбилиси",
        "lines": {
            "az": ["Gürcüstanda yaşayan azərbaycanlılar", "Ana dili məktəbləri haqqında"],
            "en": ["Azerbaijanis living in Georgia", "About mother-tongue schools"],
            "ru": ["Азербайджанцы Грузии", "О школах родного языка"],
        },
    },
    {
        "az": "Vətən uzaqda deyil — Qarabağ haqqında 5 cümlə",
        "en": "Homeland Is Not Far — five sentences about Karabakh",
        "ru": "Родина недалеко — пять фраз о Карабахе",
        "lines": {
            "az": ["Qarabağ haqqında beş cümlə", "beş dildə"],
            "en": ["Five sentences about Karabakh", "in five languages"],
            "ru": ["Пять фраз о Карабахе", "на пяти языках"],
        },
    },
]

MUSIC = [
    ("Sarı gəlin (motiv)", "Diaspor.FM Orkestri", 196.0, 5, 48),
    ("Qarabağ şikəstəsi (motiv)", "Diaspor.FM Orkestri", 220.0, 7, 52),
    ("Ayrılıq (motiv)", "Şövkət Ələkbərova xatirəsinə", 174.6, 3, 44),
    ("Laçın (motiv)", "Diaspor.FM Orkestri", 246.9, 2, 50),
    ("Bəri bax (motiv)", "Gənclər ansamblı", 207.7, 9, 46),
    ("Çahargah üstündə improvizə", "Tarzən Ağa Əliyev", 185.0, 4, 56),
]


def catalogue(episode_seconds: int = 40) -> list[DemoFile]:
    files: list[DemoFile] = []
    for i, (title, artist, base, step, secs) in enumerate(MUSIC, 1):
        files.append(
            DemoFile(
                name=f"music-{i:02d}.mp3",
                kind="music",
                title=title,
                artist=artist,
                args=_audio(
                    tune(base, step, secs),
                    {
                        "title": title,
                        "artist": artist,
                        "album": "Diaspor.FM — demo",
                        "language": "aze",
                    },
                    seconds=secs,
                ),
                languages=("az",),
            )
        )
    speech = (
        "aevalsrc=exprs='(0.5*sin(2*PI*140*t)+0.3*sin(2*PI*280*t)+0.2*sin(2*PI*430*t)"
        "+0.1*sin(2*PI*610*t))*max(0,sin(2*PI*3.1*t))*gt(mod(t,4.3),0.5)*0.8'"
        f":s={SR}:c=mono:d=60"
    )
    files.append(
        DemoFile(
            name="xeberler.mp3",
            kind="speech",
            title="Xəbərlər: diaspor həyatından",
            artist="Diaspor.FM xəbər xidməti",
            args=_audio(
                speech,
                {
                    "title": "Xəbərlər: diaspor həyatından",
                    "artist": "Diaspor.FM xəbər xidməti",
                    "genre": "Speech",
                    "language": "aze",
                },
                seconds=60,
                lead_s=0.2,
                tail_s=0.5,
            ),
            languages=("az",),
        )
    )
    for i, (title, base) in enumerate(
        [("Diaspor.FM — stansiya nişanı", 523.3), ("Diaspor.FM — saat başı", 440.0)], 1
    ):
        files.append(
            DemoFile(
                name=f"jingle-{i}.mp3",
                kind="jingle",
                title=title,
                artist="Diaspor.FM",
                args=_audio(
                    tune(base, 4, 5),
                    {"title": title, "artist": "Diaspor.FM"},
                    seconds=5,
                    lead_s=0.05,
                    tail_s=0.3,
                ),
            )
        )
    files.append(
        DemoFile(
            name="fon.mp3",
            kind="filler",
            title="Fon musiqisi",
            artist="Diaspor.FM",
            args=_audio(
                tune(130.8, 1, 30),
                {"title": "Fon musiqisi", "artist": "Diaspor.FM"},
                seconds=30,
                lead_s=0.0,
                tail_s=0.0,
            ),
        )
    )
    for n, ep in enumerate(EPISODES, 1):
        secs = episode_seconds
        lines = ep["lines"]
        assert isinstance(lines, dict)
        subs = {}
        for lang, texts in lines.items():
            half = secs / 2
            subs[lang] = _vtt([(1.0, half - 1, texts[0]), (half, secs - 1.0, texts[1])])
        tone = f"sine=f={330 + 55 * n}:sample_rate={SR}:d={secs}"
        video = f"testsrc2=s=1280x720:r=25:d={secs}"
        files.append(
            DemoFile(
                name=f"veten-uzaqda-deyil-{n:02d}.mp4",
                kind="programme",
                title=str(ep["az"]),
                artist="Diaspor TV",
                titles={"az": str(ep["az"]), "en": str(ep["en"]), "ru": str(ep["ru"])},
                languages=("az",),
                args=(
                    "-f",
                    "lavfi",
                    "-i",
                    video,
                    "-f",
                    "lavfi",
                    "-i",
                    tone,
                    "-af",
                    "volume=0.3",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-g",
                    "50",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                    "-shortest",
                    "-metadata",
                    f"title={ep['az']}",
                    "-metadata",
                    "artist=Diaspor TV",
                    "-metadata:s:a:0",
                    "language=aze",
                    "-movflags",
                    "+faststart",
                ),
                subtitles=subs,
            )
        )
    return files


Progress = Callable[[int, int, str], Awaitable[None] | None]


async def generate(dest: Path, tools: Tools, on_file: Progress | None = None) -> list[DemoFile]:
    """Write every demo file (and its subtitles) into dest, a few at once; skip those there."""
    dest.mkdir(parents=True, exist_ok=True)
    files = catalogue()
    slots = asyncio.Semaphore(max(1, (os.cpu_count() or 1)))
    done = 0

    async def make(f: DemoFile) -> None:
        nonlocal done
        out = dest / f.name
        if not out.exists():
            tmp = dest / f".{f.name}.part{out.suffix}"
            args = [tools.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *f.args]
            async with slots:
                res = await run_tool([*args, str(tmp)])
            if not res.ok:
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"could not make demo file {f.name}: {res.last_error_line()}")
            tmp.replace(out)
        for lang, text in f.subtitles.items():
            (dest / f"{out.stem}.{lang}.vtt").write_text(text, encoding="utf-8")
        done += 1
        if on_file:
            r = on_file(done, len(files), f.name)
            if asyncio.iscoroutine(r):
                await r

    await asyncio.gather(*(make(f) for f in files))
    return files
