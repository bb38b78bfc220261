"""docker-compose.yml, the Dockerfile and deploy/ describe production; they must agree with the
code: settings it reads, commands it has, the bucket it writes to, the files it mounts."""

from __future__ import annotations

import importlib.metadata
import ipaddress
import os
import re
import shlex
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from pydantic import AliasChoices
from sqlalchemy.engine import make_url

from diaspor.cli import app
from diaspor.fallback import fallback_outputs
from playout.radio_channel import mounts_of
from station.settings import Settings
from streamer.fallback_source import fallback_mount
from streamer.icy import metaint_for

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "requirements.lock"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
ICECAST_XML = ROOT / "deploy" / "icecast.xml"

PREFIX = "DIASPOR_"
REQUIRED_SERVICES = {"api", "worker", "postgres", "minio", "minio-init", "icecast", "nginx"}
DUMMY = "dummy-value-for-the-test"


# --- reading the files --------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


_VAR = re.compile(
    r"\$\$"  # an escaped dollar
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^{}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, variables: Mapping[str, str] | None = None) -> str:
    """Compose's ${...}. Without `variables` none is set: defaults are used, required ones get
    a dummy. With them, those are set, and one needed but missing is an error."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        if variables is not None and name in variables:
            given = variables[name]
            if op in (":+", "+") or (op == ":-" and not given):
                return interpolate(arg, variables) if op != ":+" or given else ""
            return given
        if op in (":-", "-"):
            return interpolate(arg, variables)
        if op in (":+", "+"):
            return ""  # the alternative applies only when the variable is set
        if variables is not None:
            raise AssertionError(f"docker-compose.yml needs {name}, which is not set")
        return DUMMY

    return _VAR.sub(one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as written (list or mapping form), values not interpolated."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {k: v for k, _, v in pairs}
    return {
        k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in env.items()
    }


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def dockerfile_lines() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = (ln.strip() for ln in text.splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for ln in dockerfile_lines():
        if ln.upper().startswith("ENV "):
            for pair in shlex.split(ln[4:]):
                k, sep, v = pair.partition("=")
                assert sep, f"use ENV KEY=value in the Dockerfile: {ln}"
                env[k] = v
    return env


def dockerfile_cmd() -> list[str]:
    cmds = [ln for ln in dockerfile_lines() if ln.upper().startswith("CMD ")]
    assert cmds, "the Dockerfile has no CMD"
    return argv(yaml.safe_load(cmds[-1][4:]))


def dockerfile_copies() -> list[list[str]]:
    """Each COPY's sources (flags such as --chown dropped); none copies from another stage."""
    copies = []
    for ln in dockerfile_lines():
        if ln.upper().startswith("COPY "):
            words = [w for w in shlex.split(ln[5:]) if not w.startswith("--")]
            assert len(words) >= 2, ln
            copies.append(words[:-1])
    return copies


def pip_installs() -> list[tuple[int, list[str]]]:
    """Each `pip install` the Dockerfile runs: its instruction's index and its arguments."""
    runs = []
    for i, ln in enumerate(dockerfile_lines()):
        if ln.upper().startswith("RUN "):
            for command in re.split(r"&&|;", ln[4:]):
                words = shlex.split(command)
                if words[:2] == ["pip", "install"] or words[1:4] == ["-m", "pip", "install"]:
                    runs.append((i, words[words.index("install") + 1 :]))
    return runs


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)


def read_lock(text: str) -> dict[str, Pin]:
    """requirements.lock as pip reads it: `name==version \\ --hash=sha256:… \\ …`, comments out."""
    pins: dict[str, Pin] = {}
    for ln in text.replace("\\\n", " ").splitlines():
        ln = ln.partition(" #")[0].strip()
        if not ln or ln.startswith("#"):
            continue
        head, *options = ln.split()
        req = Requirement(head)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not pinned with ==: {ln}"
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=")]
        assert len(hashes) == len(options), f"an option other than --hash: {ln}"
        pins[canonicalize_name(req.name)] = Pin(specs[0].version, hashes)
    return pins


class DockerIgnore:
    """.dockerignore read the way Docker reads it: patterns in order, the last that matches a
    path or one of its parent folders decides, `!` lets back in; `*` and `?` stay within one
    path element, `**` crosses any number."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[re.Pattern[str], bool]] = []
        for raw in text.splitlines():
            pattern = raw.strip()
            if not pattern or pattern.startswith("#"):
                continue
            keep = pattern.startswith("!")
            pattern = os.path.normpath(pattern.removeprefix("!").strip()).lstrip("/")
            self.rules.append((re.compile(self.regex(pattern)), keep))

    @staticmethod
    def regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out

    def excluded(self, path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for rx, keep in self.rules:
            if any(rx.fullmatch(p) for p in prefixes):
                verdict = not keep
        return verdict


def settings_env_names() -> set[str]:
    """Every environment name Settings reads: DIASPOR_<field>, plus aliases such as DATABASE_URL."""
    names = {PREFIX + name.upper() for name in Settings.model_fields}
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {c for c in alias.choices if isinstance(c, str)}
        elif isinstance(alias, str):
            names.add(alias)
    # Not a field: the TOML settings file, read in Settings.settings_customise_sources.
    names.add("DIASPOR_CONFIG")
    return names


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from exactly this environment, as a container would see it."""
    read = settings_env_names()
    for k in list(os.environ):
        if k.startswith(PREFIX) or k in read:
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings()


