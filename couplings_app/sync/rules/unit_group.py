"""A unit of measure becomes a unit group holding exactly one unit (seeds: "There can be only one
unit of measure defined in the unit group").

The UNIT OF MEASURE mapping (mappings_app/defaults.py) couples units of measure to unit groups;
after each page this module creates, once, the group's one unit, named by the unit's code.
"""

import uuid

from couplings_app.models import Coupling
from couplings_app.sync.rules.registry import register
from couplings_app.sync.rules.steps import each_or_retried, units_of
from dataverse import BatchOperation
from dataverse.errors import DuplicateRecord
from mappings_app.choices import Direction

APPLIES_TO = ("erp_app.unitofmeasure", "uomschedule")


@register("after_page", *APPLIES_TO, Direction.TO_CRM)
def one_unit_per_group(run, page) -> None:
    each_or_retried(run, page, ensure_one_unit, "creating the unit of its unit group")


def ensure_one_unit(run, couplings) -> list[tuple[Coupling, str]]:
    """A unit group holds exactly one unit, named by the unit of measure's code. Returns the
    couplings it failed for, with why."""
    groups = [str(c.remote_id) for c in couplings]
    existing = units_of(run, groups)
    records = run.model._default_manager.in_bulk([c.local_id for c in couplings])
    operations, owners = [], []
    for coupling in couplings:
        group = str(coupling.remote_id).lower()
        record = records.get(coupling.local_id)
        if record is None or existing.get(group):
            continue
        operations.append(BatchOperation("POST", "uoms", id=str(uuid.uuid5(coupling.remote_id,
                                                                           "base-unit")),
                                         key="uomid", data={
            "name": record.code, "quantity": 1,
            "uomscheduleid@odata.bind": f"/uomschedules({group})"}))
        owners.append(coupling)
    return [(coupling, f"the unit of its unit group could not be created: {result.error}.")
            for coupling, result in zip(owners, run.client.batch(operations), strict=True)
            if not result.ok and not isinstance(result.error, DuplicateRecord)]
