"""The salesperson must be coupled to a user first (seeds: "Before a customer can be synchronized
to an account, the salesperson that is assigned to customer must be coupled to a user").

Not a hook: it is the rule of every reference a field mapping translates through another
mapping's couplings (a customer's salesperson ↔ the account's ownerid through SALESPEOPLE, a
contact's customer ↔ parentcustomerid through CUSTOMER), both ways. The one decision is
`mappings_app.values.uncoupled_reference`: the record fails, saying which record to couple first
through which mapping, unless the field mapping's Clear Value on Failed Sync clears the value.
The couplings are loaded once per page by couplings_app/sync/lookups.py. This module names the
rule, so that it is found by its file name, and says which field mappings it applies to.
"""

from mappings_app.values import uncoupled_reference

__all__ = ["applies_to", "uncoupled_reference"]

SALESPEOPLE_ENTITY = "systemuser"


def applies_to(field_mapping) -> bool:
    """The field mapping translates a salesperson through the couplings of salespeople to CRM
    users (the seeds' rule; every other Lookup Through field mapping follows the same one)."""
    target = field_mapping.lookup_mapping
    return target is not None and target.remote_entity == SALESPEOPLE_ENTITY
