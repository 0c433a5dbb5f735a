"""Use cases of notices to drivers: queue 'your car parked', count authorisations, deliver."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.billing import SHANGHAI
from core.clock import Clock
from core.drivers import DriverMessage, DriverNotifier
from core.notices import STAY_OPENED, SmsMessage, SmsSender, notice_fields
from core.services.retrying import Uows
from core.store.devices import NotificationRow
from core.store.driver_notices import NoticeDeliveryRow, SubscribeGrantRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

MAX_GRANTS_PER_TEMPLATE = 100  # WeChat lets a user accept a one-time template repeatedly


@dataclass(frozen=True, slots=True)
class NoticeSetup:
    """Which app and templates carry notices: the subscribe template and the SMS template."""

    appid: str
    templates: dict[str, str]  # notice kind -> subscribe template id
    sms_templates: dict[str, str]  # notice kind -> SMS template code
    page: str = "pages/stays/index"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one notice went out."""

    notice_id: int
    channel: str


async def notify_stay_opened(uow: UnitOfWork, clock: Clock, stay_ref: str | None) -> int:
    """Queue, once per driver, a notice that a bound plate's stay opened; the caller commits."""
    if stay_ref is None:
        return 0
    stay = await uow.stays.by_ref(stay_ref)
    if stay is None or stay.status != "open" or stay.plate is None:
        return 0
    drivers = await uow.vehicles.verified_drivers(stay.plate)
    if not drivers:
        return 0
    body = {
        "stay_ref": stay.ref,
        "plate": stay.plate,
        "place": await uow.city.place_name(stay.berth_id, stay.lot_id),
        "entered_at": stay.entered_at.isoformat(),
        "entered_at_local": stay.entered_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
    }
    for driver_id in drivers:
        notice = NotificationRow(
            driver_id=driver_id,
            kind=STAY_OPENED,
            reference=stay.ref,
            body=body,
            created_at=clock.now(),
        )
        await uow.onstreet.queue_notification(notice)
    return len(drivers)


async def record_grants(
    uow: UnitOfWork, clock: Clock, driver_id: int, accepted: Sequence[str], known: Sequence[str]
) -> list[SubscribeGrantRow]:
    """Count the templates the driver accepted in wx.requestSubscribeMessage (one each)."""
    for template_id in dict.fromkeys(t for t in accepted if t in known):
        grant = await uow.vehicles.grant(driver_id, template_id)
        if grant is None:
            grant = SubscribeGrantRow(
                driver_id=driver_id, template_id=template_id, remaining=0, updated_at=clock.now()
            )
            await uow.vehicles.add_grant(grant)
        grant.remaining = min(grant.remaining + 1, MAX_GRANTS_PER_TEMPLATE)
        grant.updated_at = clock.now()
    await uow.commit()
    return await uow.vehicles.grants(driver_id)


async def deliver_notices(
    uows: Uows,
    clock: Clock,
    notifier: DriverNotifier | None,
    sms: SmsSender,
    setup: NoticeSetup,
    *,
    limit: int = 50,
) -> list[Delivery]:
    """Send waiting notices: a subscribe message when an authorisation is left, else an SMS."""
    async with uows() as uow:
        kinds = sorted(set(setup.templates) | set(setup.sms_templates))
        pending = [n.id for n in await uow.vehicles.pending_notices(kinds, limit)]
    done = []
    for notice_id in pending:
        delivery = await _deliver_one(uows, clock, notifier, sms, setup, notice_id)
        if delivery is not None:
            done.append(delivery)
    return done


async def _deliver_one(
    uows: Uows,
    clock: Clock,
    notifier: DriverNotifier | None,
    sms: SmsSender,
    setup: NoticeSetup,
    notice_id: int,
) -> Delivery | None:
    # The notice is marked sent and the authorisation spent before WeChat is called: a crash
    # in between loses one notice, but never sends one twice or without an authorisation.
    async with uows() as uow:
        notice = await uow.vehicles.notice(notice_id, for_update=True)
        if notice is None or notice.sent_at is not None:
            return None
        template_id = setup.templates.get(notice.kind)
        grant = await uow.vehicles.grant(notice.driver_id, template_id) if template_id else None
        openid = await uow.drivers.openid(notice.driver_id, setup.appid)
        subscribe = notifier is not None and grant is not None and grant.remaining > 0
        if subscribe and openid is not None and grant is not None:
            grant.remaining -= 1
            grant.updated_at = clock.now()
        else:
            subscribe = False
        notice.sent_at = clock.now()
        phone = await uow.vehicles.phone(notice.driver_id)
        kind, body, driver_id = notice.kind, dict(notice.body), notice.driver_id
        await uow.commit()
    fields = notice_fields(kind, body)
    channel, note = "none", "no authorisation and no phone"
    if subscribe and notifier is not None and openid is not None:
        message = DriverMessage(setup.appid, openid, kind, fields, setup.page)
        if await notifier.notify(message):
            channel, note = "subscribe", ""
        else:
            note = "subscribe message refused"
    if channel == "none" and phone and kind in setup.sms_templates:
        if await sms.send(SmsMessage(phone, setup.sms_templates[kind], fields)):
            channel, note = "sms", ""
        else:
            note = "sms refused"
    async with uows() as uow:
        row = NoticeDeliveryRow(
            notification_id=notice_id, channel=channel, note=note or None, at=clock.now()
        )
        uow.vehicles.add_delivery(row)
        await uow.commit()
    log.info("notice %s to driver %s: %s %s", notice_id, driver_id, channel, note)
    return Delivery(notice_id, channel)
