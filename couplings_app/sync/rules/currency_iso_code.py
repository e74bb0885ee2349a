"""Currencies are coupled by ISO code (seeds: "Only currencies that have a standard ISO code will
be coupled and synchronized with transaction currencies").

The coupling by ISO code itself is data: the CURRENCY mapping in mappings_app/defaults.py matches
`code` to `isocurrencycode` (upper case) before it creates a transaction currency. This module
refuses a currency whose code is not an ISO 4217 code.
"""

from couplings_app.sync.rules.registry import register
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem

APPLIES_TO = ("erp_app.currency", "transactioncurrency")


@register("check_local", *APPLIES_TO, Direction.TO_CRM)
def currency_needs_iso_code(run, record) -> None:
    """Refuses a currency without a standard ISO 4217 code."""
    if not record.has_iso_code:
        raise ValueProblem(
            f"Currency {record.code} has no standard ISO 4217 code (three capital letters), so "
            "it is not coupled to a CRM transaction currency. Change its code to an ISO code to "
            "synchronize it.")
