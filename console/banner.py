"""The lines `make run` starts with: where the console is and which demo accounts log in."""

from __future__ import annotations

from config.production import demo_passwords_refused
from config.settings import Settings
from core.staff import DEMO_PASSWORD, ROLE_NAMES_ZH
from ops_api.commands import DEMO_STAFF


def banner(settings: Settings) -> list[str]:
    """The console's address, and the demo accounts where their password is accepted."""
    lines = [f"Staff console: http://{settings.host}:{settings.port}/console/"]
    if demo_passwords_refused(settings):
        return lines
    lines.append(f"Demo accounts (password {DEMO_PASSWORD}, development only):")
    lines += [
        f"  {demo.username:<16} {ROLE_NAMES_ZH[demo.role]}  {demo.display_name}"
        for demo in DEMO_STAFF
    ]
    return lines