def container_env(
    service: dict[str, Any], variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The image's ENV, overridden by the service's environment, as Docker combines them
    (compose's variables: `interpolate`)."""
    env = dockerfile_env() if "build" in service else {}
    env.update({k: interpolate(v, variables) for k, v in environment(service).items()})
    return env


# --- the diaspor CLI ----------------------------------------------------------------------


def cli_command(args: list[str]) -> Any:
    """The `diaspor` subcommand these arguments run; fails on unknown commands or options."""
    assert args and args[0] == "diaspor", f"not a diaspor command: {args}"
    cmd: Any = typer.main.get_command(app)
    rest = args[1:]
    path = ["diaspor"]
    # A group is whatever has subcommands (typer's groups are not click.Group subclasses).
    while isinstance(getattr(cmd, "commands", None), dict) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in cmd.commands, f"`{' '.join(path)}` has no subcommand {name!r}"
        cmd = cmd.commands[name]
        path.append(name)
    assert not getattr(cmd, "commands", None), f"`{' '.join(path)}` needs a subcommand"
    options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    for a in rest:
        if a.startswith("--"):
            opt = a.split("=", 1)[0]
            assert opt in options, f"`{' '.join(path)}` has no option {opt}"
    return cmd


# --- nginx.conf, read as blocks -----------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def find(self, name: str, *args: str) -> list[Directive]:
        """Directives with this name (and these leading arguments) anywhere below this one."""
        found = []
        for d in self.children:
            if d.name == name and d.args[: len(args)] == list(args):
                found.append(d)
            found += d.find(name, *args)
        return found

    def value(self, name: str) -> list[str]:
        """Arguments of the first direct child called `name`."""
        for d in self.children:
            if d.name == name:
                return d.args
        raise AssertionError(f"no {name} in {self.name} {' '.join(self.args)}")


_TOKEN = re.compile(r"""#[^\n]*|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[{};]|[^\s{};'"#][^\s{};'"]*""")


def parse_nginx(text: str) -> Directive:
    """nginx's grammar: `name args;` or `name args { ... }`, # comments, quoted strings."""
    root = Directive("main", [])
    stack = [root]
    words: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok.startswith("#"):
            continue
        if tok == ";":
            assert words, "an empty statement in nginx.conf"
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif tok == "{":
            assert words, "a block without a name in nginx.conf"
            d = Directive(words[0], words[1:])
            stack[-1].children.append(d)
            stack.append(d)
            words = []
        elif tok == "}":
            assert not words and len(stack) > 1, "unbalanced braces in nginx.conf"
            stack.pop()
        else:
            words.append(tok[1:-1] if tok[0] in "'\"" else tok)
    assert len(stack) == 1 and not words, "nginx.conf ends inside a block or statement"
    return root


@pytest.fixture(scope="module")
def nginx() -> Directive:
    return parse_nginx(NGINX_CONF.read_text(encoding="utf-8"))


def location(nginx: Directive, *match: str) -> Directive:
    found = nginx.find("location", *match)
    assert len(found) == 1, f"expected one `location {' '.join(match)}` in nginx.conf"
    return found[0]


def upstream_servers(nginx: Directive, name: str) -> list[str]:
    (up,) = nginx.find("upstream", name)
    return [d.args[0] for d in up.children if d.name == "server"]


def proxied_to(nginx: Directive, loc: Directive) -> tuple[str, str]:
    """(service:port, path) a location's proxy_pass sends requests to, through its upstream
    of one compose service (whose name Docker's DNS answers with every replica)."""
    url = urlsplit(loc.value("proxy_pass")[0])
    assert url.scheme == "http"
    (service,) = upstream_servers(nginx, url.netloc)
    return service, url.path


def cache_control_for(nginx: Directive, uri: str) -> str:
    """What the `map $uri $files_cache_control` gives for a URI, the way nginx picks it."""
    (m,) = nginx.find("map", "$uri", "$files_cache_control")
    default = ""
    for entry in m.children:
        key, val = entry.name, entry.args[0]
        if key == "default":
            default = val
        elif key.startswith("~*"):
            if re.search(key[2:], uri, re.IGNORECASE):
                return val
        elif key.startswith("~"):
            if re.search(key[1:], uri):
                return val
        elif key == uri:
            return val
    return default


def max_age(cache_control: str) -> int:
    m = re.search(r"max-age=(\d+)", cache_control)
    assert m, f"no max-age in {cache_control!r}"
    return int(m.group(1))


# --- the services -------------------------------------------------------------------------


def test_production_has_every_service_and_each_starts_from_an_image_or_a_build(
    services: dict[str, dict[str, Any]],
) -> None:
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name} has neither image nor build"
    assert services["postgres"]["image"] == "postgres:15"
    assert services["nginx"]["image"] == "nginx:stable"
    assert "icecast" in services["icecast"]["image"]
    assert services["minio-init"]["image"].startswith("minio/mc")


def test_api_and_worker_are_built_from_the_dockerfile_at_the_root(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        build = services[name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (ROOT / context).resolve() == ROOT, f"{name} is not built from the repository"
        assert (ROOT / context / dockerfile).is_file()
    lines = dockerfile_lines()
    # Pinned by tag to the patch release and the Debian release (a digest may follow).
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", lines[0])
    assert any("apt-get install" in ln and "ffmpeg" in ln for ln in lines)
    users = [ln.split()[1] for ln in lines if ln.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"


def test_the_image_holds_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns}
    copied = {source for sources in dockerfile_copies() for source in sources}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    assert any(args[-1] in ("/src", ".") for _, args in pip_installs())


# --- pinned dependencies: requirements.lock and .dockerignore ------------------------------


def test_the_image_installs_the_lock_by_hash_then_the_project_without_resolving() -> None:
    lines = dockerfile_lines()
    installs = pip_installs()
    assert len(installs) == 2, f"two pip installs, the lock and the project: {installs}"
    (at_lock, lock_args), (at_project, project_args) = installs
    assert lock_args == ["--require-hashes", "-r", LOCK.name]
    assert project_args[-1] == "/src" and "--no-deps" in project_args
    # The project is built by the lock's setuptools, not one fetched for an isolated build.
    assert "--no-build-isolation" in project_args
    # The lock is copied alone and installed before the sources come: a change to the code
    # leaves the dependencies' layer cached.
    copy_lock = lines.index(f"COPY {LOCK.name} ./")
    first_source = min(i for i, ln in enumerate(lines) if ln.startswith("COPY pyproject.toml"))
    assert copy_lock < at_lock < first_source < at_project
    assert "WORKDIR /src" in lines[:copy_lock]


def test_every_dependency_the_project_declares_is_pinned_in_the_lock_with_a_hash() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    for pin in pins.values():  # --require-hashes refuses a requirement without one
        assert pin.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes)
    declared = pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]
    for line in declared:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {LOCK.name}: run `make lock`"
        assert req.specifier.contains(pins[name].version), f"{line} vs {pins[name].version}"
        # An extra's own requirements, as the installed distribution declares them.
        for extra in req.extras:
            requires = [Requirement(r) for r in importlib.metadata.requires(req.name) or []]
            wanted = [r for r in requires if r.marker and r.marker.evaluate({"extra": extra})]
            assert wanted, f"{req.name}[{extra}] requires nothing here"
            for sub in wanted:
                pin = pins.get(canonicalize_name(sub.name))
                assert pin, f"{sub.name} ({line}) is not in {LOCK.name}: run `make lock`"
                assert sub.specifier.contains(pin.version), f"{sub} ({line}) vs {pin.version}"


def test_the_lock_names_no_index_and_is_for_the_images_python() -> None:
    text = LOCK.read_text(encoding="utf-8")
    for ln in text.splitlines():
        option = ln.strip().split(" ")[0].split("=")[0]
        assert option not in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links")
        assert option != "--trusted-host", ln
    assert not re.search(r"[a-z][a-z0-9+.-]*://[^/\s]", text), "a URL with a host in the lock"
    made_with = re.search(r"autogenerated by pip-compile with Python (\d+\.\d+)", text)
    assert made_with, "the lock does not say which Python it was made with"
    base = re.fullmatch(r"FROM python:(\d+\.\d+)\..*", dockerfile_lines()[0])
    assert base and base.group(1) == made_with.group(1)
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert Version(made_with.group(1)) in SpecifierSet(requires_python["requires-python"])


def test_the_build_context_holds_what_the_dockerfile_copies_and_leaves_the_rest_out() -> None:
    ignore = DockerIgnore(DOCKERIGNORE.read_text(encoding="utf-8"))
    sources = [source for sources in dockerfile_copies() for source in sources]
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not here"
        assert not ignore.excluded(source), f".dockerignore leaves out {source}, which is copied"
        if (ROOT / source).is_dir():
            for path in (ROOT / source).rglob("*"):
                rel = path.relative_to(ROOT).as_posix()
                if path.is_file() and "__pycache__" not in path.parts:
                    assert not ignore.excluded(rel), f".dockerignore leaves out {rel}"
    for left_out in (
        ".venv/bin/python", ".git/HEAD", "demo-data/station.db", "data/x", "tests/test_cli.py",
        "bench/api.py", "docs/architecture.md", "clients/node_modules/x/index.js",
        "api/static/node_modules/x.js", "station/__pycache__/clock.cpython-311.pyc",
        ".mypy_cache/x", ".pytest_cache/x", ".ruff_cache/x", ".hypothesis/x",
        "diaspor.egg-info/PKG-INFO", "build/lib/x.py", "diaspor/local.db", "Makefile",
    ):  # fmt: skip
        assert ignore.excluded(left_out), f".dockerignore lets {left_out} into the build"


# --- settings -----------------------------------------------------------------------------


def test_every_setting_in_compose_is_one_the_code_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    known = settings_env_names()
    used: dict[str, set[str]] = {}
    for name, svc in services.items():
        for key in environment(svc):
            if key.startswith(PREFIX) or key in known:
                used.setdefault(key, set()).add(name)
    assert used, "no DIASPOR_* settings in docker-compose.yml"
    unknown = {k: sorted(v) for k, v in used.items() if k not in known}
    assert not unknown, f"settings the code does not read (a typo?): {unknown}"


def test_every_setting_the_image_sets_is_one_the_code_reads() -> None:
    env = dockerfile_env()
    ours = {k for k in env if k.startswith(PREFIX)}
    assert ours, "the Dockerfile sets no DIASPOR_* defaults"
    assert ours <= settings_env_names(), ours - settings_env_names()


def test_the_settings_checker_would_catch_a_misspelt_name() -> None:
    known = settings_env_names()
    assert "DIASPOR_S3_BUCKET" in known and "DATABASE_URL" in known
    assert "DIASPOR_S3_BUCKETS" not in known and "DIASPOR_DATABASE" not in known


def test_settings_load_from_the_api_environment_as_production_needs(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings_from(container_env(services["api"]), monkeypatch)
    assert s.storage_backend == "s3"
    assert s.database_url.startswith("postgresql://")
    assert s.s3_bucket
    assert s.s3_endpoint_url and urlsplit(s.s3_endpoint_url).hostname in services
    assert s.s3_access_key_id and s.s3_secret_access_key is not None
    assert s.admin_token is not None and s.admin_token.get_secret_value() == DUMMY
    assert s.log_format == "json"
    assert s.cors_origins, "DIASPOR_CORS_ORIGINS must parse as a JSON list"
    assert s.public_storage_url.rstrip("/").endswith("/files")
    assert s.public_storage_url.startswith(s.base_url)
    assert s.host == "0.0.0.0" and s.port == 8000
    assert s.data_dir == Path("/var/lib/diaspor")


def test_the_api_believes_forwarded_headers_only_from_nginx(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client address the sign-in throttle counts comes from X-Forwarded-For only when
    nginx sent it: the api trusts nginx's fixed address, and no container can take it."""
    for env in (environment(services["api"]), dockerfile_env()):
        assert "FORWARDED_ALLOW_IPS" not in env, "uvicorn's own setting bypasses ours"
    s = settings_from(container_env(services["api"]), monkeypatch)
    nets = services["nginx"].get("networks") or {}
    addresses = [interpolate(str(n["ipv4_address"])) for n in nets.values() if n]
    assert len(addresses) == 1, "nginx needs one fixed address on the api's network"
    assert s.forwarded_allow_ips == addresses
    nginx = ipaddress.ip_address(addresses[0])
    (net_name,) = nets
    assert net_name in (services["api"].get("networks") or ["default"])
    (pool,) = compose["networks"][net_name]["ipam"]["config"]
    assert nginx in ipaddress.ip_network(pool["subnet"])
    assert nginx not in ipaddress.ip_network(pool["ip_range"]), "another container could take it"


def test_api_worker_and_migrations_share_one_database_and_one_bucket(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = {}
    for name in ("api", "worker", "migrate"):
        if name in services:
            s = settings_from(container_env(services[name]), monkeypatch)
            loaded[name] = (s.database_url, s.storage_backend, s.s3_bucket, s.s3_endpoint_url)
    assert len(set(loaded.values())) == 1, loaded


def test_the_database_url_names_the_postgres_service_and_its_credentials(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings_from(container_env(services["api"]), monkeypatch)
    url = make_url(s.database_url)
    pg = {k: interpolate(v) for k, v in environment(services["postgres"]).items()}
    assert url.host == "postgres" and (url.port or 5432) == 5432
    assert url.username == pg["POSTGRES_USER"]
    assert url.password == pg["POSTGRES_PASSWORD"]
    assert url.database == pg["POSTGRES_DB"] == "diaspor"


def test_the_bucket_the_code_writes_is_the_one_created_and_the_one_nginx_serves(
    services: dict[str, dict[str, Any]], nginx: Directive, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings_from(container_env(services["api"]), monkeypatch)
    init = services["minio-init"]
    script = interpolate(" ".join(argv(init.get("entrypoint") or []) + argv(init["command"])))
    assert re.search(rf"mc mb\b.*\s\S+/{re.escape(s.s3_bucket)}\s", script), script
    assert re.search(rf"mc anonymous set download \S+/{re.escape(s.s3_bucket)}\s", script)

    service, path = proxied_to(nginx, location(nginx, "/files/"))
    assert service == "minio:9000"
    assert path == f"/{s.s3_bucket}/", "nginx serves a different bucket than the code writes"
    assert urlsplit(s.public_storage_url).path.rstrip("/") + "/" == "/files/"


# --- commands and start-up order ----------------------------------------------------------


def test_api_and_worker_run_real_diaspor_commands(services: dict[str, dict[str, Any]]) -> None:
    assert cli_command(argv(services["api"]["command"])).name == "serve"
    assert cli_command(argv(services["worker"]["command"])).name == "worker"
    for svc in services.values():
        if "build" in svc and "command" in svc:
            cli_command(argv(svc["command"]))  # every one-off (migrations...) is real too
    assert cli_command(dockerfile_cmd()).name == "serve"


def test_two_playouts_one_standing_by_with_the_same_settings_and_their_own_scratch(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/architecture.md, "Hot standby": two `diaspor playout` on the one PostgreSQL
    database (the lock is there), the same settings, a healthcheck on their own answer."""
    a, b = services["playout"], services["playout-standby"]
    assert cli_command(argv(a["command"])).name == "playout"
    assert argv(a["command"]) == argv(b["command"])
    assert environment(a) == environment(b)
    s = settings_from(container_env(a), monkeypatch)
    assert make_url(s.database_url).get_backend_name() == "postgresql"
    check = " ".join(argv(a["healthcheck"]["test"]))
    assert f"127.0.0.1:{s.metrics_port}/health" in check, check
    assert a["healthcheck"] == b["healthcheck"]
    scratch = [{v.split(":", 1)[0] for v in svc["volumes"]} for svc in (a, b)]
    assert not scratch[0] & scratch[1], scratch


def test_the_command_checker_would_catch_a_command_or_option_the_cli_lacks() -> None:
    with pytest.raises(AssertionError, match="no subcommand"):
        cli_command(["diaspor", "serv"])
    with pytest.raises(AssertionError, match="no option"):
        cli_command(["diaspor", "worker", "--port", "8000"])
    with pytest.raises(AssertionError, match="needs a subcommand"):
        cli_command(["diaspor", "db"])
    assert cli_command(["diaspor", "db", "upgrade"]).name == "upgrade"


def test_services_wait_until_what_they_need_is_ready(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: give depends_on with conditions"
        for dep, how in deps.items():
            assert dep in services, f"{name} depends on a service that does not exist: {dep}"
            condition = how.get("condition")
            if condition == "service_healthy":
                check = services[dep].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{dep}: no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", f"{dep} is not a one-shot"
            else:
                assert condition == "service_started", f"{name} -> {dep}: {condition}"
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["minio-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_the_api_healthcheck_asks_its_health_route_and_postgres_uses_pg_isready(
    services: dict[str, dict[str, Any]],
) -> None:
    api_check = " ".join(argv(services["api"]["healthcheck"]["test"]))
    assert "http://127.0.0.1:8000/health" in api_check or "localhost:8000/health" in api_check
    assert "8000" in argv(services["api"]["command"])
    pg_check = " ".join(argv(services["postgres"]["healthcheck"]["test"]))
    assert "pg_isready" in pg_check


def one_shot(service: dict[str, Any]) -> bool:
    """A service that runs once and ends (migrations, the bucket's set-up)."""
    return str(service.get("restart", "no")) == "no"


def test_every_service_that_keeps_running_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    checked = set()
    for name, svc in services.items():
        if one_shot(svc):
            assert "healthcheck" not in svc, f"{name} ends by itself: a healthcheck cannot pass"
            continue
        check = svc.get("healthcheck") or {}
        test = check.get("test")
        assert test and not check.get("disable"), f"{name} has no healthcheck"
        assert argv(test)[0] in ("CMD", "CMD-SHELL"), f"{name}: {test}"
        checked.add(name)
    assert {"api", "playout", "worker", "postgres", "minio", "icecast", "nginx"} <= checked
    assert {name for name, svc in services.items() if one_shot(svc)} == {"migrate", "minio-init"}


@pytest.mark.parametrize("name", ["playout", "worker"])
def test_playout_and_the_worker_are_checked_on_the_port_their_settings_open(
    name: str, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`diaspor playout` and `diaspor worker` answer /health and /metrics on
    DIASPOR_METRICS_PORT, which their environment must set, and their healthcheck asks."""
    svc = services[name]
    assert cli_command(argv(svc["command"])).name == name
    s = settings_from(container_env(svc), monkeypatch)
    assert s.metrics_port, f"{name} sets no DIASPOR_METRICS_PORT: nothing would answer"
    check = " ".join(argv(svc["healthcheck"]["test"]))
    assert f"http://127.0.0.1:{s.metrics_port}/health" in check, check
    assert str(s.metrics_port) in [str(p) for p in svc.get("expose", [])]  # for Prometheus


def test_icecast_and_nginx_are_checked_with_what_their_images_have(
    services: dict[str, dict[str, Any]], nginx: Directive
) -> None:
    """Neither image has curl, wget or Python; both have bash, whose /dev/tcp asks."""
    for name, port, path in (("icecast", 8000, "/status-json.xsl"), ("nginx", 80, "/nginx-health")):
        test = argv(services[name]["healthcheck"]["test"])
        assert test[:3] == ["CMD", "bash", "-c"], test
        assert f"/dev/tcp/127.0.0.1/{port}" in test[3] and f"GET {path} " in test[3], test
        assert "' 200 '" in test[3], "the check must fail on anything but 200"
    # nginx answers its own check (not the api's: that one has a healthcheck of its own).
    own = location(nginx, "=", "/nginx-health")
    assert own.value("return")[0] == "200" and not own.find("proxy_pass")
    assert services["playout"]["depends_on"]["icecast"]["condition"] == "service_healthy"


# --- mounted files ------------------------------------------------------------------------


def test_files_that_compose_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    mounted = set()
    for name, svc in services.items():
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith(("./", "../")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
                mounted.add(source)
    assert {"./deploy/nginx.conf", "./deploy/icecast.xml"} <= mounted


def test_icecast_config_is_well_formed_with_a_source_password_and_utf8_mounts(
    services: dict[str, dict[str, Any]],
) -> None:
    root = ET.parse(ICECAST_XML).getroot()
    assert root.tag == "icecast"
    assert (root.findtext("authentication/source-password") or "").strip()
    assert (root.findtext("authentication/admin-password") or "").strip()
    mounts = {
        (m.get("type") or "normal", (m.findtext("mount-name") or "").strip()): m
        for m in root.findall("mount")
    }
    for key in (("default", ""), ("normal", "/diaspor-fm.mp3"), ("normal", "/diaspor-fm-live")):
        assert key in mounts, f"no {key[0]} mount {key[1]}"
        assert (mounts[key].findtext("charset") or "").strip() == "UTF-8"
    # The low-bitrate AAC mount a channel makes by default has its shorter title interval
    # (half a second of its audio, as the relay gives it).
    defaults = Settings.model_fields
    top, rate = defaults["radio_bitrate_kbps"].default, defaults["radio_low_bitrate_kbps"].default
    low = mounts_of("diaspor-fm", top, rate)[-1]
    assert low.path == "/diaspor-fm-64.aac"
    interval = mounts[("normal", low.path)].findtext("mp3-metadata-interval")
    assert interval == str(metaint_for(low.bitrate_kbps)) == "4096"
    # ... and its burst: as many seconds as the others' (the limits' 64 KiB at 128 kbit/s).
    burst = int(mounts[("normal", low.path)].findtext("burst-size") or 0)
    limit = int(root.findtext("limits/burst-size") or 0)
    assert burst == pytest.approx(limit * low.bitrate_kbps / 128, abs=1)
    # Presenters are let in by the API (icecast2's URL authentication), at the api service.
    auth = mounts[("normal", "/diaspor-fm-live")].find("authentication")
    assert auth is not None and auth.get("type") == "url"
    option = {o.get("name"): o.get("value") for o in auth.findall("option")}
    assert option["stream_auth"] == "http://api:8000/api/v1/live/icecast-auth"
    assert "api" in services
    # ... with the secret the api checks, which compose takes from the operator and sed
    # writes in at start (the file itself holds only a placeholder that nothing accepts).
    assert option["username"] == "icecast"
    placeholder = option["password"] or ""
    assert placeholder.startswith("CHANGE-ME")
    icecast = services["icecast"]
    assert f"s|{placeholder}|$$ICECAST_AUTH_SECRET|" in " ".join(icecast["entrypoint"])
    assert icecast["environment"]["ICECAST_AUTH_SECRET"].startswith("${ICECAST_AUTH_SECRET:?")
    api_env = services["api"]["environment"]
    assert api_env["DIASPOR_ICECAST_AUTH_SECRET"].startswith("${ICECAST_AUTH_SECRET:?")
    assert "DIASPOR_SOURCE_PASSWORD" not in api_env  # the api takes no source password
    assert root.findtext("limits/clients") == "5000"
    assert root.findtext("limits/sources") == "10"
    assert root.findtext("fileserve") == "1"
    # Runs as any user from any working directory: no user switch, no absolute paths.
    assert root.find("security/changeowner") is None
    for tag in ("webroot", "adminroot", "logdir"):
        assert not (root.findtext(f"paths/{tag}") or "").startswith("/"), tag
    # The port inside the container is the one compose publishes.
    port = root.findtext("listen-socket/port")
    published = [str(p).rsplit(":", 1)[-1] for p in services["icecast"].get("ports", [])]
    assert port in published


def test_nginx_sends_api_routes_to_the_api_replicas(nginx: Directive) -> None:
    """/api/ (unbuffered) and everything no other location claims (the player at /, /static/,
    /epg.xml, feeds, pages) go to the api service, with the request path unchanged."""
    for match in (("/api/",), ("/",)):
        found = [loc for loc in nginx.find("location", *match) if loc.find("proxy_pass")]
        assert len(found) == 1, match
        service, path = proxied_to(nginx, found[0])
        assert service == "api:8000", match
        assert path == "", f"{match} must keep the request path for the API"
    # Connections to the API and the bucket are reused: one per request would run out of
    # ports at a thousand requests a second (bench/e2e.py).
    for name in ("diaspor_api", "diaspor_storage"):
        (up,) = nginx.find("upstream", name)
        assert int(up.value("keepalive")[0]) >= 16, name


def test_listeners_reach_the_relay_through_nginx_where_the_api_says(
    services: dict[str, dict[str, Any]], nginx: Directive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The radio URLs playout publishes are <public URL>/listen<mount>; nginx passes
    /listen/<mount> to the relay service, which relays every station mount from the master."""
    s = settings_from(container_env(services["playout"]), monkeypatch)
    assert urlsplit(s.radio_public_url).path == "/listen"
    assert s.radio_public_url.startswith(s.base_url)
    (listen,) = [
        loc for loc in nginx.find("location") if loc.args[-1].startswith("^/listen/(?<mount>")
    ]
    service, _ = proxied_to(nginx, listen)
    host, port = service.split(":")
    assert host in services and port in [str(p) for p in services[host].get("expose", [])]
    relay = ET.fromstring((ROOT / "deploy" / "icecast-relay.xml").read_text(encoding="utf-8"))
    relayed = {r.findtext("local-mount") for r in relay.findall("relay")}
    assert {
        m.path for m in mounts_of("diaspor-fm", s.radio_bitrate_kbps, s.radio_low_bitrate_kbps)
    } <= relayed
    assert {r.findtext("server") for r in relay.findall("relay")} == {"icecast"}


def test_nginx_never_passes_the_metrics_on_and_gives_each_request_an_id(
    nginx: Directive,
) -> None:
    """/metrics is read by Prometheus inside the compose network, never from the internet;
    every request proxied to the API carries nginx's own request id, which its log shows."""
    loc = location(nginx, "=", "/metrics")
    assert loc.value("return") == ["404"] and not loc.find("proxy_pass")
    (rid,) = nginx.find("proxy_set_header", "X-Request-ID")
    assert rid.args[1] == "$request_id"
    (fmt,) = nginx.find("log_format", "main")
    assert "$request_id" in " ".join(fmt.args)


def test_nginx_refuses_icecast2s_question_from_outside(nginx: Directive) -> None:
    """Only icecast2, on the compose network, asks the API whether a presenter may go live."""
    loc = location(nginx, "=", "/api/v1/live/icecast-auth")
    assert loc.value("return") == ["404"]
    assert not loc.find("proxy_pass")


def test_nginx_caches_playlists_briefly_and_segments_artwork_subtitles_long(
    nginx: Directive,
) -> None:
    files = location(nginx, "/files/")
    headers = {d.args[0]: d.args[1] for d in files.children if d.name == "add_header"}
    assert headers.get("Cache-Control") == "$files_cache_control"
    # The path as asked picks the lifetime: nothing rewrites it on the way to the bucket.
    assert not files.find("rewrite")
    assert headers.get("Access-Control-Allow-Origin") == "*"
    assert "GET" in headers.get("Access-Control-Allow-Methods", "")

    playlist = max_age(cache_control_for(nginx, "/files/hls/42/index.m3u8"))
    assert playlist <= 10
    for uri in ("/files/hls/42/seg-00001.ts", "/files/hls/42/seg-00001.m4s"):
        assert max_age(cache_control_for(nginx, uri)) >= 30 * 86400, uri
    for uri in ("/files/artwork/ab.jpg", "/files/subtitles/ab/az.vtt", "/files/hls/42/SEG.TS"):
        assert max_age(cache_control_for(nginx, uri)) >= 3600 > playlist, uri


def test_nginx_caches_live_radio_segments_briefly_and_packaged_ones_for_good(
    nginx: Directive,
) -> None:
    radio = cache_control_for(nginx, "/files/hls/radio/diaspor-fm/seg-1767225600000-000042.ts")
    assert "immutable" not in radio and max_age(radio) <= 60
    for uri in ("/files/hls/assets/3/720p/seg-00001.ts", "/files/hls/slate/tv/720p/seg-0.ts"):
        assert "immutable" in cache_control_for(nginx, uri), uri


def test_the_readers_used_here_notice_what_they_should() -> None:
    with pytest.raises(AssertionError, match="ends inside"):
        parse_nginx("http { server { listen 80; }")
    conf = parse_nginx(
        "http { # a } in a comment\n"
        "  map $uri $files_cache_control {\n"
        "    ~*\\.m3u8$ 'max-age=1; x'; default \"max-age=9\"; }\n"
        "}"
    )
    assert cache_control_for(conf, "/files/a.M3U8") == "max-age=1; x"
    assert cache_control_for(conf, "/files/a.ts") == "max-age=9"
    assert interpolate("${A:-x}/${B:?say}/$$C/${D}") == f"x/{DUMMY}/$C/{DUMMY}"
    ignore = DockerIgnore("*\n!a\n**/__pycache__\n**/*.py[co]\n!a/keep.pyc\n/b/**/c")
    assert ignore.excluded("x") and ignore.excluded("x/y.py") and not ignore.excluded("a/y.py")
    assert ignore.excluded("a/__pycache__/y.pyc") and ignore.excluded("a/b/y.pyo")
    assert not ignore.excluded("a/keep.pyc") and ignore.excluded("b/c")
    assert DockerIgnore("/b/**/c").excluded("b/d/e/c/f") and not DockerIgnore("b/*").excluded("b")
    with pytest.raises(AssertionError, match="not pinned"):
        read_lock("a>=1 \\\n    --hash=sha256:" + "0" * 64)
    with pytest.raises(AssertionError, match="other than --hash"):
        read_lock("a==1 --index-url x")
    assert read_lock("A_b==1.0 \\\n    --hash=sha256:f\n    # via x")["a-b"] == Pin(
        "1.0", ["sha256:f"]
    )


# --- the radio's fallback -----------------------------------------------------------------


def effective(root: ET.Element, mount: ET.Element, tag: str, limit: str | None = None) -> str:
    """A mount's setting as icecast2 takes it: its own, else the default mount's, else the
    limits' (burst-size), else empty."""
    default = next(m for m in root.findall("mount") if m.get("type") == "default")
    for where in (mount, default):
        if (value := where.findtext(tag)) is not None:
            return value.strip()
    return (root.findtext(f"limits/{limit}") or "").strip() if limit else ""


def test_every_station_mount_falls_back_to_a_mount_of_its_format_and_comes_back(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/architecture.md, "Radio: fallback": icecast2 moves a mount's listeners to its
    fallback when playout stops, and back when it returns (fallback-override); listeners keep
    their title interval and burst across the move."""
    root = ET.parse(ICECAST_XML).getroot()
    by_name = {(m.findtext("mount-name") or "").strip(): m for m in root.findall("mount")}
    playout = settings_from(container_env(services["playout"]), monkeypatch)
    station = mounts_of("diaspor-fm", playout.radio_bitrate_kbps, playout.radio_low_bitrate_kbps)
    assert [m.path for m in station] == ["/diaspor-fm.mp3", "/diaspor-fm.aac", "/diaspor-fm-64.aac"]
    for live in station:
        mount = by_name[live.path]
        fallback = (mount.findtext("fallback-mount") or "").strip()
        assert fallback == fallback_mount(live.path), live.path
        assert (mount.findtext("fallback-override") or "").strip() == "1", live.path
        assert fallback in by_name, f"{fallback} is not declared in icecast.xml"
        assert by_name[fallback].find("fallback-mount") is None, "a fallback of a fallback"
        for tag, limit in (("mp3-metadata-interval", None), ("burst-size", "burst-size")):
            got = effective(root, by_name[fallback], tag, limit)
            assert got == effective(root, mount, tag, limit), (fallback, tag)
        assert (by_name[fallback].findtext("charset") or "").strip() == "UTF-8"
    # Room for every source: the station's, their fallbacks and the presenters' live mount.
    assert int(root.findtext("limits/sources") or 0) >= 2 * len(station) + 1


def test_each_fallback_mount_has_a_feeder_encoding_as_playout_does(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop source is a service of its own (playout does not own it), on icecast2 with
    the source password, encoding each fallback as playout encodes its live mount, started
    again when it ends, and healthy only while every fallback is on air."""
    root = ET.parse(ICECAST_XML).getroot()
    fallbacks = {
        (m.findtext("fallback-mount") or "").strip()
        for m in root.findall("mount")
        if m.find("fallback-mount") is not None
    }
    assert fallbacks
    playout = settings_from(container_env(services["playout"]), monkeypatch)
    fed: dict[str, tuple[str, int]] = {}
    for name, svc in services.items():
        args = argv(svc.get("command") or [])
        if args[:3] != ["diaspor", "fallback", "air"]:
            continue
        cli_command(args)
        channel = args[args.index("--channel") + 1] if "--channel" in args else "diaspor-fm"
        s = settings_from(container_env(svc), monkeypatch)
        assert urlsplit(s.icecast_url).hostname == "icecast", name
        assert (
            environment(svc)["DIASPOR_SOURCE_PASSWORD"]
            == (environment(services["icecast"])["ICECAST_SOURCE_PASSWORD"])
        )
        outputs = fallback_outputs(s, channel, "Diaspor.FM")
        live = mounts_of(channel, playout.radio_bitrate_kbps, playout.radio_low_bitrate_kbps)
        assert [(o.codec, o.bitrate_kbps) for o in outputs] == [
            (m.codec, m.bitrate_kbps) for m in live
        ], name
        fed |= {o.mount: (name, o.bitrate_kbps) for o in outputs}
        assert svc["depends_on"]["icecast"]["condition"] in ("service_started", "service_healthy")
        assert svc.get("restart") in ("unless-stopped", "always"), name
        check = argv(svc["healthcheck"]["test"])
        assert check[0] == "CMD" and cli_command(check[1:]).name == "check", check
        assert "playout" not in name
    assert fallbacks <= set(fed), f"fallback mounts no service feeds: {fallbacks - set(fed)}"


def test_nginx_tells_the_worker_of_every_files_request_and_logs_no_address(
    services: dict[str, dict[str, Any]], nginx: Directive
) -> None:
    """The audience of /files/ (HLS players, downloads) goes over syslog to the worker's
    receiver, on the port the worker listens on; nginx's own log keeps no address."""
    files = location(nginx, "/files/")
    logs = [d.args for d in files.children if d.name == "access_log"]
    assert ["/dev/stdout", "main"] in logs, "the log without addresses goes on for /files/"
    (target,) = [a for a in logs if a[0].startswith("syslog:")]
    options = dict(o.partition("=")[::2] for o in target[0].removeprefix("syslog:").split(","))
    host, _, port = options["server"].partition(":")
    assert host == "worker" and options["tag"] == "diaspor_audience" and "nohostname" in options
    worker = services["worker"]
    assert worker["environment"]["DIASPOR_AUDIENCE_SYSLOG_PORT"] == port
    assert f"{port}/udp" in worker["expose"]
    assert "worker" in services["nginx"]["depends_on"], "nginx looks the worker up as it starts"
    (fmt,) = nginx.find("log_format", target[1])
    assert fmt.args[1] == "escape=json"
    sent = "".join(fmt.args[2:])
    for variable in ("$msec", "$remote_addr", "$uri", "$status", "$body_bytes_sent"):
        assert variable in sent
    (main,) = nginx.find("log_format", "main")
    assert "$remote_addr" not in "".join(main.args) and "$http_x_forwarded_for" not in "".join(
        main.args
    )
