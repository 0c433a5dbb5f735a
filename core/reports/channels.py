"""How ledger entries map to the reports' channels and flows (one place for the rule)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How money for parking came in; pass and top-up sales are channels of their own."""

    SCAN = "scan"  # the driver's scan or a cashier's payment-code read (WeChat Pay)
    AUTO_DEDUCT = "auto_deduct"  # 无感支付
    CASH = "cash"
    STORED_VALUE = "stored_value"  # a stay paid from a stored-value card
    ARREARS = "arrears_recovered"  # an on-street stay paid on a later day than it ended
    PASS = "pass"
    TOP_UP = "top_up"
    WAIVER = "waiver"


class Flow(StrEnum):
    """Which way an entry moves money: in, back to the payer, forgone, or earned from deferral."""

    COLLECTED = "collected"
    REFUNDED = "refunded"
    WAIVED = "waived"
    RECOGNISED = "recognised"


CHANNEL_ZH = {
    Channel.SCAN: "扫码支付",
    Channel.AUTO_DEDUCT: "无感支付",
    Channel.CASH: "现金",
    Channel.STORED_VALUE: "储值卡",
    Channel.ARREARS: "欠费追缴",
    Channel.PASS: "月卡",
    Channel.TOP_UP: "储值充值",
    Channel.WAIVER: "减免",
}

# Stay revenue by channel, in the order the revenue report's columns show them.
STAY_CHANNELS = (
    Channel.SCAN,
    Channel.AUTO_DEDUCT,
    Channel.CASH,
    Channel.STORED_VALUE,
    Channel.ARREARS,
    Channel.PASS,
)

AUTO_DEDUCT_PAYMENTS = ("wechat_parking",)

FLOW_OF_ENTRY = {
    "payment_settled": Flow.COLLECTED,
    "cash_received": Flow.COLLECTED,
    "stored_value_spent": Flow.COLLECTED,
    "pass_sold": Flow.COLLECTED,
    "stored_value_topped_up": Flow.COLLECTED,
    "payment_refunded": Flow.REFUNDED,
    "pass_refunded": Flow.REFUNDED,
    "stored_value_refunded": Flow.REFUNDED,
    "fee_waived": Flow.WAIVED,
    "pass_revenue_recognised": Flow.RECOGNISED,
}

# Entries whose channel follows from their kind alone (payments' depends on the payment).
CHANNEL_OF_ENTRY = {
    "cash_received": Channel.CASH,
    "stored_value_spent": Channel.STORED_VALUE,
    "fee_waived": Channel.WAIVER,
    "pass_sold": Channel.PASS,
    "pass_refunded": Channel.PASS,
    "stored_value_topped_up": Channel.TOP_UP,
    "stored_value_refunded": Channel.TOP_UP,
}
