"""A price list item's unit is the one unit of its item's unit group (what a field mapping cannot
say: UNIT OF MEASURE couples groups, and each group holds exactly one unit — unit_group.py).

Applies to the SALESPRC-PRODUCTPRICE mapping's creates; the unit is read once per unit per run.
"""

from couplings_app.models import Coupling
from couplings_app.sync.rules.registry import register
from couplings_app.sync.rules.steps import units_of
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem

APPLIES_TO = ("erp_app.salesprice", "productpricelevel")


@register("complete_payload", *APPLIES_TO, Direction.TO_CRM)
def unit_of_price_list_item(run, record, values: dict, create: bool) -> None:
    if not create:
        return
    unit = record.unit_of_measure or record.item.base_unit_of_measure
    if unit is None:
        raise ValueProblem(f"{run.local_label(record)}: neither the price nor its item has a unit "
                           "of measure.")
    cache = run.__dict__.setdefault("unit_of_group", {})
    if unit.pk not in cache:
        coupling = Coupling.objects.filter(local_model="erp_app.unitofmeasure", local_id=unit.pk,
                                           remote_entity="uomschedule",
                                           pending_create=False).first()
        units = units_of(run, [str(coupling.remote_id)]) if coupling else {}
        found = next(iter(units.values()), [])
        cache[unit.pk] = found[0]["uomid"] if found else None
    if cache[unit.pk] is None:
        raise ValueProblem(f"{run.local_label(record)}: unit of measure {unit.code} has no CRM "
                           "unit. Synchronize the UNIT OF MEASURE mapping first.")
    values["uomid@odata.bind"] = f"/uoms({cache[unit.pk]})"
