"""Static checks of the deployment files in deploy/: Dockerfile, compose, systemd units, Slack manifests.

Nothing here builds an image or starts a service. The files are parsed (a small Dockerfile parser,
configparser for the units, plain text or PyYAML if it happens to be installed for the manifests)
and checked against the project: paths the Dockerfile copies exist, the console script it runs is
the one pyproject.toml declares, the units point at the right state directory, and the manifests ask
for every event and scope the bot relies on. `systemd-analyze verify` runs when it is on PATH.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yml"
SERVICE = DEPLOY / "framework-advisor.service"
BACKUP_SERVICE = DEPLOY / "framework-advisor-backup.service"
BACKUP_TIMER = DEPLOY / "framework-advisor-backup.timer"
MANIFEST_SOCKET = DEPLOY / "manifest.yml"
MANIFEST_HTTP = DEPLOY / "manifest.http.yml"

SCRIPT = "framework-advisor"
PORT = "3000"
STATE_DIR = "/var/lib/framework-advisor"
ENV_FILE = "/etc/framework-advisor/env"

COMMAND = "/framework"
USAGE_HINT = "start [topic] | history | show N | export N | compare | whatif N q=v | cancel N | help"
EVENTS = ("message.channels", "message.groups", "message.im", "message.mpim", "app_home_opened", "app_mention")
HTTP_ONLY_EVENTS = ("app_uninstalled", "tokens_revoked")
SCOPES = (
    "commands",
    "chat:write",
    "channels:join",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "app_mentions:read",
    "files:write",  # /framework export N uploads the record into the thread
)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # everything after the keyword, continuation lines joined
    line: int  # line number of the keyword, 1-based

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`["a", "b"]`), or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None

    def argv(self) -> list[str]:
        """Exec form as is; shell form split like a shell would (good enough for checks)."""
        form = self.exec_form()
        return form if form is not None else shlex.split(self.args)


@dataclass
class Stage:
    image: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order. Handles `\\` continuations, comment lines (also inside a continued
    instruction, as BuildKit does) and blank lines. Heredocs are not supported (not used here)."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not parts:
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        elif not stripped or stripped.startswith("#"):
            continue  # comments and empty lines inside a continuation are dropped
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        joined = " ".join(p for p in parts if p)
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    assert not parts, f"Dockerfile ends inside a continued instruction (line {start})"
    return instructions


def split_stages(instructions: list[Instruction]) -> list[Stage]:
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name, line=ins.line))
        elif stages:
            stages[-1].instructions.append(ins)
        else:
            assert ins.keyword in {"ARG"}, f"line {ins.line}: {ins.keyword} before the first FROM"
    return stages


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """`--from=builder --chown=1:1 a b c` -> ({'from': 'builder', 'chown': '1:1'}, ['a', 'b', 'c'])."""
    words = shlex.split(args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def copy_sources(ins: Instruction) -> tuple[dict[str, str], list[str]]:
    form = ins.exec_form()
    if form is not None:
        flags, paths = {}, form
    else:
        flags, paths = split_flags(ins.args)
    assert len(paths) >= 2, f"line {ins.line}: {ins.keyword} needs a source and a destination"
    return flags, paths[:-1]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return split_stages(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def command(runtime: Stage) -> list[str]:
    """What the container runs by default: ENTRYPOINT (exec form) followed by CMD."""
    entrypoint, cmd = runtime.last("ENTRYPOINT"), runtime.last("CMD")
    argv: list[str] = []
    if entrypoint is not None:
        assert entrypoint.exec_form() is not None, "ENTRYPOINT in shell form ignores CMD and signals"
        argv += entrypoint.exec_form()
    if cmd is not None:
        argv += cmd.argv()
    assert argv, "runtime stage has neither ENTRYPOINT nor CMD"
    return argv


def test_parser_handles_continuations_and_comments():
    text = 'FROM a AS b\n# c\nRUN x \\\n    # inside\n    && y\n\nCMD ["z"]\n'
    parsed = parse_dockerfile(text)
    assert [(i.keyword, i.args, i.line) for i in parsed] == [
        ("FROM", "a AS b", 1),
        ("RUN", "x && y", 3),
        ("CMD", '["z"]', 7),
    ]
    assert parsed[2].exec_form() == ["z"]


def test_two_stages(stages: list[Stage]):
    assert len(stages) == 2, [s.image for s in stages]
    assert stages[0].name, "the builder stage is named so the runtime stage can refer to it"


@pytest.mark.parametrize("index", [0, 1])
def test_base_image_is_pinned_python_312_slim(stages: list[Stage], index: int):
    image = stages[index].image
    repo, _, tag = image.partition("@")[0].rpartition(":")
    assert repo in {"python", "docker.io/library/python", "library/python"}, image
    assert "latest" not in tag, image
    assert re.fullmatch(r"3\.12\.\d+-(?:[a-z0-9]+-)*?slim(?:-[a-z0-9]+)*", tag), (
        f"{image}: want python:3.12.<patch>-slim[-<debian>] (a patch version, slim variant)"
    )


def test_both_stages_use_the_same_base(stages: list[Stage]):
    # Wheels with C extensions built in the first stage must match the second stage's interpreter.
    assert stages[0].image == stages[1].image


def test_copy_sources_exist_in_the_build_context(stages: list[Stage]):
    checked = 0
    for stage in stages:
        for ins in stage.all("COPY") + stage.all("ADD"):
            flags, sources = copy_sources(ins)
            if "from" in flags:
                continue  # copies from another stage or image, not from the build context
            for source in sources:
                assert not source.startswith(("http://", "https://", "git@")), f"line {ins.line}: {source}"
                rel = source.lstrip("/").removeprefix("./") or "."
                matches = list(ROOT.glob(rel)) if any(c in rel for c in "*?[") else [ROOT / rel]
                assert any(m.exists() for m in matches), (
                    f"Dockerfile line {ins.line}: COPY source {source!r} is not in the repository"
                )
                checked += 1
    assert checked, "no COPY from the build context at all"


def _context_sources(stages: list[Stage]) -> set[str]:
    found: set[str] = set()
    for stage in stages:
        for ins in stage.all("COPY") + stage.all("ADD"):
            flags, sources = copy_sources(ins)
            if "from" not in flags:
                found |= {s.lstrip("/").removeprefix("./").rstrip("/") for s in sources}
    return found


def test_everything_the_wheel_build_needs_is_copied(stages: list[Stage]):
    project = _pyproject()
    needed = {"pyproject.toml"}
    readme = project["project"].get("readme")
    if isinstance(readme, str):
        needed.add(readme)
    elif isinstance(readme, dict) and "file" in readme:
        needed.add(readme["file"])
    needed |= {pkg.split(".")[0] for pkg in project["tool"]["setuptools"]["packages"]}
    missing = needed - _context_sources(stages)
    assert not missing, f"`pip wheel .` needs these in the builder stage: {sorted(missing)}"


def _dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: anchored at the context root, `**` spans directories,
    `*` and `?` stay within one path segment, `[...]` is a character class."""
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
        elif pattern[i] == "[" and "]" in pattern[i:]:
            close = pattern.index("]", i)
            out, i = out + pattern[i : close + 1], close + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _ignored(rel: str, patterns: list[str]) -> bool:
    """Approximates Docker's .dockerignore rules: the last matching pattern wins, `!` re-includes, and
    a pattern that matches a directory excludes everything below it."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!").strip("/").removeprefix("./"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_is_copied_and_drops_the_rest(stages: list[Stage]):
    patterns = _dockerignore_patterns()
    assert patterns, ".dockerignore is missing or empty"
    for source in sorted(_context_sources(stages)):
        base = ROOT / source
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for path in files:
            rel = path.relative_to(ROOT).as_posix()
            if "__pycache__" in rel or rel.endswith((".pyc", ".db")):
                continue
            assert not _ignored(rel, patterns), f".dockerignore excludes {rel}, which the Dockerfile copies"
    for unwanted in (".git", ".venv", "tests", "bench/results.json", "x.db", "deploy/x.db", "deploy/.env"):
        assert _ignored(unwanted, patterns), f".dockerignore should exclude {unwanted}"


def test_compiler_only_in_the_builder(stages: list[Stage]):
    builder_runs = " ".join(i.args for i in stages[0].all("RUN"))
    runtime_runs = " ".join(i.args for i in stages[-1].all("RUN"))
    assert "pip wheel" in builder_runs
    assert "build-essential" in builder_runs
    for word in ("build-essential", "gcc", "apt-get install"):
        assert word not in runtime_runs, f"runtime stage installs {word}"
    assert "--no-index" in runtime_runs, "runtime stage should install only the prebuilt wheels"


def test_runtime_runs_as_non_root(runtime: Stage):
    user = runtime.last("USER")
    assert user is not None, "runtime stage has no USER"
    name = user.args.split(":")[0].strip()
    assert name not in {"root", "0", ""}, user.args


def test_runtime_has_a_data_volume_holding_the_database(runtime: Stage):
    volumes = runtime.all("VOLUME")
    assert volumes, "runtime stage has no VOLUME"
    paths = [p for v in volumes for p in v.argv()]
    env = " ".join(i.args for i in runtime.all("ENV"))
    match = re.search(r"FRAMEWORK_ADVISOR_DB=(\S+)", env)
    assert match, "runtime stage does not set FRAMEWORK_ADVISOR_DB"
    db = match.group(1).strip("\"'")
    assert any(db.startswith(p.rstrip("/") + "/") for p in paths), f"{db} is not on a volume {paths}"


def test_runtime_exposes_the_port(runtime: Stage):
    ports = [p.split("/")[0] for e in runtime.all("EXPOSE") for p in e.args.split()]
    assert PORT in ports


def test_healthcheck_hits_healthz_without_curl(runtime: Stage):
    check = runtime.last("HEALTHCHECK")
    assert check is not None, "runtime stage has no HEALTHCHECK"
    assert not check.args.upper().startswith("NONE")
    assert "/healthz" in check.args
    assert f":{PORT}/" in check.args
    assert "curl" not in check.args and "wget" not in check.args, "slim images have neither curl nor wget"


def test_command_is_the_console_script(command: list[str]):
    assert command[0] == SCRIPT
    scripts = _pyproject()["project"]["scripts"]
    assert SCRIPT in scripts, f"pyproject.toml [project.scripts] does not declare {SCRIPT}"


def test_console_script_target_exists():
    target = _pyproject()["project"]["scripts"][SCRIPT]
    module, _, func = target.partition(":")
    assert module == "bot.cli" and func, target
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not written yet; it provides {target}")
    assert re.search(rf"^def {re.escape(func)}\b|^{re.escape(func)}\s*=", path.read_text(), re.MULTILINE), (
        f"{path.relative_to(ROOT)} defines no {func}"
    )


def test_command_serves_on_all_interfaces(command: list[str]):
    assert "serve" in command
    args = command[command.index("serve") + 1 :]
    assert "--port" in args and args[args.index("--port") + 1] == PORT
    # Inside a container 127.0.0.1 is unreachable from the published port.
    assert "--host" in args and args[args.index("--host") + 1] == "0.0.0.0"


# ---------------------------------------------------------------------------------------------------
# compose.yml (plain text; PyYAML is not a dependency)
# ---------------------------------------------------------------------------------------------------


def _compose_value(key: str) -> str:
    match = re.search(rf"^\s*{key}:\s*['\"]?([^'\"#\s]+)", COMPOSE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"compose.yml has no {key}:"
    return match.group(1)


def test_compose_build_paths_exist():
    context = (COMPOSE.parent / _compose_value("context")).resolve()
    assert context.is_dir() and (context / "pyproject.toml").exists(), context
    assert (context / _compose_value("dockerfile")).resolve() == DOCKERFILE.resolve()


def test_compose_service_settings():
    text = COMPOSE.read_text(encoding="utf-8")
    assert _compose_value("env_file") == ".env"
    assert _compose_value("restart") == "unless-stopped"
    assert re.search(r"^\s*-\s*['\"]?(?:[\d.]+:)?\d+:3000['\"]?\s*$", text, re.MULTILINE), "port 3000"
    volume = re.search(r"^\s*-\s*['\"]?(\w[\w.-]*):/data['\"]?\s*$", text, re.MULTILINE)
    assert volume, "a named volume on /data"
    assert re.search(rf"^volumes:\s*\n(?:\s+.*\n)*?\s+{re.escape(volume.group(1))}:", text, re.MULTILINE), (
        f"volume {volume.group(1)} is not declared under top-level volumes:"
    )
    assert not re.search(r"^\s*healthcheck:", text, re.MULTILINE), "the image's HEALTHCHECK is inherited"


def test_compose_deep():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed; the plain-text checks above ran")
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    (service,) = data["services"].values()
    assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).exists()
    assert service["env_file"] in (".env", [".env"])
    assert service["restart"] == "unless-stopped"
    assert any(str(p).endswith(":3000") for p in service["ports"])
    named = [v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == "/data"]
    assert named and named[0] in data["volumes"]


# ---------------------------------------------------------------------------------------------------
# systemd units
# ---------------------------------------------------------------------------------------------------


class _MultiDict(dict):
    """configparser dict_type that keeps repeated keys (Environment= twice) instead of the last one.
    While reading, configparser stores each value as a list of lines; repeated keys are appended and
    later joined with newlines."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def parse_unit(path: Path) -> configparser.ConfigParser:
    # systemd continues lines with a trailing backslash; configparser would not.
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, dict_type=_MultiDict, comment_prefixes=("#", ";"), delimiters=("=",)
    )
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text, source=str(path))
    return parser


