"""Items go on the items' price list (seeds: "When synchronizing items with Dynamics 365 Sales
products, Business Central automatically creates a price list").

Before a run of ITEM-PRODUCT to the CRM the price list is created once (its id is fixed:
mappings_app.defaults.ITEMS_PRICE_LIST_ID, which POSTEDSALESINV-INV's CRM template names too);
after each page the products the sync created are added to it, in their unit group's unit.
"""

import uuid

from couplings_app.models import Coupling
from couplings_app.sync.rules.registry import RuleStopped, register
from couplings_app.sync.rules.steps import each_or_retried, units_of
from dataverse import BatchOperation
from dataverse.errors import DuplicateRecord, NotFound
from mappings_app.choices import Direction
from mappings_app.defaults import ITEMS_PRICE_LIST_ID
from mappings_app.models import Connection, TableMapping

APPLIES_TO = ("erp_app.item", "product")
ITEMS_PRICE_LIST_NAME = "Business Central items"


@register("before_run", *APPLIES_TO, Direction.TO_CRM)
def price_list_first(run) -> None:
    run.price_list_id = ensure_items_price_list(run)


@register("after_page", *APPLIES_TO, Direction.TO_CRM)
def products_on_price_list(run, page) -> None:
    each_or_retried(run, page, add_to_price_list, "adding its product to the items' price list")


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
    units = units_of(run, sorted(groups))
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
