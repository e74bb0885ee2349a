"""The seeds' rules that go beyond field mappings, per kind of mapping.

- Currencies couple by ISO code: a currency without a standard ISO code is reported, not synced.
- A contact synchronizes only when its company stands for a customer (the CRM's parent account):
  one whose company has no customer is reported and nothing is created.
- A unit of measure becomes a unit group holding exactly one unit.
- Synchronizing items creates (once) the CRM price list they need; products are added to it.
Each hook costs a constant number of requests per page.
"""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import Q

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from couplings_app.sync.bulk import bulk_insert
from dataverse import BatchOperation
from dataverse.errors import DuplicateRecord, NotFound
from mappings_app.choices import Direction
from mappings_app.defaults import ITEMS_PRICE_LIST_ID
from mappings_app.models import Connection, TableMapping
from mappings_app.values import ValueProblem

ITEMS_PRICE_LIST_NAME = "Business Central items"


class RuleStopped(Exception):
    """A rule that cannot go on for the whole run (the message says which and what to do)."""


def _is(run, model: str, entity: str) -> bool:
    return run.mapping.local_model == model and run.entity == entity


def check_local(run, record) -> None:
    """Refuses an ERP record a rule excludes, with the reason (counted Failed, logged)."""
    if _is(run, "erp_app.currency", "transactioncurrency") and not record.has_iso_code:
        raise ValueProblem(
            f"Currency {record.code} has no standard ISO 4217 code (three capital letters), so "
            "it is not coupled to a CRM transaction currency. Change its code to an ISO code to "
            "synchronize it.")
    if _is(run, "erp_app.contact", "contact") and _maps_parent_account(run):
        company = record.company
        if company is None or company.customer_id is None:
            which = f"its company {company.no} ({company.name})" if company else "it has no company"
            raise ValueProblem(
                f"{run.local_label(record)}: {which} is not linked to a customer (business "
                "relation), so the contact has no parent account in the CRM and is not "
                "synchronized: contacts synchronize only when they are assigned to a company of a "
                "customer. Link the company to a customer, or assign the contact to one that is.")


def _maps_parent_account(run) -> bool:
    return any(fm.local_field == "company.customer" and fm.remote_attribute == "parentcustomerid"
               for fm in run.fields)


def before_run(run) -> None:
    if run.direction == Direction.TO_CRM and _is(run, "erp_app.item", "product"):
        run.price_list_id = ensure_items_price_list(run)


def after_page(run, page) -> None:
    if run.direction == Direction.FROM_CRM:
        if _is(run, "erp_app.customer", "account"):
            company_contacts_for_new_customers(run, getattr(run, "created_ids", []))
        return
    if _is(run, "erp_app.unitofmeasure", "uomschedule"):
        if couplings := _needing_rules(run, page):
            _each_or_retried(run, page, couplings, ensure_one_unit,
                             "creating the unit of its unit group")
    elif _is(run, "erp_app.item", "product"):
        if couplings := _needing_rules(run, page):
            _each_or_retried(run, page, couplings, add_to_price_list,
                             "adding its product to the items' price list")


def _needing_rules(run, page) -> list[Coupling]:
    """The page's couplings made by this job, those made since the last run that finished (a
    fault may have stopped that run before this step, or its create was confirmed only now), and
    those retried because a step failed for them. The steps are idempotent: doing one again
    costs a request; skipping one loses it for good."""
    couplings = Coupling.objects.filter(
        local_model=run.mapping.local_model, remote_entity=run.entity,
        local_id__in=[r.pk for r in page], pending_create=False)
    since = run.mapping.local_synced_until
    if since is not None:
        couplings = couplings.filter(Q(last_job_to_crm=run.job, created_at__gte=run.job.started_at)
                                     | Q(created_at__gt=since)
                                     | Q(local_id__in=_retried_of(run, page)))
    return list(couplings)


