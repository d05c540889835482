"""Shopify's parent-transaction model: a refund's money goes back through the order's
original transactions, each tender naming the transaction it reverses."""

from __future__ import annotations

from collections.abc import Callable

from returnbridge.connectors.base.connector import RefundCommand, SuggestedRefund, TenderCommand


def needs_parent_transactions(command: RefundCommand) -> bool:
    """True when some tender has no original payment to go back to yet."""
    return any(not t.parent_id and t.method != "store_credit" for t in command.tenders)


def with_suggested_tenders(command: RefundCommand, suggested: SuggestedRefund) -> RefundCommand:
    """Fill parent transactions from the platform's suggestion where our tenders lack them.

    Our amounts stay authoritative: each of our tenders takes the next suggested parent with
    room for it; a single suggested parent takes all of them.
    """
    if not needs_parent_transactions(command):
        return command
    parents = [t for t in suggested.tenders if t.parent_id]
    if not parents:
        return command
    filled: list[TenderCommand] = []
    for index, tender in enumerate(command.tenders):
        if tender.parent_id or tender.method == "store_credit":
            filled.append(tender)
            continue
        parent = parents[min(index, len(parents) - 1)]
        filled.append(
            tender.model_copy(update={"parent_id": parent.parent_id, "gateway": parent.gateway})
        )
    return command.model_copy(update={"tenders": tuple(filled)})


def with_parents(
    command: RefundCommand, suggest: Callable[[RefundCommand], SuggestedRefund]
) -> RefundCommand:
    """The command with every tender's parent transaction, asking `suggest` only if needed."""
    if not needs_parent_transactions(command):
        return command
    return with_suggested_tenders(command, suggest(command))
