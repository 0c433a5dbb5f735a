"""Private Redis and Mosquitto servers for tests that kill them (never the shared ones)."""

from __future__ import annotations

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


def mosquitto_available() -> bool:
    """Whether mosquitto is installed."""
    return bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


def redis_available() -> bool:
    """Whether redis-server is installed."""
    return bool(shutil.which("redis-server") or Path("/usr/bin/redis-server").exists())