def _retried_of(run, page) -> list[int]:
    """The page's records that are retried: never the list of every failed record of the table
    (it may hold more ids than a query takes parameters)."""
    retrying = getattr(run, "retrying", ())
    return [r.pk for r in page if r.pk in retrying]


def _each_or_retried(run, page, couplings, step, what) -> None:
    """Runs a rule's step; a record it fails for is marked failed, so that the next run retries
    it (an unchanged record is not read again otherwise), and its error is logged. If the CRM
    stops answering, every record of the step is marked so before the job stops."""
    try:
        failed = step(run, couplings)
    except Exception as exc:
        problem = f"{what} stopped, as the CRM did not answer: {exc}."
        _mark_failed(run, page, [(c, problem) for c in couplings])
        raise
    _mark_failed(run, page, failed)


def _mark_failed(run, page, failed) -> None:
    records = {r.pk: r for r in page}
    for coupling, problem in failed:
        record = records.get(coupling.local_id)
        label = run.local_label(record) if record is not None else str(coupling.local_id)
        message = f"{label}: {problem} It is retried with the next run."
        Coupling.objects.filter(pk=coupling.pk).update(
            last_result_to_crm=SyncResult.FAILURE, last_error=message[:2000])
        run.fail(message, local_id=coupling.local_id, local_label=label,
                 remote_id=str(coupling.remote_id))


def _units_of(run, group_ids) -> dict[str, list[dict]]:
    units = {str(g).lower(): [] for g in group_ids}
    if not group_ids:
        return units
    values = ",".join(f"'{g}'" for g in group_ids)
    query = (f"Microsoft.Dynamics.CRM.In(PropertyName='_uomscheduleid_value',"
             f"PropertyValues=[{values}])")
    for page in run.client.iter_pages("uoms", select=["uomid", "name", "_uomscheduleid_value"],
                                      filter=query):
        for row in page:
            units.setdefault(str(row["_uomscheduleid_value"]).lower(), []).append(row)
    return units


def ensure_one_unit(run, couplings) -> list[tuple[Coupling, str]]:
    """A unit group holds exactly one unit, named by the unit of measure's code. Returns the
    couplings it failed for, with why."""
    groups = [str(c.remote_id) for c in couplings]
    existing = _units_of(run, groups)
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


def ensure_items_price_list(run) -> str:
    """The price list products of items go on, created once (its id is fixed)."""
    client = run.client
    try:
        client.get("pricelevels", str(ITEMS_PRICE_LIST_ID), select=["pricelevelid"])
        return str(ITEMS_PRICE_LIST_ID)
    except NotFound:
        pass
    lcy = Connection.get().local_currency_code
    currency = TableMapping.objects.filter(remote_entity="transactioncurrency").first()
    coupling = Coupling.objects.filter(
        local_model="erp_app.currency", remote_entity="transactioncurrency",
        local_id__in=_currency_ids(lcy), pending_create=False).first()
    if coupling is None:
        name = currency.name if currency else "CURRENCY"
        raise RuleStopped(f"The items' price list needs the local currency {lcy} coupled to a CRM "
                         f"currency. Synchronize the {name} mapping first.")
    client.create("pricelevels", {
        "name": ITEMS_PRICE_LIST_NAME,
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({coupling.remote_id})",
    }, id=str(ITEMS_PRICE_LIST_ID), key="pricelevelid")
    return str(ITEMS_PRICE_LIST_ID)


def _currency_ids(code):
    from erp_app.models import Currency

    return list(Currency.objects.filter(code=code).values_list("pk", flat=True))


