"""Use case: every lot and street with its free spaces and price, for the open data feed."""

from __future__ import annotations

from core.availability import AvailabilityStore
from core.clock import Clock
from core.open_data import OpenSite
from core.services.nearby import TariffBriefs, free_counts
from core.store.unit_of_work import UnitOfWork


async def open_sites(
    uow: UnitOfWork, clock: Clock, briefs: TariffBriefs, availability: AvailabilityStore | None
) -> list[OpenSite]:
    """Lots then streets, by key, with live free counts and the tariff in force in brief."""
    now = clock.now()
    spots = sorted(await uow.places.lots() + await uow.places.streets(), key=lambda s: s.key)
    free = await free_counts(uow, availability, spots, now)
    prices = {code: await briefs.brief(uow, code, now) for code in {s.tariff_code for s in spots}}
    return [OpenSite(s, free.get(s.key, 0), prices[s.tariff_code]) for s in spots]