def _values(unit: configparser.ConfigParser, section: str, key: str) -> list[str]:
    raw = unit.get(section, key, fallback=None)
    return [] if raw is None else [v.strip() for v in raw.splitlines()]


def _environment(unit: configparser.ConfigParser) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _values(unit, "Service", "Environment"):
        for item in shlex.split(line):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def _exec_argv(unit: configparser.ConfigParser, key: str = "ExecStart") -> list[str]:
    (line,) = _values(unit, "Service", key)
    return shlex.split(line.lstrip("-@:+!"))


@pytest.fixture(scope="module")
def service() -> configparser.ConfigParser:
    return parse_unit(SERVICE)


@pytest.fixture(scope="module")
def backup() -> configparser.ConfigParser:
    return parse_unit(BACKUP_SERVICE)


@pytest.fixture(scope="module")
def timer() -> configparser.ConfigParser:
    return parse_unit(BACKUP_TIMER)


def test_unit_parser_keeps_repeated_keys(tmp_path: Path):
    path = tmp_path / "x.service"
    path.write_text("[Service]\nEnvironment=A=1\nEnvironment=B=2\nExecStart=/bin/a \\\n  b\n")
    unit = parse_unit(path)
    assert _environment(unit) == {"A": "1", "B": "2"}
    assert _exec_argv(unit) == ["/bin/a", "b"]


