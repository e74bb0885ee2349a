"""What a coupling is, as every page says it (Coupled, Not created yet, a deleted side), and the
addresses of a record on both sides."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from couplings_app.models import Coupling
from mappings_app.models import Connection, TableMapping
from mappings_app.values import record_key


# --- addresses of both sides --------------------------------------------------------------------
def local_url(local_model: str, local_id) -> str | None:
    """The ERP page of a record, from its model label ("erp_app.customer") and id."""
    if not local_model or local_id is None:
        return None
    app_label, _, model_name = local_model.partition(".")
    if app_label != "erp_app":
        return None
    try:
        return reverse("erp:detail", kwargs={"model": model_name, "pk": local_id})
    except NoReverseMatch:
        return None


def crm_url(entity_set: str, remote_id, connection: Connection | None = None) -> str | None:
    """The CRM's page of a record: the embedded CRM's browse page, or Dynamics' main.aspx."""
    if not entity_set or not remote_id:
        return None
    connection = connection or Connection.get()
    if connection.is_embedded:
        return reverse("crm_emulator:browse_edit",
                       kwargs={"set_name": entity_set, "rowid": remote_id})
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(connection.service_root))
    entity = TableMapping.objects.filter(remote_entity_set=entity_set) \
        .values_list("remote_entity", flat=True).first() or entity_set
    return f"{origin}/main.aspx?pagetype=entityrecord&etn={entity}&id={remote_id}"


# --- what a coupling is, as every page says it -----------------------------------------------
@dataclass(frozen=True)
class CouplingState:
    """The one answer every page gives about a record's coupling: what it reads, its colour,
    and whether the CRM record may be linked (it exists, as far as the log knows)."""

    key: str
    label: str
    color: str
    links_crm: bool
    links_erp: bool = True
    title: str = ""

    @property
    def coupled(self) -> bool:
        return self.key != NOT_COUPLED

    def __str__(self):
        return self.label


NOT_COUPLED, COUPLED, NOT_CREATED, CRM_DELETED, ERP_DELETED = (
    "none", "coupled", "pending", "crm_deleted", "erp_deleted")
STATES = {
    NOT_COUPLED: CouplingState(NOT_COUPLED, "Not coupled", "light", links_crm=False),
    COUPLED: CouplingState(COUPLED, "Coupled", "success", links_crm=True),
    NOT_CREATED: CouplingState(
        NOT_CREATED, "Not created yet", "secondary", links_crm=False,
        title="The CRM record was to be created with the next run: its creation failed or was "
              "never confirmed. It does not exist in the CRM yet."),
    CRM_DELETED: CouplingState(
        CRM_DELETED, "CRM record deleted", "warning", links_crm=False,
        title="The coupled CRM record was deleted. Restore it, delete this record too, or "
              "delete the coupling (Coupled Data Synchronization Errors)."),
    ERP_DELETED: CouplingState(
        ERP_DELETED, "ERP record deleted", "warning", links_crm=True, links_erp=False,
        title="The coupled ERP record was deleted. Restore it, delete the CRM record too, or "
              "delete the coupling (Coupled Data Synchronization Errors)."),
}
# The choices of the pages' state filters, in the order they are offered.
STATE_CHOICES = [(key, STATES[key].label) for key in
                 (COUPLED, NOT_CREATED, CRM_DELETED, ERP_DELETED, NOT_COUPLED)]


def coupling_state(coupling=None, *, exists=None, pending=False, deleted_side="") -> CouplingState:
    """The state of a coupling (a Coupling, or the fields of one a list annotated: `exists`,
    `pending`, `deleted_side`). None, or exists=False, is "Not coupled". A coupling whose CRM
    record was never created (pending_create: the id was chosen before sending) is "Not created
    yet", never "Coupled"; one whose counterpart is known deleted says which side."""
    if coupling is not None:
        exists, pending, deleted_side = True, coupling.pending_create, coupling.deleted_side
    if not exists:
        return STATES[NOT_COUPLED]
    if pending:
        return STATES[NOT_CREATED]
    if deleted_side == "remote":
        return STATES[CRM_DELETED]
    if deleted_side == "local":
        return STATES[ERP_DELETED]
    return STATES[COUPLED]


def state_q(key: str, prefix: str = "") -> Q:
    """The couplings in a state, as a filter on Coupling (or on a relation to it: `prefix`)."""
    def q(**kw):
        return Q(**{prefix + k: v for k, v in kw.items()})

    if key == NOT_CREATED:
        return q(pending_create=True)
    if key == CRM_DELETED:
        return q(pending_create=False, deleted_side="remote")
    if key == ERP_DELETED:
        return q(pending_create=False, deleted_side="local")
    if key == COUPLED:
        return q(pending_create=False, deleted_side="")
    raise ValueError(key)


def coupling_crm_url(coupling, connection: Connection | None = None) -> str | None:
    """The CRM page of a coupled record: None unless the record exists there (as far as known)."""
    if coupling is None or not coupling_state(coupling).links_crm or coupling.mapping_id is None:
        return None
    return crm_url(coupling.mapping.remote_entity_set, coupling.remote_id, connection)


def mappings_of(model) -> list[TableMapping]:
    return list(TableMapping.objects.filter(local_model=model._meta.label_lower)
                .order_by("priority", "name"))


def coupling_of(mapping, record) -> Coupling | None:
    return Coupling.objects.filter(local_model=mapping.local_model, local_id=record.pk,
                                   remote_entity=mapping.remote_entity).first()


def label(record) -> str:
    return f"{str(record._meta.verbose_name).capitalize()} {record_key(record)}"
