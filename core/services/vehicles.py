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


async def verify_payer(uow: UnitOfWork, now: datetime, out_trade_no: str, plate: str) -> bool:
    """Inside a settlement: paying a plate's stay verifies the payer's binding of that plate."""
    driver_id = await uow.payments.driver_of(out_trade_no)
    found = await uow.vehicles.binding(driver_id, plate) if driver_id is not None else None
    if found is None or found[0].verified_at is not None:
        return False
    found[0].verified_at, found[0].verified_by = now, VerificationSource.PAYMENT.value
    return True


async def require_verified(uow: UnitOfWork, driver_id: int, plate: str) -> None:
    """Raise unless the driver's binding of the plate is verified."""
    found = await uow.vehicles.binding(driver_id, plate)
    if found is None:
        raise PlateNotBoundError(detail=f"driver {driver_id}")
    if found[0].verified_at is None:
        raise BindingNotVerifiedError(detail=f"driver {driver_id}")


def _bound(binding: VehicleBindingRow, vehicle: VehicleRow) -> BoundPlate:
    return BoundPlate(
        plate=vehicle.plate,
        colour=vehicle.plate_colour,
        bound_at=binding.created_at,
        verified_at=binding.verified_at,
        verified_by=binding.verified_by,
    )
