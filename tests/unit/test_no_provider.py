"""Without a register or SMS provider the centre refuses plainly; the stand-ins only by choice."""

from __future__ import annotations

import pytest

from adapters.no_provider import NoLicenceRegister, NoSms
from config.settings import Settings
from core.notices import APPEAL_OUTCOME, ARREARS_REMINDER, STAY_FEE, STAY_OPENED, SmsMessage
from core.plates import parse_plate
from core.vehicles import LicenceCheckUnavailableError, LicenceClaim
from sandbox.driver_services import SandboxRegister, SandboxSms
from server.driver_features import licence_register, notice_setup, sms_sender

CLAIM = LicenceClaim(parse_plate("浙B12345"), "LSVAU218XN2183294", "李雷")


async def test_production_without_providers_refuses_checks_and_sends_no_text() -> None:
    settings = Settings(wechat_sandbox=False)
    register, sms = licence_register(settings), sms_sender(settings)
    assert isinstance(register, NoLicenceRegister) and isinstance(sms, NoSms)
    with pytest.raises(LicenceCheckUnavailableError) as refused:
        await register.verify(CLAIM)  # even the demo plate: no register answers here
    assert (refused.value.status, refused.value.code) == (503, "licence_check_unavailable")
    assert await sms.send(SmsMessage("13800138000", "SMS_FEE_0001", {})) is False
    assert notice_setup(settings).sms_templates == {}  # so no notice tries a text


async def test_the_stand_ins_answer_in_the_sandbox_or_when_chosen() -> None:
    sandbox = Settings(wechat_sandbox=True)
    assert isinstance(licence_register(sandbox), SandboxRegister)
    assert await licence_register(sandbox).verify(CLAIM) is True
    assert isinstance(sms_sender(sandbox), SandboxSms) and notice_setup(sandbox).sms_templates
    kinds = {STAY_OPENED, STAY_FEE, ARREARS_REMINDER, APPEAL_OUTCOME}
    assert kinds == set(notice_setup(sandbox).templates)
    chosen = Settings(wechat_sandbox=False, sms_provider="sandbox", licence_register="none")
    assert isinstance(sms_sender(chosen), SandboxSms)
    assert isinstance(licence_register(chosen), NoLicenceRegister)