def add_to_price_list(run, couplings) -> list[tuple[Coupling, str]]:
    """Each new product gets an item on the items' price list, in its unit group's unit.
    Returns the couplings it failed for, with why."""
    products = run.client.get_many("products", "productid", [str(c.remote_id) for c in couplings],
                                   select=["productid", "price", "_defaultuomscheduleid_value",
                                           "_createdby_value"])
    if run.integration_user:  # the sync's own products; one coupled by matching keeps its lists
        products = {k: p for k, p in products.items()
                    if str(p.get("_createdby_value")).lower() == run.integration_user.lower()}
    groups = {str(p.get("_defaultuomscheduleid_value")).lower() for p in products.values()
              if p.get("_defaultuomscheduleid_value")}
    units = _units_of(run, sorted(groups))
    by_product = {str(c.remote_id).lower(): c for c in couplings}
    operations, owners, failed = [], [], []
    for product_id, product in products.items():
        group_units = units.get(str(product.get("_defaultuomscheduleid_value")).lower()) or []
        if not group_units:
            failed.append((by_product[product_id.lower()],
                           f"its product {product_id} has no unit, so it is not on the items' "
                           "price list: synchronize UNIT OF MEASURE."))
            continue
        owners.append(by_product[product_id.lower()])
        operations.append(BatchOperation("POST", "productpricelevels", key="productpricelevelid",
                                         id=str(uuid.uuid5(uuid.UUID(product_id), "price")), data={
            "pricelevelid@odata.bind": f"/pricelevels({run.price_list_id})",
            "productid@odata.bind": f"/products({product_id})",
            "uomid@odata.bind": f"/uoms({group_units[0]['uomid']})",
            "amount": product.get("price") or 0,
        }))
    failed += [(coupling, f"its product could not be added to the items' price list: "
                          f"{result.error}.")
               for coupling, result in zip(owners, run.client.batch(operations), strict=True)
               if not result.ok and not isinstance(result.error, DuplicateRecord)]  # on it
    return failed


def remote_template(run) -> dict:
    """The mapping's CRM template with lookups as @odata.bind (once per run)."""
    from couplings_app.sync.lookups import bind_name
    from dataverse.values import is_guid
    from mappings_app import metadata
    from mappings_app.validation import LOOKUP, REMOTE_KINDS

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


def company_contacts_for_new_customers(run, created_ids) -> None:
    """BC creates a company contact (business relation) for each new customer; the CONTACT
    mapping translates a person's company through it."""
    from erp_app.choices import ContactType
    from erp_app.models import Contact

    if not created_ids:
        return
    customers = run.model._default_manager.filter(pk__in=created_ids).values(
        "pk", "no", "name", "address", "city", "post_code", "phone_no", "email",
        "country_region_code", "salesperson_id")
    contacts = {f"CT-{c['no']}"[:20]: Contact(
        no=f"CT-{c['no']}"[:20], type=ContactType.COMPANY, name=c["name"], customer_id=c["pk"],
        address=c["address"], city=c["city"], post_code=c["post_code"], phone_no=c["phone_no"],
        email=c["email"], country_region_code=c["country_region_code"],
        salesperson_id=c["salesperson_id"]) for c in customers}
    existing = set(Contact.objects.filter(no__in=list(contacts)).values_list("no", flat=True))
    new = [contact for no, contact in contacts.items() if no not in existing]
    try:
        with transaction.atomic():
            bulk_insert(Contact, new, keys=False)
    except IntegrityError:  # another process made one of them meanwhile: keep theirs
        Contact.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)


def complete_payload(run, record, values: dict, create: bool) -> None:
    """What a field mapping cannot say: a price list item's unit is the unit of its item's unit
    group (UNIT OF MEASURE couples groups, and each group holds exactly one unit)."""
    if not (create and _is(run, "erp_app.salesprice", "productpricelevel")):
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
        units = _units_of(run, [str(coupling.remote_id)]) if coupling else {}
        found = next(iter(units.values()), [])
        cache[unit.pk] = found[0]["uomid"] if found else None
    if cache[unit.pk] is None:
        raise ValueProblem(f"{run.local_label(record)}: unit of measure {unit.code} has no CRM "
                           "unit. Synchronize the UNIT OF MEASURE mapping first.")
    values["uomid@odata.bind"] = f"/uoms({cache[unit.pk]})"
