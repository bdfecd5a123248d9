"""Shared helpers: percentiles, subprocesses on loopback, signed keep-alive HTTP clients, RSS."""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.signing import signed_headers

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = "benchsigningsecret0123456789abcd"
BOT_TOKEN = "xoxb-bench-token"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank, p in 0..100) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def summary(values_s: list[float]) -> dict:
    """p50 / p99 / max / mean in milliseconds (input in seconds)."""
    ms = [v * 1e3 for v in values_s]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": max(ms) if ms else float("nan"),
            "mean_ms": sum(ms) / len(ms) if ms else float("nan")}


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_http(port: int, path: str = "/healthz", timeout: float = 30.0, interval: float = 0.01,
              proc: subprocess.Popen | None = None) -> float:
    """Poll until GET path answers 200; returns the perf_counter time it did."""
    deadline = time.perf_counter() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {path} answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                return time.perf_counter()
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise TimeoutError(f"127.0.0.1:{port}{path} did not answer 200 within {timeout}s")
        time.sleep(interval)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a process we started (SIGTERM, then SIGKILL)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class SignedClient:
    """One keep-alive HTTP/1.1 connection posting Slack-signed bodies; the same code for every target."""

    def __init__(self, port: int, path: str = "/slack/events", secret: str = SECRET):
        self.port, self.path, self.secret = port, path, secret
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def prepare(self, body: bytes, content_type: str) -> dict:
        """Headers for a body (signed now; call outside the timed region)."""
        return {"Content-Type": content_type, "Content-Length": str(len(body)),
                **signed_headers(self.secret, body)}

    def post(self, body: bytes, headers: dict) -> tuple[int, float, bytes]:
        """Send; returns (status, seconds to the full response, response body)."""
        for attempt in (0, 1):
            t0 = time.perf_counter()
            try:
                self.conn.request("POST", self.path, body, headers)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, time.perf_counter() - t0, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once (not timed).
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class FakeSlack:
    """The fake Slack Web API in its own process (bench/fake_proc.py), so it does not share our GIL."""

    def __init__(self, log_path: str):
        self.proc = subprocess.Popen([PY, "-m", "bench.fake_proc"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True, bufsize=1)
        self.url = self._read()["url"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Slack process exited")
        return json.loads(line)

    def cmd(self, *words: str) -> dict:
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def count(self, method: str) -> int:
        return self.cmd("count", method)["count"]

    def dump(self, path: str) -> list[dict]:
        self.cmd("dump", path)
        return json.loads(Path(path).read_text())

    def reset(self) -> None:
        self.cmd("reset")

    def close(self) -> None:
        try:
            self.cmd("quit")
            self.proc.wait(5)
        except Exception:  # noqa: BLE001
            stop(self.proc)


def serve_env(fake_url: str, db: str) -> dict:
    return dict(os.environ, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake_url,
                FRAMEWORK_ADVISOR_DB=db, PYTHONPATH=str(ROOT))


def fresh_db(path: str) -> str:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    return path


def start_serve(fake_url: str, db: str, log_path: str) -> tuple[subprocess.Popen, int]:
    """`framework-advisor serve` (HTTP mode) on a free loopback port; waits for /healthz."""
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=serve_env(fake_url, db), stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "w"))
    wait_http(port, proc=proc)
    return proc, port


def start_baseline(fake_url: str, mode: str, log_path: str) -> tuple[subprocess.Popen, int]:
    """The bare bolt app (bench/baseline_app.py) on a free loopback port; waits for /healthz."""
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "bench.baseline_app", "--port", str(port), "--mode", mode], cwd=ROOT,
                            env=serve_env(fake_url, "/dev/null"), stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "w"))
    wait_http(port, proc=proc)
    return proc, port


def run_child(section: str, quick: bool, timeout: float = 600) -> dict:
    """Run `python -m bench.run --child SECTION` (a clean process) and return the JSON it prints last."""
    args = [PY, "-m", "bench.run", "--child", section] + (["--quick"] if quick else [])
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"child {section} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child {section} printed no result:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
