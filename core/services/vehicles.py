"""Use cases of a driver's plates: bind, unbind, list, verify by 行驶证 or by paying."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.plates import Plate, PlateColour
from core.store.people import VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from core.vehicles import (
    BindingNotVerifiedError,
    LicenceClaim,
    LicenceRejectedError,
    LicenceVerifier,
    PlateNotBoundError,
    VerificationSource,
    check_plate_limit,
    is_valid_vin,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoundPlate:
    """One of a driver's plates and whether its binding is verified."""

    plate: str
    colour: str
    bound_at: datetime
    verified_at: datetime | None
    verified_by: str | None

    @property
    def verified(self) -> bool:
        """Whether the driver may see the plate's history."""
        return self.verified_at is not None

    @property
    def paid_stays_only(self) -> bool:
        """Verified by paying (after the stay's own scan): sees the stays it paid, no others."""
        return not self.verified and self.verified_by == VerificationSource.PAYMENT.value


async def bind_plate(
    uow: UnitOfWork, clock: Clock, driver_id: int, plate: Plate, colour: PlateColour, limit: int
) -> BoundPlate:
    """Bind a plate (several drivers of a family may bind one); binding twice changes nothing."""
    found = await uow.vehicles.binding(driver_id, plate.number)
    if found is not None:
        return _bound(*found)
    check_plate_limit(await uow.vehicles.count_bindings(driver_id), limit)
    vehicle = await uow.vehicles.vehicle(plate.number)
    if vehicle is None:
        vehicle = VehicleRow(plate=plate.number, plate_colour=colour.value)
        await uow.vehicles.add_vehicle(vehicle)
    binding = VehicleBindingRow(driver_id=driver_id, vehicle_id=vehicle.id, created_at=clock.now())
    await uow.vehicles.add_binding(binding)
    await uow.commit()
    log.info("driver %s bound %s", driver_id, plate.masked())
    return _bound(binding, vehicle)


async def unbind_plate(uow: UnitOfWork, driver_id: int, plate: Plate) -> None:
    """Remove a driver's binding; other drivers' bindings of the plate stay."""
    found = await uow.vehicles.binding(driver_id, plate.number)
    if found is None:
        raise PlateNotBoundError(detail=f"driver {driver_id} {plate.masked()}")
    await uow.vehicles.remove_binding(found[0].id)
    await uow.commit()


async def list_plates(uow: UnitOfWork, driver_id: int) -> list[BoundPlate]:
    """A driver's plates, oldest binding first."""
    return [_bound(b, v) for b, v in await uow.vehicles.bindings(driver_id)]


async def verify_by_licence(
    uow: UnitOfWork, clock: Clock, verifier: LicenceVerifier, driver_id: int, claim: LicenceClaim
) -> BoundPlate:
    """Verify a binding with the 行驶证 the driver typed, checked against the register."""
    found = await uow.vehicles.binding(driver_id, claim.plate.number)
    if found is None:
        raise PlateNotBoundError(detail=f"driver {driver_id} {claim.plate.masked()}")
    binding, vehicle = found
    if binding.verified_at is not None:
        return _bound(binding, vehicle)
    if not is_valid_vin(claim.vin) or not await verifier.verify(claim):
        raise LicenceRejectedError(detail=f"{claim.plate.masked()} licence not matched")
    binding.verified_at, binding.verified_by = clock.now(), VerificationSource.LICENCE.value
    await uow.commit()
    return _bound(binding, vehicle)


async def verify_payer(uow: UnitOfWork, out_trade_no: str, plate: str, stay_ref: str) -> bool:
    """Inside a settlement: a payer who scanned the stay where it was sees the stays it paid.

    Paying alone proves nothing (anyone may pay for any plate); the scan of the stay's own
    berth or exit lane shows the payer stood by the car. Such a binding is not verified for
    the plate's other stays, its notices or its images: only a 行驶证 check does that.
    """
    driver_id = await uow.payments.driver_of(out_trade_no)
    found = await uow.vehicles.binding(driver_id, plate) if driver_id is not None else None
    if driver_id is None or found is None or found[0].verified_by is not None:
        return False
    if not await uow.vehicles.scanned(driver_id, stay_ref):
        return False
    found[0].verified_by = VerificationSource.PAYMENT.value  # verified_at stays for the licence
    return True


async def record_scans(uow: UnitOfWork, clock: Clock, driver_id: int, stay_refs: list[str]) -> None:
    """A signed-in driver scanned the berth or exit lane of these stays; commits."""
    if stay_refs:
        await uow.vehicles.record_scans(driver_id, stay_refs, clock.now())
        await uow.commit()


async def require_verified(
    uow: UnitOfWork, driver_id: int, plate: str, stay_ref: str | None = None
) -> None:
    """Raise unless the binding is verified, or verified by paying and this stay it paid."""
    found = await uow.vehicles.binding(driver_id, plate)
    if found is None:
        raise PlateNotBoundError(detail=f"driver {driver_id}")
    binding = found[0]
    if binding.verified_at is not None:
        return
    if (
        stay_ref is not None
        and binding.verified_by == VerificationSource.PAYMENT.value
        and await uow.vehicles.paid_by(driver_id, stay_ref)
    ):
        return
    raise BindingNotVerifiedError(detail=f"driver {driver_id}")


def _bound(binding: VehicleBindingRow, vehicle: VehicleRow) -> BoundPlate:
    return BoundPlate(
        plate=vehicle.plate,
        colour=vehicle.plate_colour,
        bound_at=binding.created_at,
        verified_at=binding.verified_at,
        verified_by=binding.verified_by,
    )
