"""Private Redis and Mosquitto servers for tests that kill them (never the shared ones)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise OSError(f"{name} did not start on port {port}")


class RedisServer:
    """A redis-server of the test's own, without persistence (a restart starts it empty)."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL clients use."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port)."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port, self.process, "redis-server")

    def kill(self) -> None:
        """SIGKILL: what it held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


REPO = Path(__file__).resolve().parents[1]


class MosquittoServer:
    """A Mosquitto of the test's own, configured as deploy/mosquitto.conf ships (persistent)."""

    def __init__(self) -> None:
        self.port = _free_port()
        # Started as root, mosquitto drops to its own user: its folder must be reachable by it
        # (pytest's tmp_path sits under a folder only root may enter).
        folder = Path(tempfile.mkdtemp(prefix="parking-mosquitto-"))
        folder.chmod(0o777)
        self.folder = folder
        self.config = folder / "mosquitto.conf"
        shipped = (REPO / "deploy" / "mosquitto.conf").read_text(encoding="utf-8")
        self.config.write_text(
            shipped.replace("listener 1883 ", f"listener {self.port} ").replace(
                "/var/lib/mosquitto/", f"{folder}/"
            ),
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL the centre uses."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it (again, on the same port, with what it saved)."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_listening(self.port, self.process, "mosquitto")

    def kill(self) -> None:
        """SIGKILL: no last save."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def remove(self) -> None:
        """Kill it and delete its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temp folder, run as `postgres` when
    the test runs as root), so it can be SIGKILLed mid-traffic and recover on restart."""

    def __init__(self) -> None:
        binaries = _postgres_bin()
        if binaries is None:
            raise OSError("no PostgreSQL binaries under /usr/lib/postgresql")
        self._bin = binaries
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="parking-pg-"))
        # initdb and postgres refuse root; run as postgres (the test process stays their parent,
        # so a killed postmaster is reaped and its pid file does not block the restart).
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            shutil.chown(self.folder, self._user, self._user)
        self.data = self.folder / "data"
        subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=self._user,
            group=self._user,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        """An asyncpg URL of a database on it."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start it (again: after a kill it recovers from its WAL)."""
        self.process = subprocess.Popen(
            [
                str(self._bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.folder}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
            group=self._user,
            start_new_session=True,  # its own process group: a kill reaches every backend
        )
        ready = [str(self._bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        for _ in range(200):  # listening comes before accepting: it recovers first
            if subprocess.run(ready, check=False).returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise OSError(f"postgres did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            for _ in range(100):  # backends go with their group; the port frees once they do
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                        break
                time.sleep(0.05)

    def remove(self) -> None:
        """Kill it and delete its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def mosquitto_available() -> bool:
    """Whether mosquitto is installed."""
    return bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


def redis_available() -> bool:
    """Whether redis-server is installed."""
    return bool(shutil.which("redis-server") or Path("/usr/bin/redis-server").exists())