def test_service_runs_the_console_script(service: configparser.ConfigParser):
    argv = _exec_argv(service)
    assert argv[0].startswith("/"), "systemd needs an absolute ExecStart path"
    assert Path(argv[0]).name == SCRIPT
    assert argv[1] == "serve"
    assert "--port" in argv and argv[argv.index("--port") + 1] == PORT


def test_service_settings(service: configparser.ConfigParser):
    get = service.get
    assert get("Service", "Type") == "simple"
    assert service.has_option("Service", "User") or get("Service", "DynamicUser", fallback="") == "yes"
    assert _values(service, "Service", "EnvironmentFile") == [ENV_FILE]
    state = get("Service", "StateDirectory").split()
    assert "framework-advisor" in state
    db = _environment(service)["FRAMEWORK_ADVISOR_DB"]
    assert db == f"{STATE_DIR}/framework-advisor.db"
    assert get("Service", "UMask") == "0077"
    assert get("Service", "Restart") == "on-failure"
    assert get("Service", "RestartSec") == "5"
    for key, value in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ]:
        assert get("Service", key, fallback=None) == value, key
    assert get("Install", "WantedBy") == "multi-user.target"


def test_backup_service(backup: configparser.ConfigParser, service: configparser.ConfigParser):
    assert backup.get("Service", "Type") == "oneshot"
    assert backup.get("Service", "User", fallback=None) == service.get("Service", "User", fallback=None)
    assert backup.get("Service", "UMask") == "0077", "backups hold bot tokens in OAuth mode"
    assert "framework-advisor" in backup.get("Service", "StateDirectory").split()
    assert _environment(backup)["FRAMEWORK_ADVISOR_DB"] == _environment(service)["FRAMEWORK_ADVISOR_DB"]
    (line,) = _values(backup, "Service", "ExecStart")
    assert re.search(rf"/{SCRIPT} backup [\"']?{STATE_DIR}/backups/", line), line
    # systemd expands %X specifiers and $VAR itself: date formats need %%, a shell $( needs $$.
    assert "%" not in line.replace("%%", ""), f"unescaped % in ExecStart: {line}"
    assert "$(" not in line.replace("$$", ""), f"unescaped $( in ExecStart: {line}"


