"""What one answer needs: the unit of work, the clock, who writes, their memory, the ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.gazetteer import Gazetteer
from bot.intents import IntentBook, Recogniser
from bot.state import ChatState
from bot.texts import Link, Writer
from core.availability import AvailabilityStore
from core.billing import DayCalendar
from core.clock import Clock
from core.services.chat import ChatIdentity
from core.services.nearby import PlaceCatalogue, PlaceIndex, TariffBriefs
from core.store.unit_of_work import UnitOfWork
from core.support import SupportPorts


@dataclass(frozen=True, slots=True)
class BotSetup:
    """Per-process parts of the bot."""

    recogniser: Recogniser
    gazetteer: Callable[[UnitOfWork], Awaitable[Gazetteer]]
    places: PlaceIndex
    catalogue: PlaceCatalogue
    briefs: TariffBriefs
    availability: Callable[[], AvailabilityStore | None]
    writer: Writer
    plate_limit: int
    radius_m: float = 1500.0
    nearby_limit: int = 5
    support: Callable[[], SupportPorts | None] = lambda: None

    @property
    def book(self) -> IntentBook:
        """The intents data."""
        return self.recogniser.book

    def page(self, name: str, label: str, **values: Any) -> Link:
        """A link to a mini-program page named in the intents file."""
        path = self.book.pages.get(name, "pages/index/index")
        if not values:
            return Link(label, path.split("?", 1)[0])
        return Link(label, path.format(**{k: quote(str(v)) for k, v in values.items()}))


@dataclass(slots=True)
class Turn:
    """One message being answered; handlers change `state` and return text."""

    uow: UnitOfWork
    clock: Clock
    calendar: DayCalendar
    identity: ChatIdentity
    state: ChatState
    setup: BotSetup
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def driver_id(self) -> int | None:
        """The driver writing, when the openid is linked to one."""
        return self.identity.driver_id
