"""Staff routes that read the double-entry ledger."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from core.staff import Permission
from server.http import ApiRoutes, json_response
from server.resources import unit_of_work

routes = ApiRoutes("ops")


class PostingOut(BaseModel):
    """One line of a journal entry."""

    account: str
    debit_fen: int
    credit_fen: int


class EntryOut(BaseModel):
    """A journal entry with its postings."""

    id: int
    kind: str
    reference: str
    created_at: datetime
    postings: list[PostingOut]


class EntriesOut(BaseModel):
    """Entries posted for one reference."""

    reference: str
    entries: list[EntryOut]


class BalanceOut(BaseModel):
    """An account's balance in fen (debits minus credits)."""

    account: str
    balance_fen: int


@routes.route(
    "GET",
    "/ledger/entries/{reference}",
    "Journal entries of a stay or payment",
    response=EntriesOut,
    permission=Permission.LEDGER_READ,
)
async def list_entries(request: web.Request, _: None) -> web.Response:
    """List the entries posted for one reference."""
    reference = request.match_info["reference"]
    async with unit_of_work(request) as uow:
        found = await uow.ledger.entries_for(reference)
    entries = [
        EntryOut(
            id=entry.id,
            kind=entry.kind,
            reference=entry.reference,
            created_at=entry.created_at,
            postings=[
                PostingOut(account=p.account, debit_fen=p.debit_fen, credit_fen=p.credit_fen)
                for p in postings
            ],
        )
        for entry, postings in found
    ]
    return json_response(EntriesOut(reference=reference, entries=entries))


@routes.route(
    "GET",
    "/ledger/accounts/{account}",
    "Balance of one ledger account",
    response=BalanceOut,
    permission=Permission.LEDGER_READ,
)
async def show_balance(request: web.Request, _: None) -> web.Response:
    """Show one account's balance."""
    account = request.match_info["account"]
    async with unit_of_work(request) as uow:
        balance = await uow.ledger.balance_fen(account)
    return json_response(BalanceOut(account=account, balance_fen=balance))
