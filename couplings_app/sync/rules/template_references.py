"""A CRM config template's references (Int. Tbl. Config Template of any mapping): a lookup given
by an id is bound as it is; one given by the ERP record's code or number (CUSTPRCGRP-PRICE's
`transactioncurrencyid: "USD"`) is bound to that record's coupled CRM record, or the run stops
saying which mapping to synchronize first. Applies to every mapping, once per run.
"""

from couplings_app.models import Coupling
from couplings_app.sync.lookups import bind_name
from couplings_app.sync.rules.registry import RuleStopped
from dataverse.values import is_guid
from mappings_app import metadata
from mappings_app.models import TableMapping
from mappings_app.validation import LOOKUP, REMOTE_KINDS


def remote_template(run) -> dict:
    """The mapping's CRM template with lookups as @odata.bind (once per run)."""
    values = {}
    for name, value in (run.mapping.remote_template or {}).items():
        attribute = run.attributes.get(name)
        if attribute is None or REMOTE_KINDS.get(attribute["type"]) != LOOKUP or value is None:
            values[name] = value
            continue
        target = (attribute.get("targets") or [None])[0]
        if is_guid(str(value)):
            entity_set = metadata.entity(target).entity_set
            values[f"{bind_name(attribute, target)}@odata.bind"] = f"/{entity_set}({value})"
            continue
        mapping = TableMapping.objects.filter(remote_entity=target).first()
        model = mapping.local_model_class if mapping else None
        key = next((k for k in ("code", "no") if model and hasattr(model, k)), None)
        local = model._default_manager.filter(**{key: value}).first() if key else None
        coupling = Coupling.objects.filter(
            local_model=mapping.local_model, local_id=local.pk, remote_entity=target,
            pending_create=False).first() if local else None
        if coupling is None:
            raise RuleStopped(
                f"The {run.mapping.name} mapping's CRM template sets {name} to {value!r}, which "
                f"is not coupled to a CRM {target}. Synchronize "
                f"{mapping.name if mapping else 'its mapping'} first.")
        values[f"{bind_name(attribute, target)}@odata.bind"] = \
            f"/{mapping.remote_entity_set}({coupling.remote_id})"
    return values
