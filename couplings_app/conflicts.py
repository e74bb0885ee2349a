"""Conflicts (BC's Coupled Data Synchronization Errors → a record changed on both sides): both
versions of a coupled pair field by field, and ending the conflict by taking one side's version
of every field or of the chosen ones."""

from dataclasses import dataclass

from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.compare import remote_stamp, same
from couplings_app.sync.convert import conversion, crm_values
from couplings_app.sync.runner import synchronize_records
from mappings_app.choices import Direction
from mappings_app.validation import resolve_local_field


@dataclass
class FieldVersion:
    name: str  # the ERP field's attname
    caption: str
    remote_attribute: str
    local: object
    remote: object
    differs: bool


def compare(coupling, *, client):
    """Both versions of a coupled pair, field by field (the bidirectional field mappings: the
    ones a conflict is about), in the ERP's terms. Returns (record, row, [FieldVersion])."""
    mapping = coupling.mapping
    model = mapping.local_model_class
    record = model._default_manager.filter(pk=coupling.local_id).first()
    from_run = conversion(mapping, client, Direction.FROM_CRM)
    row = client.get_many(mapping.remote_entity_set, mapping.remote_key,
                          [str(coupling.remote_id)], select=from_run.remote_select())
    row = next(iter(row.values()), None)
    if record is None or row is None:
        return record, row, []
    values = crm_values(from_run, row)
    versions = []
    for fm in from_run.bidirectional:
        if not fm.local_field or "." in fm.local_field:
            continue
        field, _ = resolve_local_field(model, fm.local_field)
        name = field.attname
        if name not in values:
            continue
        ours, theirs = getattr(record, name), values[name]
        if field.is_relation:
            related = field.related_model._default_manager.in_bulk(
                [v for v in (ours, theirs) if v is not None])
            shown = (related.get(ours, ours), related.get(theirs, theirs))
        else:
            shown = (ours, theirs)
        versions.append(FieldVersion(name=name, caption=str(field.verbose_name),
                                     remote_attribute=fm.remote_attribute, local=shown[0],
                                     remote=shown[1], differs=not same(ours, theirs)))
    return record, row, versions


def resolve_conflict(coupling, side, fields=None, *, client, user=None) -> SyncJob | None:
    """Ends a conflict. `side` "local" takes the ERP's version, "remote" the CRM's — of every
    field, or of `fields` only (the others take the other side's). The chosen values are written
    where they are missing, through the engine, and the coupling is no longer skipped."""
    mapping = coupling.mapping
    record, row, versions = compare(coupling, client=client)
    if record is None or row is None:
        raise ValueError("One of the two records no longer exists: use Restore Records or "
                         "Delete Records instead.")
    other = "remote" if side == "local" else "local"
    chosen = {v.name: (side if fields is None or v.name in fields else other) for v in versions}
    job = None
    if all(s == "remote" for s in chosen.values()) and Direction.FROM_CRM in mapping.runs:
        # The CRM's version, whole: the ERP record counts as unchanged, so no conflict remains.
        Coupling.objects.filter(pk=coupling.pk).update(local_modified_at=record.modified_at)
        job = synchronize_records(mapping, Direction.FROM_CRM, client=client,
                                  remote_ids=[coupling.remote_id], user=user)
    else:
        take = [v for v in versions if chosen[v.name] == "remote" and v.differs]
        if take:
            values = crm_values(conversion(mapping, client, Direction.FROM_CRM), row)
            for version in take:
                setattr(record, version.name, values[version.name])
            record.save()
        # The CRM's version counts as seen, so the ERP's (now merged) version is sent.
        Coupling.objects.filter(pk=coupling.pk).update(
            remote_modified_at=remote_stamp(row, mapping.remote_modified_attribute))
        if Direction.TO_CRM in mapping.runs:
            job = synchronize_records(mapping, Direction.TO_CRM, client=client,
                                      local_ids=[record.pk], user=user)
    if job is None or not job.failed:
        Coupling.objects.filter(pk=coupling.pk).update(skipped=False, conflict_local=None,
                                                       conflict_remote=None, last_error="")
    return job