def test_backup_timer(timer: configparser.ConfigParser):
    assert timer.get("Timer", "OnCalendar")
    unit = timer.get("Timer", "Unit", fallback=BACKUP_TIMER.with_suffix(".service").name)
    assert unit == BACKUP_SERVICE.name
    assert timer.get("Timer", "Persistent", fallback="no") in {"yes", "true"}
    assert timer.get("Install", "WantedBy") == "timers.target"


# Parse-level diagnostics look like "/path/x.service:12: Unknown key ..." or "... failed to load".
_SYNTAX = re.compile(r"\.(?:service|timer):\d+:|failed to load|Invalid section|Bad message|Unknown key")
_MISSING_BINARY = re.compile(r"Command \S+ is not executable: No such file or directory")


def test_systemd_analyze_verify():
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed; the configparser checks above ran")
    units = [SERVICE, BACKUP_SERVICE, BACKUP_TIMER]
    result = subprocess.run(
        [exe, "verify", "--man=no", *[str(u) for u in units]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DEPLOY,
    )
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    syntax = [ln for ln in lines if _SYNTAX.search(ln)]
    assert not syntax, "\n".join(syntax)
    # The venv under /opt does not exist on a build or CI machine: that one error is expected.
    other = [ln for ln in lines if not _MISSING_BINARY.search(ln)]
    assert result.returncode == 0 or not other, "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Slack app manifests
# ---------------------------------------------------------------------------------------------------

MANIFESTS = [MANIFEST_SOCKET, MANIFEST_HTTP]


def _list_items(text: str) -> set[str]:
    return set(re.findall(r"^\s*-\s*['\"]?([\w.:/-]+)['\"]?\s*(?:#.*)?$", text, re.MULTILINE))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_text(path: Path):
    text = path.read_text(encoding="utf-8")
    assert re.search(rf"^\s*-?\s*command:\s*['\"]?{re.escape(COMMAND)}['\"]?\s*$", text, re.MULTILINE)
    assert USAGE_HINT in text
    assert re.search(r"^\s*should_escape:\s*false\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*display_name:\s*['\"]?Framework Advisor['\"]?\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*always_online:\s*true\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*home_tab_enabled:\s*true\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*messages_tab_enabled:\s*true\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*major_version:\s*1\s*$", text, re.MULTILINE)
    items = _list_items(text)
    missing = [name for name in (*EVENTS, *SCOPES) if name not in items]
    assert not missing, f"{path.name} lacks {missing}"


def test_socket_manifest_text():
    text = MANIFEST_SOCKET.read_text(encoding="utf-8")
    assert re.search(r"^\s*socket_mode_enabled:\s*true\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*is_enabled:\s*true\s*$", text, re.MULTILINE), "interactivity on"
    assert not re.search(r"^\s*(?:request_)?url:", text, re.MULTILINE), "Socket Mode takes no request URLs"


def test_http_manifest_text():
    text = MANIFEST_HTTP.read_text(encoding="utf-8")
    assert re.search(r"^\s*socket_mode_enabled:\s*false\s*$", text, re.MULTILINE)
    urls = re.findall(r"^\s*(?:request_)?url:\s*['\"]?(\S+?)['\"]?\s*$", text, re.MULTILINE)
    assert len(urls) == 3, f"slash command url, event and interactivity request_url: {urls}"
    assert all(u.startswith("https://") and u.endswith("/slack/events") for u in urls), urls
    assert re.search(r"^\s*-\s*https://\S+/slack/oauth_redirect\s*$", text, re.MULTILINE)
    items = _list_items(text)
    assert all(e in items for e in HTTP_ONLY_EVENTS), HTTP_ONLY_EVENTS


def test_manifests_agree_on_scopes():
    socket, http = (_list_items(p.read_text(encoding="utf-8")) for p in MANIFESTS)
    scope_like = re.compile(r"^[a-z_.]+:[a-z_.]+$|^commands$")
    assert {i for i in socket if scope_like.match(i)} == {i for i in http if scope_like.match(i)}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_deep(path: Path):
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed; the plain-text manifest checks ran")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) <= {"_metadata", "display_information", "features", "oauth_config", "settings"}
    assert data["_metadata"]["major_version"] == 1
    info = data["display_information"]
    assert info["name"] == "Framework Advisor"
    assert len(info.get("description", "")) <= 140
    if "long_description" in info:
        assert 174 <= len(info["long_description"]) <= 4000, "Slack rejects a long_description outside this"
    features = data["features"]
    assert features["bot_user"] == {"display_name": "Framework Advisor", "always_online": True}
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    (slash,) = features["slash_commands"]
    assert slash["command"] == COMMAND
    assert slash["usage_hint"] == USAGE_HINT
    assert slash["should_escape"] is False
    assert slash["description"]
    scopes = data["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(SCOPES) <= set(scopes)
    settings = data["settings"]
    events = settings["event_subscriptions"]["bot_events"]
    assert len(events) == len(set(events))
    assert settings["interactivity"]["is_enabled"] is True
    if path == MANIFEST_SOCKET:
        assert set(events) == set(EVENTS)
        assert settings["socket_mode_enabled"] is True
        assert "url" not in slash
        assert "request_url" not in settings["event_subscriptions"]
        assert "request_url" not in settings["interactivity"]
    else:
        assert set(events) == set(EVENTS) | set(HTTP_ONLY_EVENTS)
        assert settings.get("socket_mode_enabled", False) is False
        for url in (
            slash["url"],
            settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"],
        ):
            assert url.startswith("https://") and url.endswith("/slack/events"), url
        assert [u.rsplit("/", 2)[-2:] for u in data["oauth_config"]["redirect_urls"]] == [
            ["slack", "oauth_redirect"]
        ]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_scopes_are_the_ones_oauth_requests(path: Path):
    """The manifests ask for exactly what OAuth installs request (and the code uses): no unused scope."""
    from bot.slack.app import BOT_SCOPES

    items = _list_items(path.read_text(encoding="utf-8"))
    scope_like = re.compile(r"^[a-z_.]+:[a-z_.]+$|^commands$")
    assert {i for i in items if scope_like.match(i)} == set(BOT_SCOPES)


# ---------------------------------------------------------------------------------------------------
# compose.postgres.yml: replicas on PostgreSQL
# ---------------------------------------------------------------------------------------------------


def test_postgres_compose_runs_replicas_on_one_database():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    data = yaml.safe_load((DEPLOY / "compose.postgres.yml").read_text(encoding="utf-8"))
    pg, bot = data["services"]["postgres"], data["services"]["framework-advisor"]
    assert pg["image"].startswith("postgres:15") and "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") and v.split(":")[0] in data["volumes"] for v in pg["volumes"])
    assert bot["environment"]["FRAMEWORK_ADVISOR_DB"].startswith("postgresql://advisor:${POSTGRES_PASSWORD}@postgres")
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["deploy"]["replicas"] >= 2
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == DOCKERFILE.resolve()
    # the image carries the PostgreSQL driver: built and installed with the postgres extra
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert 'pip wheel --wheel-dir /wheels ".[postgres]"' in text and '"framework-advisor[postgres]"' in text
